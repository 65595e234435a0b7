import { describe, expect, it } from "vitest"
import { FastCheckUnavailable, loadOptional, need } from "../../src/internal/fastCheck.js"

// What Node's loader throws for a package that is not installed.
const notFound = (name: string): Error =>
  Object.assign(new Error(`Cannot find package '${name}' imported from /app/node_modules/es-kernel/dist/internal/fastCheck.js`), {
    code: "ERR_MODULE_NOT_FOUND"
  })

describe("the optional fast-check", () => {
  it("hands over a module that loaded", async () => {
    const loaded = await loadOptional(() => Promise.resolve({ answer: 42 }))
    expect(need("DeciderLaws", loaded)).toEqual({ answer: 42 })
  })

  it("says fast-check is not installed, and how to install it, when fast-check itself is missing", async () => {
    const missing = await loadOptional(() => Promise.reject(notFound("fast-check")))
    expect(() => need("CodecLaws", missing)).toThrow(FastCheckUnavailable)
    expect(() => need("CodecLaws", missing)).toThrow(
      "es-kernel/testing: CodecLaws needs fast-check, an optional peer dependency that is not installed. " +
        "Install it beside es-kernel: npm install --save-dev fast-check"
    )
  })

  it("reports any other failure as it is, not as a missing fast-check", async () => {
    const broken = await loadOptional(() => Promise.reject(notFound("pure-rand")))
    expect(() => need("StoreConformance", broken)).toThrow(
      "es-kernel/testing: StoreConformance could not load fast-check: Error: Cannot find package 'pure-rand'"
    )
  })
})
