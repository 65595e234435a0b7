import { mkdtemp, rm } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import * as Either from "fp-ts/lib/Either.js"
import { describe, expect, it } from "vitest"
import * as Account from "../../examples/bank/Account.js"
import * as Codecs from "../../examples/composition/Codecs.js"
import * as Loyalty from "../../examples/composition/Loyalty.js"
import { runExample } from "./run.js"

const example = "examples/composition.ts"
const at = { streamId: "x-1", version: 1 }

describe("codecs for composed deciders", () => {
  const member = Codecs.either(Account.codec, Loyalty.codec)
  const deposited: Account.Event = { type: "MoneyDeposited", data: { amount: 100, description: "salary" } }
  const earned: Loyalty.Event = { type: "PointsEarned", data: { points: 5, reason: "welcome" } }

  it("stores each side's events under their own names and reads each back on its side", () => {
    for (const event of [deposited, earned]) {
      const encoded = member.codec.encode(event)
      if (Either.isLeft(encoded)) throw encoded.left
      expect(encoded.right.type).toBe(event.type)
      expect(member.codec.decode({ ...at, type: encoded.right.type, schemaVersion: encoded.right.schemaVersion, data: event.data }))
        .toEqual(Either.right(event))
    }
    expect(member.mapping.from(deposited)).toEqual(Either.left(deposited))
    expect(member.mapping.from(earned)).toEqual(Either.right(earned))
    expect(member.mapping.to(Either.right(earned))).toEqual(earned)
  })

  it("refuses two sides that read the same event type name", () => {
    expect(() => Codecs.either(Account.codec, Account.codec)).toThrow(/both sides read the event types AccountOpened/)
  })

  it("stores an addressed event around the inner payload and upcasts it with the inner codec's upcasters", () => {
    const branch = Codecs.addressed(Account.codec)
    expect(branch.encode({ id: "ada", value: deposited }))
      .toEqual(Either.right({ type: "MoneyDeposited", schemaVersion: 2, data: { id: "ada", data: deposited.data } }))
    expect(branch.decode({ ...at, type: "MoneyDeposited", schemaVersion: 1, data: { id: "ada", data: { amount: 700 } } }))
      .toEqual(Either.right({ id: "ada", value: { type: "MoneyDeposited", data: { amount: 700, description: "" } } }))
  })

  it("reports a stored payload without an address as a payload that does not decode", () => {
    const decoded = Codecs.addressed(Account.codec).decode({ ...at, type: "MoneyDeposited", schemaVersion: 2, data: { amount: 700 } })
    expect(Either.isLeft(decoded) && decoded.left._tag).toBe("PayloadDecodeFailed")
  })
})

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
