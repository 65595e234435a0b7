import { Schema } from "effect"
import * as fc from "fast-check"
import * as Either from "fp-ts/lib/Either.js"
import * as t from "io-ts"
import { describe, expect, it } from "vitest"
import * as EventCodec from "../src/EventCodec.js"
import type { Json } from "../src/EventStore.js"
import * as CodecLaws from "../src/testing/CodecLaws.js"
import * as Upcaster from "../src/Upcaster.js"

// ---------------------------------------------------------------------------
// An account's events, in all three kinds of payload codec
// ---------------------------------------------------------------------------

/** An io-ts codec whose domain type (a Date) differs from its stored form (an ISO string). */
const DateFromISOString = new t.Type<Date, string, unknown>(
  "DateFromISOString",
  (u): u is Date => u instanceof Date && !Number.isNaN(u.getTime()),
  (u, context) => {
    if (typeof u !== "string") return t.failure(u, context)
    const date = new Date(u)
    return Number.isNaN(date.getTime()) ? t.failure(u, context) : t.success(date)
  },
  (date) => date.toISOString()
)

const MoneyDepositedV1 = t.type({ amount: t.number })
const MoneyDeposited = t.type({ amount: t.number, currency: t.string })

const registry = {
  AccountOpened: EventCodec.io(t.type({ owner: t.string, initialBalance: t.number, openedAt: DateFromISOString })),
  MoneyDeposited: EventCodec.io(MoneyDeposited, {
    version: 2,
    upcast: { 1: Upcaster.io(MoneyDepositedV1, (v1) => ({ ...v1, currency: "EUR" })) }
  }),
  MoneyWithdrawn: EventCodec.schema(Schema.Struct({ amount: Schema.Number, reference: Schema.NumberFromString }))
}
const codec = EventCodec.make(registry)
type AccountEvent = EventCodec.Event<typeof codec>

// JSON has no -0: adding 0 turns it into 0, as a store would.
const finite = fc.double({ noNaN: true, noDefaultInfinity: true }).map((n) => n + 0)
const arbitraries = {
  AccountOpened: fc.record({
    owner: fc.string(),
    initialBalance: finite,
    openedAt: fc.date({ noInvalidDate: true, min: new Date(0), max: new Date(8_640_000_000_000) })
  }),
  MoneyDeposited: fc.record({ amount: finite, currency: fc.string() }),
  MoneyWithdrawn: fc.record({ amount: finite, reference: fc.integer() })
}
const events: fc.Arbitrary<AccountEvent> = fc.oneof(
  arbitraries.AccountOpened.map((data) => ({ type: "AccountOpened" as const, data })),
  arbitraries.MoneyDeposited.map((data) => ({ type: "MoneyDeposited" as const, data })),
  arbitraries.MoneyWithdrawn.map((data) => ({ type: "MoneyWithdrawn" as const, data }))
)

/** What a store hands back: the encoded event, its payload turned into JSON text and parsed. */
const record = (encoded: EventCodec.EncodedEvent, version = 1): EventCodec.StoredEvent => {
  const data: Json = JSON.parse(JSON.stringify(encoded.data))
  return { streamId: "account-1", version, type: encoded.type, schemaVersion: encoded.schemaVersion, data }
}

const encodeOrThrow = (event: AccountEvent): EventCodec.EncodedEvent => {
  const encoded = codec.encode(event)
  if (Either.isLeft(encoded)) throw encoded.left
  return encoded.right
}

const stored = (type: string, schemaVersion: number, data: Json): EventCodec.StoredEvent => ({
  streamId: "account-7",
  version: 3,
  type,
  schemaVersion,
  data
})

const isJsonObject = (payload: Json): payload is { readonly [key: string]: Json } =>
  typeof payload === "object" && payload !== null && !Array.isArray(payload)

const leftOf = <E, A>(result: Either.Either<E, A>): E => {
  if (Either.isRight(result)) throw new Error(`expected a Left, got ${JSON.stringify(result.right)}`)
  return result.left
}

const rightOf = <E, A>(result: Either.Either<E, A>): A => {
  if (Either.isLeft(result)) throw new Error(`expected a Right, got ${String(result.left)}`)
  return result.right
}

// ---------------------------------------------------------------------------

