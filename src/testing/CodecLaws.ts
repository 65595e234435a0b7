/**
 * Laws every event codec should obey, checked with fast-check on your own codec and
 * upcasters:
 *
 * - encode then decode is the identity, through JSON text as a store keeps it, and writes
 *   record each type's current schema version;
 * - decoding is deterministic and never modifies the recorded payload;
 * - every version below a type's current one has an upcaster (former names included);
 * - every old payload you describe reaches the current version and decodes — on a frozen
 *   copy, so an upcaster that mutates its input fails loudly;
 * - a direct migration, where you give one, equals the chain of upcasters;
 * - an unknown event type follows the codec's policy.
 *
 * ```ts
 * for (const law of CodecLaws.laws(codec, {
 *   arbitraries: { AccountOpened: fc.record({ owner: fc.string() }), MoneyDeposited: … },
 *   oldPayloads: { MoneyDeposited: { 1: fc.record({ amount: fc.integer() }) } }
 * })) it(law.name, law.check)
 * ```
 *
 * Numbers are compared as JSON keeps them: `-0` equals `0`. A payload holding `NaN`,
 * `Infinity` or `undefined` does not survive JSON; give arbitraries that match what your
 * codec accepts.
 *
 * @since 0.1.0
 */
import { AssertionError } from "node:assert"
import { inspect, isDeepStrictEqual } from "node:util"
import type * as fc from "fast-check"
import * as Either from "fp-ts/lib/Either.js"
import type { EventCodec, EventMap, EventOf, StoredEvent, UnknownTypePolicy } from "../EventCodec.js"
import { isSkipped } from "../EventCodec.js"
import type { Json } from "../EventStore.js"
import { fastCheck } from "../internal/fastCheck.js"

/**
 * What the laws need to know about your codec.
 *
 * - `arbitraries`: for every event type, an arbitrary of its (current) payload.
 * - `oldPayloads`: optionally, arbitraries of stored payloads at old schema versions, keyed
 *   by stored type name (a former name too) and version: `{ MoneyDeposited: { 1: … } }`.
 * - `migrations`: optionally, direct migrations from an old stored payload to the current
 *   payload of its type, keyed the same way; each needs an `oldPayloads` arbitrary.
 * - `numRuns`: cases per law (default 200). `seed`: to replay a failure.
 *
 * @since 0.1.0
 */
export interface LawOptions<P> {
  readonly arbitraries: { readonly [K in keyof P]: fc.Arbitrary<P[K]> }
  readonly oldPayloads?: { readonly [storedType: string]: { readonly [schemaVersion: number]: fc.Arbitrary<Json> } }
  readonly migrations?: {
    readonly [storedType: string]: { readonly [schemaVersion: number]: (payload: Json) => Json }
  }
  readonly numRuns?: number
  readonly seed?: number
}

/**
 * One law, ready to run as a test: `check` throws an `AssertionError` with a
 * counterexample on failure.
 *
 * @since 0.1.0
 */
export interface Law {
  readonly name: string
  readonly check: () => void
}

const show = (value: unknown): string => inspect(value, { depth: 8, breakLength: 120 })

/**
 * Deep equality as JSON sees values: numbers by `===` (so `-0` equals `0`), plain objects
 * and arrays by content whatever their prototype, `Date`s by time; anything else by
 * `isDeepStrictEqual`.
 */
const same = (a: unknown, b: unknown): boolean => {
  if (typeof a === "number" && typeof b === "number") return a === b
  if (a instanceof Date && b instanceof Date) return a.getTime() === b.getTime()
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((item, i) => same(item, b[i]))
  if (isPlainObject(a) && isPlainObject(b)) {
    const keys = Object.keys(a)
    return keys.length === Object.keys(b).length && keys.every((key) => Object.hasOwn(b, key) && same(a[key], b[key]))
  }
  return isDeepStrictEqual(a, b)
}

const isPlainObject = (value: unknown): value is { readonly [key: string]: unknown } => {
  if (typeof value !== "object" || value === null) return false
  const prototype: unknown = Object.getPrototypeOf(value)
  return prototype === Object.prototype || prototype === null
}

const expectSame = (actual: unknown, expected: unknown, message: string): void => {
  if (!same(actual, expected)) {
    throw new AssertionError({ message: `${message}\n  expected ${show(expected)}\n  actual   ${show(actual)}`, actual, expected })
  }
}

const fail = (message: string): never => {
  throw new AssertionError({ message })
}

