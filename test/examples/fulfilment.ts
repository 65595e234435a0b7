// The order fulfilment example's settled output, and a run of it killed mid-way: shared by
// the memory and file tests here and the PostgreSQL one.
import { spawn } from "node:child_process"
import { expect } from "vitest"
import { runExample } from "./run.js"

export const example = "examples/order-fulfilment.ts"

export const settled = [
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
export const killAfter = (args: ReadonlyArray<string>, sends: number): Promise<string> =>
  new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--import", "tsx", example, ...args], { cwd: process.cwd(), stdio: ["ignore", "pipe", "inherit"] })
    let output = ""
    child.stdout.on("data", (data: Buffer) => {
      output += data.toString()
      if ((output.match(/ {2}→ /g) ?? []).length >= sends) child.kill("SIGKILL")
    })
    child.on("exit", (_code, signal) => signal === "SIGKILL" ? resolve(output) : reject(new Error(`the example ended before it was killed: ${output}`)))
  })

/**
 * Kills the example on `store` during the first order's saga, then during the second's
 * compensation, runs it to the end, and once more: every order settles, nothing twice.
 * Returns the first run's output.
 */
export const survivesKills = async (store: ReadonlyArray<string>): Promise<string> => {
  const first = await killAfter([...store, "--pause-ms", "150"], 2)
  expect(first).toContain("process manager started")
  const second = await killAfter([...store, "--pause-ms", "150"], 6)
  expect(second).toContain("> order 1001: ada orders 2 × beans for 25.00 (placed by an earlier run)")
  expect(await runExample(example, store)).toContain(settled)
  // A run after everything settled changes nothing either.
  expect(await runExample(example, store)).toContain(settled)
  return first
}
