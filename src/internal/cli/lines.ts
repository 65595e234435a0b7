/**
 * The lines of a file or of standard input, read in large chunks and handed on as arrays
 * of lines, so that a command reading millions of lines (import) pays for each chunk,
 * not for each line.
 *
 * @internal
 */
import { isAscii } from "node:buffer"
import { createReadStream } from "node:fs"
import * as fs from "node:fs/promises"
import { Effect, Stream } from "effect"
import { CliError, exitCodes } from "./command.js"

/** The lines of an input, with its size when known and how many bytes were read so far. @internal */
export interface Lines {
  /** Arrays of complete lines, in order, without their line breaks (`\n`, or `\r\n`). */
  readonly stream: Stream.Stream<ReadonlyArray<string>, CliError>
  /** The input's size in bytes, when it is a file. */
  readonly total: number | undefined
  readonly bytesRead: () => number
}

const chunkBytes = 64 * 1024

/**
 * Splits UTF-8 chunks into lines: a line's bytes may be cut anywhere between chunks
 * (inside a character too), and the last line needs no final line break. Each chunk is
 * cut at its last line break and decoded up to it in one go (the byte 0x0A is never part
 * of another UTF-8 character); the bytes after it wait for the next chunk.
 *
 * @internal
 */
export class LineSplitter {
  private rest: Array<Buffer> = []

  /** The lines the chunk completes. */
  push(chunk: Buffer): Array<string> {
    const lastBreak = chunk.lastIndexOf(newline)
    if (lastBreak === -1) {
      this.rest.push(chunk)
      return []
    }
    const head = chunk.subarray(0, lastBreak)
    const bytes = this.rest.length === 0 ? head : Buffer.concat([...this.rest, head])
    this.rest = lastBreak + 1 < chunk.length ? [chunk.subarray(lastBreak + 1)] : []
    return withoutReturns(decode(bytes).split("\n"))
  }

  /** The last line, when the input does not end with a line break. */
  end(): Array<string> {
    const bytes = Buffer.concat(this.rest)
    this.rest = []
    return bytes.length === 0 ? [] : withoutReturns([decode(bytes)])
  }
}

// ASCII (what `export` writes) needs no UTF-8 decoding: its bytes are its characters.
const decode = (bytes: Buffer): string => isAscii(bytes) ? bytes.toString("latin1") : bytes.toString("utf8")

const newline = 0x0a
const carriageReturn = 0x0d

// Lines that ended with "\r\n" lose their "\r".
const withoutReturns = (lines: Array<string>): Array<string> => {
  for (let index = 0; index < lines.length; index++) {
    const line = lines[index]
    if (line !== undefined && line.charCodeAt(line.length - 1) === carriageReturn) lines[index] = line.slice(0, -1)
  }
  return lines
}

const readFailed = (input: string | undefined) => (cause: unknown) =>
  new CliError({ exitCode: exitCodes.unavailable, reason: `reading ${input ?? "standard input"}: ${String(cause)}` })

/**
 * The lines of `input` (a file's path), or of standard input. The file is opened when
 * the stream starts and closed when it ends, however it ends.
 *
 * @internal
 */
export const lines = (input: string | undefined): Effect.Effect<Lines, CliError> =>
  Effect.gen(function*() {
    const total = input === undefined ? undefined : yield* Effect.tryPromise({
      try: () => fs.stat(input).then((stats) => stats.size),
      catch: readFailed(input)
    })
    let bytesRead = 0
    const stream = Stream.suspend(() => {
      const source = input === undefined ? process.stdin : createReadStream(input, { highWaterMark: chunkBytes })
      const splitter = new LineSplitter()
      const chunks = Stream.fromAsyncIterable(source, readFailed(input)).pipe(
        Stream.map((chunk: unknown): ReadonlyArray<string> => {
          const bytes = typeof chunk === "string" ? Buffer.from(chunk) : Buffer.isBuffer(chunk) ? chunk : Buffer.alloc(0)
          bytesRead += bytes.length
          return splitter.push(bytes)
        })
      )
      return Stream.concat(chunks, Stream.sync(() => splitter.end())).pipe(
        Stream.filter((batch) => batch.length > 0),
        Stream.ensuring(Effect.sync(() => source.destroy()))
      )
    })
    return { stream, total, bytesRead: () => bytesRead }
  })