/** A stored payload as a store would hand it back: parsed from JSON text, deeply frozen. */
const throughJson = (data: unknown): Json => {
  const text = JSON.stringify(data)
  if (text === undefined) return fail(`the encoded payload ${show(data)} is not JSON`)
  const parsed: Json = JSON.parse(text)
  return deepFreeze(parsed)
}

const deepFreeze = (value: Json): Json => {
  if (typeof value === "object" && value !== null) {
    for (const child of Object.values(value)) deepFreeze(child)
    Object.freeze(value)
  }
  return value
}

/** A decode outcome reduced to what must repeat: the value, or the error's tag and message. */
const outcome = (result: Either.Either<Error, unknown>): unknown =>
  Either.isRight(result)
    ? { right: result.right }
    : { left: { _tag: "_tag" in result.left ? result.left._tag : "Error", message: result.left.message } }

const storedAt = (type: string, schemaVersion: number, data: Json): StoredEvent => ({
  streamId: "codec-laws",
  version: 1,
  type,
  schemaVersion,
  data
})

const member = <P, K extends keyof P & string>(type: K, data: fc.Arbitrary<P[K]>): fc.Arbitrary<EventOf<P>> =>
  data.map((payload): EventOf<P> => {
    const event: EventMap<P>[K] = { type, data: payload }
    return event
  })

const eventArbitrary = <P>(arbitraries: LawOptions<P>["arbitraries"]): fc.Arbitrary<EventOf<P>> => {
  const members: Array<fc.Arbitrary<EventOf<P>>> = []
  for (const type in arbitraries) members.push(member<P, typeof type>(type, arbitraries[type]))
  return members.length === 0 ? fail("the codec laws need at least one event type") : fastCheck("CodecLaws").oneof(...members)
}

const entries = <A>(byVersion: { readonly [schemaVersion: number]: A }): ReadonlyArray<readonly [number, A]> =>
  Object.entries(byVersion).map(([key, value]) => [Number(key), value])

/**
 * The laws for one codec, each a named check to run as a test.
 *
 * @since 0.1.0
 */
