/**
 * Every example runs on PostgreSQL with `--store postgres://…`, and a second run continues
 * the first one's history (each example in its own schema of one fresh database).
 */
import { expect, it } from "vitest"
import { survivesKills } from "../examples/fulfilment.js"
import { runExample } from "../examples/run.js"
import { postgresSuite } from "./server.js"

postgresSuite("examples on PostgreSQL", (database) => {
  const twice = async (example: string): Promise<readonly [string, string]> => {
    const first = await runExample(example, ["--store", database.url()])
    const second = await runExample(example, ["--store", database.url()])
    return [first, second]
  }

  it("bank-account continues its history", async () => {
    const [first, second] = await twice("examples/bank-account.ts")
    expect(first).toContain("bank account example on the PostgreSQL (schema bank_account) store\n0 account events from earlier runs")
    expect(first).toContain("  ada  Ada     85.50 open")
    expect(second).toContain("9 account events from earlier runs")
    expect(second).toContain("  ada  Ada     81.00 open")
    expect(second).toContain("    v6 withdrawal    40.00 rent")
    expect(second).toContain("replay matches the balances read model: true")
  }, 120_000)

  it("composition continues its history and the composites still agree with their parts", async () => {
    const [first, second] = await twice("examples/composition.ts")
    expect(first).toContain("0 member and branch events from earlier runs")
    expect(second).toContain("9 member and branch events from earlier runs")
    expect(second).toContain("  = account open, Ada, balance 150.00; card 100 points (version 9)")
    expect(second.match(/: true$/gm)).toHaveLength(5)
    expect(second).not.toContain(": false")
  }, 120_000)

  it("order-processing numbers a second run's orders after the first's", async () => {
    const [first, second] = await twice("examples/order-processing.ts")
    expect(first).toContain("0 order events from earlier runs (0 orders)")
    expect(first).toContain("  phone  appends at expected version 2: WrongExpectedVersion")
    expect(second).toContain("27 order events from earlier runs (5 orders)")
    expect(second).toContain("    1010  bob  completed   12.50")
    expect(second).toContain("    beans    Coffee beans    6 sold   75.00\n    grinder  Grinder         2 sold   90.00")
    // History queries pushed into SQL: this run's payments, and one request's events.
    expect(second).toMatch(/  payments \(by type\):\n +\d+  order-1006 v7  OrderPaid\n +\d+  order-1007 v5  OrderPaid\n  order events/)
    expect(second).toContain("  order events (by category): 22\n")
    expect(second).toMatch(/checkout-1007 caused \(by correlation id\):\n +\d+  order-1007 v4  OrderSubmitted\n +\d+  order-1007 v5  OrderPaid\n  recorded/)
    expect(second).toContain("until order 1006 was submitted (by time range): 6 events, of order-1006\n")
  }, 120_000)

  it("training-plan finds its commands already handled on a second run", async () => {
    const [first, second] = await twice("examples/training-plan.ts")
    expect(first).toContain("plan ada-spring-2025: no plan (version 0)")
    expect(second).toContain('> schedule "Tempo" (45 min) on 2025-03-05\n  already handled by an earlier run: nothing appended')
    expect(second).toContain('Plan "Spring marathon" for ada, 2025-01-06 to 2025-03-30 (version 11)')
  }, 120_000)

  it("order-fulfilment killed mid-way and run again (twice) finishes without doing anything twice", async () => {
    const first = await survivesKills(["--store", database.url()])
    expect(first).toContain("order fulfilment example on the PostgreSQL (schema order_fulfilment) store")
  }, 120_000)
})
