import { mkdtemp, rm } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { describe, expect, it } from "vitest"
import { example, settled, survivesKills } from "./fulfilment.js"
import { runExample } from "./run.js"

describe("order fulfilment example", () => {
  it("settles every order: confirmed, or compensated when the payment is declined or the stock runs out", async () => {
    const output = await runExample(example)
    expect(output).toContain("order fulfilment example on the memory store")
    expect(output).toContain(
      [
        "  → stock-grinder: reserve 1 for order 1002",
        "  → payment-1002: charge bob 45.00",
        "  → stock-grinder: release order 1002's stock",
        "  → order-1002: cancel (payment declined)",
        "  → stock-beans: reserve 10 for order 1003",
        "  → order-1003: cancel (out of stock)"
      ].join("\n")
    )
    expect(output).toContain(settled)
  })

  it("killed mid-way on a file store and run again (twice), it finishes without doing anything twice", async () => {
    const directory = await mkdtemp(join(tmpdir(), "es-kernel-fulfilment-"))
    try {
      await survivesKills(["--store", `file:${directory}`])
    } finally {
      await rm(directory, { recursive: true, force: true })
    }
  })
})
