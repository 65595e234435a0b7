import { mkdtemp, rm } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { describe, expect, it } from "vitest"
import { runExample } from "./run.js"

const example = "examples/order-processing.ts"
const moment = "\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d\\.\\d{3}Z"

describe("order processing example", () => {
  it("prints the workflow with its rejections, the race, the history, time travel, the v1 upcast and the read models", async () => {
    const output = await runExample(example)
    expect(output).toContain("order processing example on the memory store\n0 order events from earlier runs (0 orders)")
    expect(output).toContain("> order 1001: add 1 × Mug (mug) at 9.00\n  rejected: mug is already in the order as Mug at 8.00; remove it first to change it")
    expect(output).toContain("> order 1001: remove 2 × grinder\n  rejected: the order has only 1 × grinder, cannot remove 2")
    expect(output).toContain("rejected: the payment must equal the total: paid 60.00, total 70.00")
    expect(output).toContain("= completed for ada: 70.00, shipped by DHL (JD1001) (version 8)\n> order 1001: cancel (changed mind)\n  rejected: the order is already completed")
    expect(output).toContain("> order 1002: pay 43.00 (payment pay-1002)\n  rejected: only a submitted order can be paid (it is still a draft)")
    expect(output).toContain("rejected: the order can no longer be changed (it is paid)")
    expect(output).toContain("= cancelled for bob, refund 43.00 (version 6)")
    expect(output).toContain("> order 1003: submit\n  rejected: an empty order cannot be submitted")
    expect(output).toContain("> order 1003: create for customer cy\n  rejected: the order already exists")

    expect(output).toContain(
      [
        "  laptop appends at expected version 2: appended, the order is at version 3",
        "  phone  appends at expected version 2: WrongExpectedVersion, the order is at version 3: the handler reloads and decides again",
        "  phone  appends at expected version 3: appended, the order is at version 4",
        "  phone  done at version 4",
        "  laptop done at version 3",
        "  both landed: draft for ada: 3 × Filter papers, 1 × Mug, total 20.00 (version 4)"
      ].join("\n")
    )

    const history = ["OrderCreated", "ItemAdded", "ItemAdded", "ItemAdded", "ItemRemoved", "OrderSubmitted", "OrderPaid", "OrderCompleted"]
      .map((type, index) => ` +${index + 1} +${index + 1}  ${type.padEnd(15)} v${type === "OrderCompleted" ? 2 : 1} +${moment}`)
    expect(output).toMatch(new RegExp(`== History of order 1001\n.*recorded at\n${history.join("\n")}\n`))

    expect(output).toMatch(/  payments \(by type\):\n +7  order-1001 v7  OrderPaid\n +13  order-1002 v5  OrderPaid\n/)
    expect(output).toContain("  order events (by category): 22\n")
    expect(output).toMatch(
      /everything the request checkout-1002 caused \(by correlation id\):\n +12  order-1002 v4  OrderSubmitted\n +13  order-1002 v5  OrderPaid\n/
    )
    expect(output).toContain("until order 1001 was submitted (by time range): 6 events, of order-1001\n")
    expect(output).toContain("  its events as of then: OrderCreated, ItemAdded, ItemAdded, ItemAdded, ItemRemoved, OrderSubmitted\n")
    expect(output).toContain("  at version 4: draft for ada: 2 × Coffee beans, 1 × Mug, 1 × Grinder, total 78.00\n")
    expect(output).toMatch(
      new RegExp(`  at ${moment}, just after it was submitted: submitted for ada: 2 × Coffee beans, 1 × Grinder, total 70.00 \\(version 6\\)\n`)
    )
    expect(output).toContain("  now: completed for ada: 70.00, shipped by DHL (JD1001) (version 8)")

    expect(output).toContain(
      '  stored:  OrderCompleted v1 {"at":"2024-11-05T09:30:00.000Z"}\n' +
        '  read as: OrderCompleted v2 {"at":"2024-11-05T09:30:00.000Z","shipment":null}\n' +
        "  order 1005: completed for bob: 12.50, shipment not recorded"
    )

    expect(output).toContain(
      [
        "    1001  ada  completed   70.00",
        "    1002  bob  cancelled   43.00",
        "    1003  cy   cancelled    8.00",
        "    1004  ada  submitted   20.00",
        "    1005  bob  completed   12.50"
      ].join("\n")
    )
    expect(output).toContain("    beans    Coffee beans    3 sold   37.50\n    grinder  Grinder         1 sold   45.00\n    kettle   Kettle          0 sold    0.00")
    expect(output).toContain("    ada  1001 completed, 1004 submitted\n    bob  1002 cancelled, 1005 completed\n    cy   1003 cancelled")
    expect(output).toContain("(read up to position 27)")
  })

  it("continues on a file store: a second run numbers its orders after the first's, and the read models count both", async () => {
    const directory = await mkdtemp(join(tmpdir(), "es-kernel-orders-"))
    try {
      const first = await runExample(example, ["--store", `file:${directory}`])
      expect(first).toContain("0 order events from earlier runs (0 orders)")
      expect(first).toContain("  phone  appends at expected version 2: WrongExpectedVersion")
      expect(first).toContain("    beans    Coffee beans    3 sold   37.50")
      const second = await runExample(example, ["--store", `file:${directory}`])
      expect(second).toContain("27 order events from earlier runs (5 orders)")
      expect(second).toContain("== Ada's order 1006: a cart, submitted, paid, completed")
      expect(second).toContain("  now: completed for ada: 70.00, shipped by DHL (JD1006) (version 8)")
      expect(second).toContain("  both landed: draft for ada: 3 × Filter papers, 1 × Mug, total 20.00 (version 4)")
      expect(second).toContain("    1001  ada  completed   70.00")
      expect(second).toContain("    1010  bob  completed   12.50")
      expect(second).toContain("    beans    Coffee beans    6 sold   75.00\n    grinder  Grinder         2 sold   90.00")
      expect(second).toContain("    ada  1001 completed, 1004 submitted, 1006 completed, 1009 submitted")
      expect(second).toContain("(read up to position 54)")
      // Queries over this run only, by its time range; the correlation id is this run's own.
      expect(second).toMatch(/  payments \(by type\):\n +34  order-1006 v7  OrderPaid\n +40  order-1007 v5  OrderPaid\n/)
      expect(second).toContain("  order events (by category): 22\n")
      expect(second).toMatch(/checkout-1007 caused \(by correlation id\):\n +39  order-1007 v4  OrderSubmitted\n +40  order-1007 v5  OrderPaid\n/)
    } finally {
      await rm(directory, { recursive: true, force: true })
    }
  })
})