describe("EventCodec", () => {
  describe("properties", () => {
    it("decodes what it encodes back to the same event, through JSON", () => {
      fc.assert(
        fc.property(events, (event) => {
          const decoded = rightOf(codec.decode(record(encodeOrThrow(event))))
          expect(decoded).toEqual(event)
        }),
        { numRuns: 300 }
      )
    })

    it("writes every event at its type's current schema version", () => {
      const current = { AccountOpened: 1, MoneyDeposited: 2, MoneyWithdrawn: 1 }
      fc.assert(
        fc.property(events, (event) => {
          const encoded = encodeOrThrow(event)
          expect(encoded.type).toBe(event.type)
          expect(encoded.schemaVersion).toBe(current[event.type])
        }),
        { numRuns: 200 }
      )
    })

    it("gives the same result when decoding twice and leaves the stored payload byte-identical", () => {
      fc.assert(
        fc.property(events, (event) => {
          const recorded = record(encodeOrThrow(event))
          const before = JSON.stringify(recorded)
          const first = codec.decode(recorded)
          const second = codec.decode(recorded)
          expect(second).toEqual(first)
          expect(JSON.stringify(recorded)).toBe(before)
        }),
        { numRuns: 200 }
      )
    })

    it("stores io-ts and Effect Schema payloads in their encoded form", () => {
      fc.assert(
        fc.property(arbitraries.AccountOpened, arbitraries.MoneyWithdrawn, (opened, withdrawn) => {
          const openedData = encodeOrThrow({ type: "AccountOpened", data: opened }).data
          expect(openedData).toEqual({ ...opened, openedAt: opened.openedAt.toISOString() })
          const withdrawnData = encodeOrThrow({ type: "MoneyWithdrawn", data: withdrawn }).data
          expect(withdrawnData).toEqual({ amount: withdrawn.amount, reference: String(withdrawn.reference) })
        }),
        { numRuns: 200 }
      )
    })
  })

  describe("typed errors", () => {
    it("names the stream, version, type and schema version of a payload that does not decode", () => {
      const error = leftOf(codec.decode(stored("MoneyDeposited", 2, { amount: "ten", currency: "EUR" })))
      expect(error).toBeInstanceOf(EventCodec.PayloadDecodeFailed)
      expect(error).toMatchObject({
        _tag: "PayloadDecodeFailed",
        streamId: "account-7",
        version: 3,
        type: "MoneyDeposited",
        schemaVersion: 2,
        at: { type: "MoneyDeposited", schemaVersion: 2 }
      })
      expect(error.message).toContain("amount")
      expect(error.message).toContain("stream \"account-7\" version 3")
    })

    it("reports a payload that fails the current codec after upcasting at the current version", () => {
      const error = leftOf(codec.decode(stored("MoneyDeposited", 1, { amount: null })))
      expect(error).toMatchObject({ _tag: "PayloadDecodeFailed", schemaVersion: 1, at: { schemaVersion: 1 } })
    })

    it("refuses a schema version newer than the code knows", () => {
      const error = leftOf(codec.decode(stored("MoneyDeposited", 3, { amount: 1, currency: "EUR", memo: "x" })))
      expect(error).toMatchObject({
        _tag: "SchemaVersionTooNew",
        streamId: "account-7",
        version: 3,
        type: "MoneyDeposited",
        schemaVersion: 3,
        currentVersion: 2
      })
    })

    it("fails on an unknown event type under the default policy, naming the known ones", () => {
      const error = leftOf(codec.decode(stored("AccountFrozen", 1, {})))
      expect(error).toBeInstanceOf(EventCodec.UnknownEventType)
      expect(error).toMatchObject({ _tag: "UnknownEventType", streamId: "account-7", version: 3, type: "AccountFrozen" })
      expect(error.message).toContain("MoneyDeposited")
    })

    it("refuses to encode a payload its codec does not recognise, so nothing unreadable is written", () => {
      const fromUntypedCode: AccountEvent = JSON.parse(`{ "type": "MoneyDeposited", "data": { "amount": "10" } }`)
      const error = leftOf(codec.encode(fromUntypedCode))
      expect(error).toMatchObject({ _tag: "EncodeFailed", type: "MoneyDeposited", schemaVersion: 2 })
    })

    it("refuses to encode an event whose type is not in the registry", () => {
      const fromUntypedCode: AccountEvent = JSON.parse(`{ "type": "AccountFrozen", "data": {} }`)
      expect(leftOf(codec.encode(fromUntypedCode))).toMatchObject({ _tag: "EncodeFailed", type: "AccountFrozen" })
    })
  })

  describe("unknown event types", () => {
    const skipping = EventCodec.make(registry, { unknownTypes: "skip" })

    it("skips an unknown type under the skip policy and says which event it skipped", () => {
      const decoded = rightOf(skipping.decode(stored("AccountFrozen", 4, { until: "tomorrow" })))
      expect(EventCodec.isSkipped(decoded)).toBe(true)
      expect(decoded).toEqual({ _tag: "Skipped", streamId: "account-7", version: 3, type: "AccountFrozen", schemaVersion: 4 })
    })

    it("lets a replay under the skip policy count what it skipped and fold the rest", () => {
      const history = [
        record(encodeOrThrow({ type: "MoneyDeposited", data: { amount: 5, currency: "EUR" } }), 1),
        stored("AccountFrozen", 1, {}),
        record(encodeOrThrow({ type: "MoneyDeposited", data: { amount: 7, currency: "EUR" } }), 3)
      ]
      let skipped = 0
      let total = 0
      for (const recorded of history) {
        const decoded = rightOf(skipping.decode(recorded))
        if (EventCodec.isSkipped(decoded)) skipped++
        else if (decoded.type === "MoneyDeposited") total += decoded.data.amount
      }
      expect({ skipped, total }).toEqual({ skipped: 1, total: 12 })
    })

    it("still fails on a known type whose payload is bad under the skip policy", () => {
      expect(leftOf(skipping.decode(stored("MoneyDeposited", 2, {})))._tag).toBe("PayloadDecodeFailed")
    })
  })

  describe("the Effect Schema adapter", () => {
    const schemaCodec = EventCodec.make({
      ItemAdded: EventCodec.schema(Schema.Struct({ sku: Schema.String, quantity: Schema.Int })),
      ItemRemoved: EventCodec.schema(Schema.Struct({ sku: Schema.String }), {
        version: 2,
        upcast: { 1: Upcaster.schema(Schema.Struct({ code: Schema.String }), (v1) => ({ sku: v1.code })) }
      })
    })

    it("round-trips events through an Effect Schema payload", () => {
      fc.assert(
        fc.property(fc.string(), fc.integer(), (sku, quantity) => {
          const event = { type: "ItemAdded" as const, data: { sku, quantity } }
          const encoded = rightOf(schemaCodec.encode(event))
          expect(rightOf(schemaCodec.decode(record(encoded)))).toEqual(event)
        }),
        { numRuns: 200 }
      )
    })

    it("upcasts through a step typed by an Effect Schema", () => {
      expect(rightOf(schemaCodec.decode(stored("ItemRemoved", 1, { code: "A-1" })))).toEqual({
        type: "ItemRemoved",
        data: { sku: "A-1" }
      })
    })

    it("refuses to encode a value that breaks a schema refinement the type cannot express", () => {
      const error = leftOf(schemaCodec.encode({ type: "ItemAdded", data: { sku: "A-1", quantity: 1.5 } }))
      expect(error).toMatchObject({ _tag: "EncodeFailed", type: "ItemAdded", schemaVersion: 1 })
      expect(error.issues.length).toBeGreaterThan(0)
    })

    it("reports an Effect Schema decoding failure as a typed error with readable issues", () => {
      const error = leftOf(schemaCodec.decode(stored("ItemAdded", 1, { sku: "A-1", quantity: "two" })))
      expect(error).toMatchObject({ _tag: "PayloadDecodeFailed", type: "ItemAdded", schemaVersion: 1 })
      expect(error.message).toContain("quantity")
    })
  })

  describe("construction", () => {
    it("lists every stored type name it reads, former names included", () => {
      const renamed = EventCodec.make({
        MoneyDeposited: EventCodec.io(MoneyDeposited, { renamedFrom: { FundsAdded: {} } })
      })
      expect(renamed.storedTypes).toEqual(["MoneyDeposited", "FundsAdded"])
      expect(renamed.catalog).toEqual([
        { type: "MoneyDeposited", version: 1, renamedFrom: [{ type: "FundsAdded", version: 1, into: 1 }] }
      ])
    })

    it("throws at once on a former name that is also a current type", () => {
      expect(() =>
        EventCodec.make({
          MoneyDeposited: EventCodec.io(MoneyDeposited),
          MoneyWithdrawn: EventCodec.io(MoneyDeposited, { renamedFrom: { MoneyDeposited: {} } })
        })
      ).toThrow(/used twice/)
    })

    it("throws at once on an upcaster from a version at or above the current one", () => {
      expect(() =>
        EventCodec.make({ MoneyDeposited: EventCodec.io(MoneyDeposited, { upcast: { 1: Upcaster.json((v) => v) } }) })
      ).toThrow(/cannot exist/)
    })
  })

  describe("the codec laws", () => {
    const options = {
      arbitraries,
      oldPayloads: { MoneyDeposited: { 1: fc.record({ amount: finite }) } },
      migrations: { MoneyDeposited: { 1: (v1: Json): Json => (isJsonObject(v1) ? { ...v1, currency: "EUR" } : v1) } }
    }

    for (const law of CodecLaws.laws(codec, options)) {
      it(`holds for the account codec: ${law.name}`, law.check)
    }

    it("hold for a codec that skips unknown types", () => {
      CodecLaws.check(EventCodec.make(registry, { unknownTypes: "skip" }), options)
    })

    it("catch an upcaster that mutates its input, naming the failure", () => {
      const mutating = EventCodec.make({
        ...registry,
        MoneyDeposited: EventCodec.io(MoneyDeposited, {
          version: 2,
          upcast: {
            1: Upcaster.io(t.type({ amount: t.number }), (v1) => {
              Object.assign(v1, { currency: "EUR" })
              return v1
            })
          }
        })
      })
      expect(() => CodecLaws.check(mutating, { ...options, numRuns: 20 })).toThrow(/read only|not extensible/)
    })

    it("catch a codec whose encoding does not survive JSON", () => {
      const lossy = EventCodec.make({ Measured: EventCodec.io(t.type({ value: t.unknown })) })
      const laws = CodecLaws.laws(lossy, { arbitraries: { Measured: fc.constant({ value: new Date(0) }) }, numRuns: 5 })
      expect(() => laws[0]?.check()).toThrow(/differs from event/)
    })

    it("catch a missing upcaster before any event at that version is read", () => {
      const gappy = EventCodec.make({
        MoneyDeposited: EventCodec.io(MoneyDeposited, {
          version: 3,
          upcast: { 1: Upcaster.io(MoneyDepositedV1, (v1) => ({ ...v1, currency: "EUR" })) }
        })
      })
      const law = CodecLaws.laws(gappy, { arbitraries: { MoneyDeposited: arbitraries.MoneyDeposited } }).find((candidate) =>
        candidate.name.includes("has an upcaster")
      )
      expect(() => law?.check()).toThrow(/no upcaster from "MoneyDeposited" v2 to v3/)
    })
  })

  describe("the example in docs/CODECS.md", () => {
    const MoneyDepositedV1Doc = t.type({ amount: t.number })
    const documented = EventCodec.make({
      AccountOpened: EventCodec.io(t.type({ owner: t.string, initialBalance: t.number })),
      MoneyDeposited: EventCodec.io(t.type({ amount: t.number, currency: t.string }), {
        version: 2,
        upcast: { 1: Upcaster.io(MoneyDepositedV1Doc, (v1) => ({ ...v1, currency: "EUR" })) }
      }),
      MoneyWithdrawn: EventCodec.schema(Schema.Struct({ amount: Schema.Number })),
      AccountClosed: EventCodec.io(t.type({ reason: t.string }), { renamedFrom: { AccountShut: { version: 1 } } })
    })

    for (const law of CodecLaws.laws(documented, {
      arbitraries: {
        AccountOpened: fc.record({ owner: fc.string(), initialBalance: fc.integer() }),
        MoneyDeposited: fc.record({ amount: fc.integer(), currency: fc.string() }),
        MoneyWithdrawn: fc.record({ amount: fc.integer() }),
        AccountClosed: fc.record({ reason: fc.string() })
      },
      oldPayloads: {
        MoneyDeposited: { 1: fc.record({ amount: fc.integer() }) },
        AccountShut: { 1: fc.record({ reason: fc.string() }) }
      }
    })) {
      it(`obeys the codec laws: ${law.name}`, law.check)
    }
  })
})
