import { mkdtemp, rm } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { describe, expect, it } from "vitest"
import { runExample } from "./run.js"

const example = "examples/composition.ts"

describe("composition example", () => {
  it("runs the composite and the fleet next to their parts, and prints that they agree", async () => {
    const output = await runExample(example)
    expect(output).toContain("composition example on the memory store\n0 member and branch events from earlier runs")
    expect(output).toContain("> ada loyalty: redeem 500 points for a mug\n  rejected by the loyalty card: not enough points: 100, asked for 500")
    expect(output).toContain("> ada account: withdraw 500.00 (a boat)\n  rejected by the account: insufficient funds: balance 125.00, asked for 500.00")
    expect(output).toContain('  + PointsRedeemed {"points":75,"reward":"a coffee"}\n  = account open, Ada, balance 125.00; card 50 points (version 5)')
    expect(output).toContain(
      "  member-ada holds both sides' events, in one version sequence: AccountOpened, PointsEarned, MoneyDeposited, PointsEarned, PointsRedeemed"
    )
    expect(output).toContain(
      [
        "  memberAccount-ada  open, Ada, balance 125.00 (version 2)",
        "  memberLoyalty-ada  50 points (version 3)",
        "  the parts accepted and rejected the same commands as the composite: true",
        "  the composite's state is the pair of its parts' states: true",
        "  the composite's version is the sum of theirs: true"
      ].join("\n")
    )
    expect(output).toContain("> lyon/bob: withdraw 30.00 (rent)\n  rejected: insufficient funds: balance 10.00, asked for 30.00")
    expect(output).toContain("> lyon/cy: deposit 1.00\n  rejected: the account is not open")
    expect(output).toContain('  stored as: MoneyWithdrawn v1 {"id":"bob","data":{"amount":400,"description":"groceries"}}')
    expect(output).toContain(
      [
        "  branchAccount-lyon.ada open, Ada, balance 60.00 (version 2)",
        "  branchAccount-lyon.bob open, Bob, balance 6.00 (version 2)",
        "  the accounts alone accepted and rejected the same commands as the fleet: true",
        "  each account's state in the fleet is its state alone: true"
      ].join("\n")
    )
  })

  it("continues on a file store, and the composites still agree with their parts", async () => {
    const directory = await mkdtemp(join(tmpdir(), "es-kernel-composition-"))
    try {
      const first = await runExample(example, ["--store", `file:${directory}`])
      expect(first).toContain("0 member and branch events from earlier runs")
      expect(first).toContain("  memberLoyalty-ada  50 points (version 3)")
      const second = await runExample(example, ["--store", `file:${directory}`])
      expect(second).toContain("9 member and branch events from earlier runs")
      expect(second).toContain("> ada account: open for Ada with 100.00\n  rejected by the account: the account is already open")
      expect(second).toContain("  = account open, Ada, balance 150.00; card 100 points (version 9)")
      expect(second).toContain("  memberAccount-ada  open, Ada, balance 150.00 (version 3)\n  memberLoyalty-ada  100 points (version 6)")
      expect(second).toContain("  = ada: open, Ada, balance 70.00 (branch version 5)")
      expect(second).toContain("  branchAccount-lyon.bob open, Bob, balance 2.00 (version 3)")
      expect(second.match(/: true$/gm)).toHaveLength(5)
      expect(second).not.toContain(": false")
    } finally {
      await rm(directory, { recursive: true, force: true })
    }
  })
})
