import { spawn } from "node:child_process"
import { mkdtemp, rm } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { describe, expect, it } from "vitest"
import { runExample } from "./run.js"

const example = "examples/order-fulfilment.ts"

const settled = [
  "== Orders",
  "  1001  confirmed",
  "  1002  cancelled (payment declined)",
  "  1003  cancelled (out of stock)",
  "  1004  confirmed",
  "== Stock",
  "  beans    8 on the shelf, reserved for 1001",
  "  grinder  0 on the shelf, reserved for 1004",
  "== Streams (every event once)",
  "  order-1001     OrderPlaced, OrderConfirmed",
  "  payment-1001   PaymentCharged",
  "  order-1002     OrderPlaced, OrderCancelled",
  "  payment-1002   (none)",
  "  order-1003     OrderPlaced, OrderCancelled",
  "  payment-1003   (none)",
  "  order-1004     OrderPlaced, OrderConfirmed",
  "  payment-1004   PaymentCharged",
  "  stock-beans    Restocked, StockReserved",
  "  stock-grinder  Restocked, StockReserved, StockReleased, StockReserved"
].join("\n")

/** Starts the example, waits until it has sent `sends` commands, then SIGKILLs it. */
const killAfter = (args: ReadonlyArray<string>, sends: number): Promise<string> =>
  new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--import", "tsx", example, ...args], { cwd: process.cwd(), stdio: ["ignore", "pipe", "inherit"] })
    let output = ""
    child.stdout.on("data", (data: Buffer) => {
      output += data.toString()
      if ((output.match(/ {2}→ /g) ?? []).length >= sends) child.kill("SIGKILL")
    })
    child.on("exit", (_code, signal) => signal === "SIGKILL" ? resolve(output) : reject(new Error(`the example ended before it was killed: ${output}`)))
  })

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
      const store = ["--store", `file:${directory}`]
      // Killed during the first order's saga, then during the second's compensation.
      const first = await killAfter([...store, "--pause-ms", "150"], 2)
      expect(first).toContain("process manager started")
      const second = await killAfter([...store, "--pause-ms", "150"], 6)
      expect(second).toContain("> order 1001: ada orders 2 × beans for 25.00 (placed by an earlier run)")
      const last = await runExample(example, store)
      expect(last).toContain(settled)
      // A run after everything settled changes nothing either.
      expect(await runExample(example, store)).toContain(settled)
    } finally {
      await rm(directory, { recursive: true, force: true })
    }
  })
})
