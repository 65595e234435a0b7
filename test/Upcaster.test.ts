import * as fc from "fast-check"
import * as Either from "fp-ts/lib/Either.js"
import * as t from "io-ts"
import { describe, expect, it } from "vitest"
import * as EventCodec from "../src/EventCodec.js"
import type { Json } from "../src/EventStore.js"
import * as Upcaster from "../src/Upcaster.js"

// ---------------------------------------------------------------------------
// A customer's address, three versions, and a former name with its own two versions
//
//   CustomerMoved v1 { addr }  →  CustomerMoved v2 { address }  ⇒  AddressChanged v1
//   AddressChanged v1 { address }  →  v2 { street, city }  →  v3 { street, city, country }
// ---------------------------------------------------------------------------

const AddressV1 = t.type({ address: t.string })
const AddressV2 = t.type({ street: t.string, city: t.string })
const AddressV3 = t.type({ street: t.string, city: t.string, country: t.string })
const MovedV1 = t.type({ addr: t.string })

const splitAddress = (address: string) => {
  const comma = address.indexOf(", ")
  return comma === -1
    ? { street: address, city: "" }
    : { street: address.slice(0, comma), city: address.slice(comma + 2) }
}

const v1ToV2 = Upcaster.io(AddressV1, (v1) => splitAddress(v1.address))
const v2ToV3 = Upcaster.io(AddressV2, (v2) => ({ ...v2, country: "unknown" }))
/** The migration straight from v1 to v3 that the chain must agree with. */
const directV1ToV3 = (v1: t.TypeOf<typeof AddressV1>) => ({ ...splitAddress(v1.address), country: "unknown" })

const addressChain = Upcaster.chain("AddressChanged", 3, { 1: v1ToV2, 2: v2ToV3 })
const renamedFrom = { CustomerMoved: { version: 2, upcast: { 1: Upcaster.io(MovedV1, (v1) => ({ address: v1.addr })) } } }

const codec = EventCodec.make({
  AddressChanged: EventCodec.io(AddressV3, { version: 3, upcast: { 1: v1ToV2, 2: v2ToV3 }, renamedFrom })
})

const at = (type: string, schemaVersion: number): Upcaster.EventAt => ({
  streamId: "customer-42",
  version: 9,
  type,
  schemaVersion
})

const stored = (type: string, schemaVersion: number, data: Json): EventCodec.StoredEvent => ({ ...at(type, schemaVersion), data })

const deepFreeze = <A>(value: A): A => {
  if (typeof value === "object" && value !== null) {
    for (const child of Object.values(value)) deepFreeze(child)
    Object.freeze(value)
  }
  return value
}

const isJsonObject = (payload: Json): payload is { readonly [key: string]: Json } =>
  typeof payload === "object" && payload !== null && !Array.isArray(payload)

const address = fc.oneof(fc.string(), fc.tuple(fc.string(), fc.string()).map(([street, city]) => `${street}, ${city}`))
const v1Payloads = fc.record({ address })
const v2Payloads = fc.record({ street: fc.string(), city: fc.string() })
const oldPayloads = fc.oneof(
  v1Payloads.map((data) => ({ schemaVersion: 1, data })),
  v2Payloads.map((data) => ({ schemaVersion: 2, data }))
)
const movedV1Payloads = fc.record({ addr: address })

const rightOf = <E, A>(result: Either.Either<E, A>): A => {
  if (Either.isLeft(result)) throw new Error(`expected a Right, got ${String(result.left)}`)
  return result.right
}

const leftOf = <E, A>(result: Either.Either<E, A>): E => {
  if (Either.isRight(result)) throw new Error(`expected a Left, got ${JSON.stringify(result.right)}`)
  return result.left
}

// ---------------------------------------------------------------------------

