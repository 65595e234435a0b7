import { mkdtemp, rm } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import * as fc from "fast-check"
import { describe, expect, it } from "vitest"
import { DeciderLaws, DeciderSpec } from "es-kernel/testing"
import * as Account from "../../examples/bank/Account.js"
import { runExample } from "./run.js"

const opened: Account.Event = { type: "AccountOpened", data: { owner: "Ada", initialBalance: 10_000 } }
const spec = DeciderSpec.forDecider(Account.decider)

describe("bank account", () => {
  it("opens with a non-negative initial balance", () => {
    spec.given().when({ type: "OpenAccount", owner: "Ada", initialBalance: 0 }).then([{ type: "AccountOpened", data: { owner: "Ada", initialBalance: 0 } }])
    spec.given().when({ type: "OpenAccount", owner: "Ada", initialBalance: -1 }).thenRejectedWith({ type: "NegativeInitialBalance", initialBalance: -1 })
  })

  it("rejects a withdrawal beyond the balance", () => {
    spec.given([opened]).when({ type: "Withdraw", amount: 10_001 }).thenRejectedWith({ type: "InsufficientFunds", balance: 10_000, amount: 10_001 })
  })

  it("rejects non-positive amounts and commands on an account that is not open", () => {
    spec.given([opened]).when({ type: "Deposit", amount: 0 }).thenRejectedWith({ type: "AmountNotPositive", amount: 0 })
    spec.given([opened]).when({ type: "Withdraw", amount: -5 }).thenRejectedWith({ type: "AmountNotPositive", amount: -5 })
    spec.given().when({ type: "Deposit", amount: 5 }).thenRejectedWith({ type: "AccountNotOpen" })
    spec.given([opened]).when({ type: "OpenAccount", owner: "Bob", initialBalance: 1 }).thenRejectedWith({ type: "AccountAlreadyOpen" })
  })

  it("closes only an empty account, and a closed account accepts nothing", () => {
    spec.given([opened]).when({ type: "CloseAccount", reason: "r" }).thenRejectedWith({ type: "BalanceNotZero", balance: 10_000 })
    const emptied: Account.Event = { type: "MoneyWithdrawn", data: { amount: 10_000, description: "" } }
    spec.given([opened, emptied]).when({ type: "CloseAccount", reason: "r" }).thenState({ status: "Closed", owner: "Ada" })
  })

  describe("obeys the decider laws", () => {
    // Round amounts as well as arbitrary ones, so balances do come back to zero and
    // accounts get closed: the terminal-state law needs closed accounts to check anything.
    const amount = fc.oneof(fc.constantFrom(0, 500, 1_000), fc.integer({ min: -1_000, max: 20_000 }))
    const command: fc.Arbitrary<Account.Command> = fc.oneof(
      fc.record({ type: fc.constant("OpenAccount" as const), owner: fc.constantFrom("Ada", "Bob"), initialBalance: amount }),
      fc.record({ type: fc.constant("Deposit" as const), amount }),
      fc.record({ type: fc.constant("Withdraw" as const), amount }),
      fc.record({ type: fc.constant("CloseAccount" as const), reason: fc.string() })
    )
    for (const law of DeciderLaws.laws(Account.decider, { commands: command })) it(law.name, law.check)
  })

  it("a closed account accepts nothing", () => {
    const emptied: Account.Event = { type: "MoneyWithdrawn", data: { amount: 10_000, description: "" } }
    const closed: Account.Event = { type: "AccountClosed", data: { reason: "r" } }
    spec.given([opened, emptied, closed]).when({ type: "Deposit", amount: 1 }).thenRejectedWith({ type: "AccountIsClosed" })
    spec.given([opened, emptied, closed]).when({ type: "OpenAccount", owner: "Ada", initialBalance: 1 }).thenRejectedWith({ type: "AccountIsClosed" })
  })

  it("example prints the trace with every rejection explained, the retry, the v1 upcast and the read models", async () => {
    const output = await runExample("examples/bank-account.ts")
    expect(output).toContain("bank account example on the memory store\n0 account events from earlier runs")
    expect(output).toContain("> ada: deposit 10.00\n  rejected: the account is not open")
    expect(output).toContain("> ada: open for Ada with -5.00\n  rejected: an initial balance cannot be negative (got -5.00)")
    expect(output).toContain("rejected: the account is already open")
    expect(output).toContain("rejected: the amount must be positive (got 0.00)")
    expect(output).toContain("rejected: the amount must be positive (got -1.00)")
    expect(output).toContain("rejected: insufficient funds: balance 125.50, asked for 500.00")
    expect(output).toContain('+ MoneyWithdrawn {"amount":4000,"description":"rent"}\n  = open, Ada, balance 85.50 (version 3)')
    expect(output).toContain("> cy: deposit 1.00\n  rejected: the account is closed")
    expect(output).toContain("already handled by an earlier run: nothing appended\n  = open, Bob, balance 20.00 (version 1)")
    expect(output).toContain('stored:  MoneyDeposited v1 {"amount":700}\n  read as: MoneyDeposited v2 {"amount":700,"description":""}')
    expect(output).toContain("  ada  Ada     85.50 open\n  cy   Cy       0.00 closed\n  bob  Bob     27.00 open")
    expect(output).toContain("    v2 deposit       25.50 salary\n    v3 withdrawal    40.00 rent")
    expect(output).toContain("replay matches the handler's state: true")
    expect(output).toContain("replay matches the balances read model: true")
  })

  it("example continues its history on a file store", async () => {
    const directory = await mkdtemp(join(tmpdir(), "es-kernel-bank-"))
    try {
      const first = await runExample("examples/bank-account.ts", ["--store", `file:${directory}`])
      expect(first).toContain("0 account events from earlier runs")
      expect(first).toContain("  ada  Ada     85.50 open")
      const second = await runExample("examples/bank-account.ts", ["--store", `file:${directory}`])
      expect(second).toContain("9 account events from earlier runs")
      expect(second).toContain("> ada: deposit 10.00\n  + MoneyDeposited")
      expect(second).toContain("  ada  Ada     81.00 open")
      expect(second).toContain("    v6 withdrawal    40.00 rent")
      expect(second).toContain("replay matches the balances read model: true")
    } finally {
      await rm(directory, { recursive: true, force: true })
    }
  })
})
