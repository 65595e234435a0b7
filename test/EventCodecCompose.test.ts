import * as Either from "fp-ts/lib/Either.js"
import { describe, expect, it } from "vitest"
import { EventCodec } from "es-kernel"
import * as Account from "../examples/bank/Account.js"
import * as Loyalty from "../examples/composition/Loyalty.js"

const at = { streamId: "x-1", version: 1 }

describe("codecs for composed deciders", () => {
  const member = EventCodec.either(Account.codec, Loyalty.codec)
  const { mapping } = member
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
    expect(mapping.from(deposited)).toEqual(Either.left(deposited))
    expect(mapping.from(earned)).toEqual(Either.right(earned))
    expect(mapping.to(Either.right(earned))).toEqual(earned)
    expect(member.codec.storedTypes).toEqual([...Account.codec.storedTypes, ...Loyalty.codec.storedTypes])
  })

  it("refuses two sides that read the same event type name", () => {
    expect(() => EventCodec.either(Account.codec, Account.codec)).toThrow(/both sides read the event types AccountOpened/)
  })

  it("stores an addressed event around the inner payload and upcasts it with the inner codec's upcasters", () => {
    const branch = EventCodec.addressed(Account.codec)
    expect(branch.encode({ id: "ada", value: deposited }))
      .toEqual(Either.right({ type: "MoneyDeposited", schemaVersion: 2, data: { id: "ada", data: deposited.data } }))
    expect(branch.decode({ ...at, type: "MoneyDeposited", schemaVersion: 1, data: { id: "ada", data: { amount: 700 } } }))
      .toEqual(Either.right({ id: "ada", value: { type: "MoneyDeposited", data: { amount: 700, description: "" } } }))
  })

  it("reports a stored payload without an address as a payload that does not decode", () => {
    const decoded = EventCodec.addressed(Account.codec).decode({ ...at, type: "MoneyDeposited", schemaVersion: 2, data: { amount: 700 } })
    expect(Either.isLeft(decoded) && decoded.left._tag).toBe("PayloadDecodeFailed")
  })
})