describe("Upcaster", () => {
  describe("properties", () => {
    it("brings any v1 payload through the chain to the current version, which then decodes", () => {
      fc.assert(
        fc.property(v1Payloads, (v1) => {
          const decoded = rightOf(codec.decode(stored("AddressChanged", 1, v1)))
          expect(decoded).toEqual({ type: "AddressChanged", data: directV1ToV3(v1) })
        }),
        { numRuns: 300 }
      )
    })

    it("brings any v2 payload to the current version, which then decodes", () => {
      fc.assert(
        fc.property(v2Payloads, (v2) => {
          expect(rightOf(codec.decode(stored("AddressChanged", 2, v2)))).toEqual({
            type: "AddressChanged",
            data: { ...v2, country: "unknown" }
          })
        }),
        { numRuns: 200 }
      )
    })

    it("gives the same payload through the chain of steps as through the direct migration", () => {
      fc.assert(
        fc.property(v1Payloads, (v1) => {
          expect(rightOf(Upcaster.upcast(addressChain, v1, at("AddressChanged", 1)))).toEqual(directV1ToV3(v1))
        }),
        { numRuns: 300 }
      )
    })

    it("is deterministic and never mutates the stored payload, even a frozen one", () => {
      fc.assert(
        fc.property(oldPayloads, ({ schemaVersion, data }) => {
          const payload = deepFreeze(data)
          const before = JSON.stringify(payload)
          const first = Upcaster.upcast(addressChain, payload, at("AddressChanged", schemaVersion))
          const second = Upcaster.upcast(addressChain, payload, at("AddressChanged", schemaVersion))
          expect(Either.isRight(first)).toBe(true)
          expect(second).toEqual(first)
          expect(JSON.stringify(payload)).toBe(before)
        }),
        { numRuns: 300 }
      )
    })

    it("decodes the same stored event twice to the same result and leaves its bytes untouched", () => {
      fc.assert(
        fc.property(v1Payloads, (v1) => {
          const recorded = stored("AddressChanged", 1, v1)
          const before = JSON.stringify(recorded)
          expect(codec.decode(recorded)).toEqual(codec.decode(recorded))
          expect(JSON.stringify(recorded)).toBe(before)
        }),
        { numRuns: 200 }
      )
    })

    it("reads events stored under a former name through that name's own chain, then the new name's", () => {
      fc.assert(
        fc.property(movedV1Payloads, (moved) => {
          expect(rightOf(codec.decode(stored("CustomerMoved", 1, moved)))).toEqual({
            type: "AddressChanged",
            data: directV1ToV3({ address: moved.addr })
          })
          expect(rightOf(codec.decode(stored("CustomerMoved", 2, { address: moved.addr })))).toEqual({
            type: "AddressChanged",
            data: directV1ToV3({ address: moved.addr })
          })
        }),
        { numRuns: 200 }
      )
    })

    it("refuses every schema version above the current one", () => {
      fc.assert(
        fc.property(fc.integer({ min: 4, max: 1_000 }), (schemaVersion) => {
          expect(leftOf(codec.decode(stored("AddressChanged", schemaVersion, {})))).toMatchObject({
            _tag: "SchemaVersionTooNew",
            schemaVersion,
            currentVersion: 3
          })
        }),
        { numRuns: 200 }
      )
    })
  })

  describe("typed errors", () => {
    const gappy = Upcaster.chain("AddressChanged", 3, { 1: v1ToV2 })

    it("reports a missing step with the stream, version, type and schema version", () => {
      const error = leftOf(Upcaster.upcast(gappy, { street: "a", city: "b" }, at("AddressChanged", 2)))
      expect(error).toBeInstanceOf(Upcaster.MissingUpcaster)
      expect(error).toMatchObject({
        _tag: "MissingUpcaster",
        streamId: "customer-42",
        version: 9,
        type: "AddressChanged",
        schemaVersion: 2,
        at: { type: "AddressChanged", schemaVersion: 2 },
        currentVersion: 3
      })
      expect(error.message).toContain("no upcaster from \"AddressChanged\" v2 to v3")
    })

    it("reports a missing step further up the chain before running any step, whatever the payload", () => {
      const error = leftOf(Upcaster.upcast(gappy, "not even an object", at("AddressChanged", 1)))
      expect(error).toMatchObject({ _tag: "MissingUpcaster", schemaVersion: 1, at: { schemaVersion: 2 } })
    })

    it("reports a stored schema version that is not a positive integer as a missing step", () => {
      for (const schemaVersion of [0, -1, 1.5, Number.NaN, 3.5]) {
        expect(leftOf(codec.decode(stored("AddressChanged", schemaVersion, {})))).toMatchObject({
          _tag: "MissingUpcaster",
          schemaVersion
        })
      }
    })

    it("reports a payload an intermediate step cannot decode, naming the step's version", () => {
      const error = leftOf(codec.decode(stored("AddressChanged", 1, { address: 5 })))
      expect(error).toBeInstanceOf(Upcaster.PayloadDecodeFailed)
      expect(error).toMatchObject({
        _tag: "PayloadDecodeFailed",
        streamId: "customer-42",
        version: 9,
        type: "AddressChanged",
        schemaVersion: 1,
        at: { type: "AddressChanged", schemaVersion: 1 }
      })
      expect(error.message).toContain("address: expected string, got 5")
    })

    it("reports a step that throws as UpcastFailed with its cause", () => {
      const throwing = Upcaster.chain("AddressChanged", 2, {
        1: Upcaster.json(() => {
          throw new Error("boom")
        })
      })
      const error = leftOf(Upcaster.upcast(throwing, {}, at("AddressChanged", 1)))
      expect(error).toMatchObject({ _tag: "UpcastFailed", schemaVersion: 1, at: { schemaVersion: 1 } })
      expect(error.message).toContain("boom")
    })

    it("names the stored former type, and its chain, in an error on a renamed event", () => {
      const error = leftOf(codec.decode(stored("CustomerMoved", 1, { address: "old field name" })))
      expect(error).toMatchObject({
        _tag: "PayloadDecodeFailed",
        type: "CustomerMoved",
        schemaVersion: 1,
        at: { type: "CustomerMoved", schemaVersion: 1 }
      })
    })

    it("refuses a former name's version beyond the last one it was stored with", () => {
      expect(leftOf(codec.decode(stored("CustomerMoved", 3, {})))).toMatchObject({
        _tag: "SchemaVersionTooNew",
        type: "CustomerMoved",
        currentVersion: 2
      })
    })
  })

  describe("steps", () => {
    it("lets a raw JSON step migrate a payload without a codec", () => {
      const renameField = Upcaster.json((payload) =>
        isJsonObject(payload) ? { address: payload["addr"] ?? null } : payload
      )
      const chain = Upcaster.chain("CustomerMoved", 2, { 1: renameField })
      expect(rightOf(Upcaster.upcast(chain, { addr: "x" }, at("CustomerMoved", 1)))).toEqual({ address: "x" })
    })

    it("leaves a payload already at the current version as it is", () => {
      const payload = deepFreeze({ street: "a", city: "b", country: "c" })
      expect(rightOf(Upcaster.upcast(addressChain, payload, at("AddressChanged", 3)))).toBe(payload)
    })

    it("throws at once on a malformed chain", () => {
      expect(() => Upcaster.chain("AddressChanged", 0)).toThrow(/positive integer/)
      expect(() => Upcaster.chain("AddressChanged", 2, { 2: v2ToV3 })).toThrow(/cannot exist/)
      expect(() => Upcaster.rename("CustomerMoved", addressChain, { into: 4 })).toThrow(/cannot join at version 4/)
    })
  })
})
