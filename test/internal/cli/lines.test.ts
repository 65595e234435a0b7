// The line splitter behind `import`: whatever the text (any unicode, CRLF or LF, with or
// without a final line break) and wherever the input is cut into chunks — inside a
// character too —, the lines come out as the text holds them.
import { fc, it } from "@fast-check/vitest"
import { describe, expect } from "vitest"
import { LineSplitter } from "../../../src/internal/cli/lines.js"

const loneSurrogate = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g

// Lines as a file holds them: no "\n" inside (a "\r" inside is kept; a final one is the
// CRLF's), in any characters, lone surrogates written as U+FFFD the way UTF-8 carries them.
const line = fc.string({ unit: fc.oneof(fc.constantFrom("a", "{", "\"", "\r", "ü", "€", "😀", "\u0000"), fc.string({ unit: "grapheme" })) })
  .map((text) => text.replaceAll("\n", "").replace(/\r+$/, "").replace(loneSurrogate, "\ufffd"))

const split = (bytes: Buffer, cuts: ReadonlyArray<number>): Array<string> => {
  const splitter = new LineSplitter()
  const out: Array<string> = []
  let start = 0
  for (const cut of [...cuts].sort((a, b) => a - b)) {
    out.push(...splitter.push(bytes.subarray(start, cut)))
    start = cut
  }
  out.push(...splitter.push(bytes.subarray(start)), ...splitter.end())
  return out
}

describe("LineSplitter", () => {
  it.prop([fc.array(line, { minLength: 1, maxLength: 30 }), fc.boolean(), fc.boolean(), fc.array(fc.nat(), { maxLength: 12 })])(
    "gives back every line, however the bytes are cut",
    (lines, crlf, finalBreak, cutSeeds) => {
      const text = lines.join(crlf ? "\r\n" : "\n") + (finalBreak ? (crlf ? "\r\n" : "\n") : "")
      const bytes = Buffer.from(text, "utf8")
      const cuts = cutSeeds.map((seed) => seed % (bytes.length + 1))
      const expected = finalBreak || lines.at(-1) !== "" ? lines : lines.slice(0, -1)
      expect(split(bytes, cuts)).toEqual(expected)
    }
  )

  it("reads ASCII and UTF-8 chunks alike, and a chunk with no line break at all", () => {
    const splitter = new LineSplitter()
    expect(splitter.push(Buffer.from("{\"a\":\"\\u00fc\"}\n{\"b\":"))).toEqual(["{\"a\":\"\\u00fc\"}"])
    expect(splitter.push(Buffer.from("\"ü"))).toEqual([])
    expect(splitter.push(Buffer.from("€\"}\r\n"))).toEqual(["{\"b\":\"ü€\"}"])
    expect(splitter.end()).toEqual([])
  })

  it("keeps a line of many megabytes whole", () => {
    const big = "x".repeat(3 * 1024 * 1024)
    const bytes = Buffer.from(`${big}ü\n`)
    expect(split(bytes, [1, 1024 * 1024, 2 * 1024 * 1024, bytes.length - 2])).toEqual([`${big}ü`])
  })
})