export const laws = <P, U extends UnknownTypePolicy>(codec: EventCodec<P, U>, options: LawOptions<P>): ReadonlyArray<Law> => {
  const fc = fastCheck("CodecLaws")
  const parameters = { numRuns: options.numRuns ?? 200, ...(options.seed === undefined ? {} : { seed: options.seed }) }
  const property = <A>(arbitrary: fc.Arbitrary<A>, predicate: (a: A) => void) => () => {
    const details = fc.check(fc.property(arbitrary, predicate), parameters)
    if (details.failed) {
      const reason = details.errorInstance instanceof Error ? details.errorInstance.message : String(details.errorInstance)
      fail(`${reason}\n  counterexample: ${show(details.counterexample)}\n  (seed ${details.seed}, path "${details.counterexamplePath}")`)
    }
  }
  const versionOf = new Map(codec.catalog.map((entry) => [entry.type, entry.version]))
  const currentTypeOf = new Map<string, string>()
  for (const entry of codec.catalog) {
    currentTypeOf.set(entry.type, entry.type)
    for (const former of entry.renamedFrom) currentTypeOf.set(former.type, entry.type)
  }
  const events = eventArbitrary<P>(options.arbitraries)
  const oldPayloads = Object.entries(options.oldPayloads ?? {}).flatMap(([type, byVersion]) =>
    entries(byVersion).map(([schemaVersion, payload]) => ({ type, schemaVersion, payload }))
  )
  const encodeForLaw = (event: EventOf<P>) => {
    const encoded = codec.encode(event)
    return Either.isLeft(encoded) ? fail(`encode refused ${show(event)}: ${encoded.left.message}`) : encoded.right
  }

  const result: Array<Law> = [
    {
      name: "encode then decode is the identity, at each type's current schema version",
      check: property(events, (event) => {
        const encoded = encodeForLaw(event)
        if (encoded.type !== event.type) fail(`encode stored ${event.type} as ${encoded.type}`)
        const current = versionOf.get(event.type)
        if (encoded.schemaVersion !== current) {
          fail(`encode wrote ${event.type} at schema version ${encoded.schemaVersion}, not the current ${current}`)
        }
        const decoded = codec.decode(storedAt(encoded.type, encoded.schemaVersion, throughJson(encoded.data)))
        if (Either.isLeft(decoded)) fail(`decode refused what encode wrote: ${decoded.left.message}`)
        expectSame(Either.isRight(decoded) ? decoded.right : undefined, event, "decode(encode(event)) differs from event")
      })
    },
    {
      name: "decoding is deterministic and leaves the recorded payload unchanged",
      check: property(events, (event) => {
        const encoded = encodeForLaw(event)
        const recorded = storedAt(encoded.type, encoded.schemaVersion, throughJson(encoded.data))
        const before = JSON.stringify(recorded.data)
        const first = outcome(codec.decode(recorded))
        const second = outcome(codec.decode(recorded))
        if (JSON.stringify(recorded.data) !== before) fail(`decoding changed the recorded payload from ${before}`)
        expectSame(second, first, "decoding the same recorded event twice gave different results")
      })
    },
    {
      name: "every version below a type's current one has an upcaster",
      check: () => {
        const gaps: Array<string> = []
        const probe = (type: string, below: number) => {
          for (let schemaVersion = 1; schemaVersion < below; schemaVersion++) {
            const decoded = codec.decode(storedAt(type, schemaVersion, null))
            if (Either.isLeft(decoded) && decoded.left._tag === "MissingUpcaster") gaps.push(decoded.left.message)
          }
        }
        for (const entry of codec.catalog) {
          probe(entry.type, entry.version)
          for (const former of entry.renamedFrom) probe(former.type, former.version + 1)
        }
        if (gaps.length > 0) fail(`missing upcasters:\n  ${[...new Set(gaps)].join("\n  ")}`)
      }
    },
    {
      name: "an unknown event type follows the codec's policy",
      check: () => {
        const unknownType = "es-kernel/codec-laws/unknown-type"
        const decoded = codec.decode(storedAt(unknownType, 1, {}))
        if (codec.unknownTypes === "fail") {
          if (Either.isRight(decoded) || decoded.left._tag !== "UnknownEventType") {
            fail(`under the "fail" policy an unknown type gave ${show(decoded)}, not UnknownEventType`)
          }
        } else if (Either.isLeft(decoded) || !isSkipped(decoded.right)) {
          fail(`under the "skip" policy an unknown type gave ${show(decoded)}, not a Skipped record`)
        }
      }
    }
  ]

  for (const { type, schemaVersion, payload } of oldPayloads) {
    const currentType = currentTypeOf.get(type) ?? fail(`oldPayloads names ${type}, which is not a type of this codec`)
    result.push({
      name: `${type} v${schemaVersion} payloads upcast to the current ${currentType} and decode, without being modified`,
      check: property(payload, (data) => {
        const recorded = storedAt(type, schemaVersion, throughJson(data))
        const before = JSON.stringify(recorded.data)
        const first = codec.decode(recorded)
        if (Either.isLeft(first)) fail(`decode failed: ${first.left.message}`)
        if (JSON.stringify(recorded.data) !== before) fail(`upcasting changed the recorded payload from ${before}`)
        expectSame(outcome(codec.decode(recorded)), outcome(first), "upcasting the same payload twice gave different results")
        if (Either.isRight(first) && !isSkipped(first.right) && first.right.type !== currentType) {
          fail(`${type} decoded as ${first.right.type}, not ${currentType}`)
        }
      })
    })
  }

  for (const [type, byVersion] of Object.entries(options.migrations ?? {})) {
    for (const [schemaVersion, migrate] of entries(byVersion)) {
      const payload = options.oldPayloads?.[type]?.[schemaVersion] ??
        fail(`the migration of ${type} v${schemaVersion} needs an oldPayloads arbitrary for it`)
      const currentType = currentTypeOf.get(type) ?? fail(`migrations names ${type}, which is not a type of this codec`)
      const currentVersion = versionOf.get(currentType) ?? 1
      result.push({
        name: `the upcaster chain from ${type} v${schemaVersion} equals its direct migration`,
        check: property(payload, (data) => {
          const viaChain = codec.decode(storedAt(type, schemaVersion, throughJson(data)))
          const viaMigration = codec.decode(storedAt(currentType, currentVersion, throughJson(migrate(throughJson(data)))))
          expectSame(outcome(viaChain), outcome(viaMigration), "the chain and the direct migration disagree")
        })
      })
    }
  }
  return result
}

/**
 * Checks every law at once; throws on the first that fails.
 *
 * @since 0.1.0
 */
export const check = <P, U extends UnknownTypePolicy>(codec: EventCodec<P, U>, options: LawOptions<P>): void => {
  for (const law of laws(codec, options)) law.check()
}
