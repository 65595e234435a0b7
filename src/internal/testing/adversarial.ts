/**
 * The conformance cases for input no TypeScript type allows and sizes no example reaches:
 * what plain JavaScript callers, other languages' ids and big payloads really send. Every
 * layer must answer them alike: store and give back unchanged what the contract accepts,
 * refuse the rest with `InvalidAppend` before writing anything.
 *
 * @internal
 */
import { Effect, Stream } from "effect"
import type { Layer, Scope } from "effect"
import { EventStore, limits } from "../../EventStore.js"
import type { Json, NewEvent, RecordedEvent } from "../../EventStore.js"
import * as assert from "./assert.js"
import { appendUntyped, failureOf } from "./conformance.js"
import type { Suite } from "./suite.js"

type Test = Effect.Effect<void, unknown, EventStore | Scope.Scope>

const append = (streamId: string, events: ReadonlyArray<NewEvent>) =>
  EventStore.use((store) => store.append(streamId, events))

const readStream = (streamId: string) => EventStore.use((store) => Stream.runCollect(store.readStream(streamId)))

const readAll = EventStore.use((store) => Stream.runCollect(store.readAll()))

const refused = (streamId: unknown, events: unknown, expected?: unknown) =>
  Effect.gen(function*() {
    const error = yield* failureOf(appendUntyped(streamId, events, expected), "InvalidAppend")
    assert.isTrue(error.message.length < 2_000, "the error message embeds unbounded input")
    assert.deepStrictEqual(yield* readAll, [], "a refused append recorded something")
    return error
  })

/** Arrays nested `depth` levels deep: `nested(1)` is `[0]`. */
export const nested = (depth: number): Json => {
  let value: Json = 0
  for (let level = 0; level < depth; level++) value = [value]
  return value
}

// Strings every layer must store and give back as they are.
const unusualNames: ReadonlyArray<readonly [string, string]> = [
  ["accents and an emoji", "commande-été-🍰"],
  ["right-to-left text", "חשבון-אבג"],
  ["a combining mark", "cafe\u0301-1"],
  ["a zero-width joiner sequence", "dev-👩‍💻"],
  ["a noncharacter", "x-\uFFFF"],
  ["control characters", "tab\there\u0001"],
  ["exactly the length limit", "n".repeat(limits.idLength)]
]

// Strings no layer can store unchanged, as text or through UTF-8.
const badNames: ReadonlyArray<readonly [string, unknown]> = [
  ["a lone high surrogate", "cart-\uD83D"],
  ["a lone low surrogate", "\uDE00-cart"],
  ["a surrogate pair in the wrong order", "cart-\uDE00\uD83D"],
  ["U+0000", "cart\u0000-1"],
  ["one character past the length limit", "n".repeat(limits.idLength + 1)],
  ["an empty string", ""],
  ["a number", 5],
  ["null", null],
  ["an object", { id: "cart-1" }],
  ["an array", ["cart-1"]]
]

const tests = (suite: Suite, makeLayer: () => Layer.Layer<EventStore, unknown>) =>
(title: string, body: () => Test, timeout?: number): void =>
  suite.test(title, () => Effect.scoped(Effect.provide(Effect.suspend(body), makeLayer())), timeout)

/**
 * Registers the adversarial cases.
 *
 * @internal
 */
export const adversarial = (suite: Suite, makeLayer: () => Layer.Layer<EventStore, unknown>): void => {
  const test = tests(suite, makeLayer)
  ids(suite, test)
  metadata(suite, test)
  payloads(suite, test)
  sizes(suite, test)
  retries(suite, test)
}

type Register = ReturnType<typeof tests>

const ids = (suite: Suite, test: Register): void =>
  suite.group("ids and types", () => {
    for (const [what, name] of unusualNames) {
      test(`stores and gives back ${what} as stream id, event id and type`, () =>
        Effect.gen(function*() {
          const first = yield* append(name, [{ type: name, data: { name }, eventId: name }])
          const [recorded] = yield* readStream(name)
          assert.isDefined(recorded)
          assert.deepStrictEqual([recorded.streamId, recorded.eventId, recorded.type], [name, name, name])
          const retried = yield* append(name, [{ type: name, data: { name }, eventId: name }])
          assert.deepStrictEqual(retried, first, "a retry with the same id was not idempotent")
          assert.strictEqual((yield* readAll).length, 1)
          assert.strictEqual(yield* EventStore.use((store) => store.streamVersion(name)), 1)
        }))
    }
    for (const [what, name] of badNames) {
      test(`refuses ${what} as a stream id`, () => refused(name, [{ type: "A", data: {} }]))
      test(`refuses ${what} as an event type`, () => refused("order-1", [{ type: name, data: {} }]))
      test(`refuses ${what} as an event id`, () => refused("order-1", [{ type: "A", data: {}, eventId: name }]))
    }
    test("refuses a batch that is not an array, or holds a non-object", () =>
      Effect.gen(function*() {
        yield* refused("order-1", { type: "A", data: {} })
        yield* refused("order-1", "events")
        yield* refused("order-1", [null])
        yield* refused("order-1", [[{ type: "A", data: {} }]])
        yield* refused("order-1", [{ type: "A", data: {} }, 7])
      }))
    test("refuses an expected version of the wrong kind", () =>
      Effect.gen(function*() {
        for (const expected of ["1", "NoStream", null, {}, 2 ** 53, Number.NaN]) {
          yield* refused("order-1", [{ type: "A", data: {} }], expected)
        }
      }))
    test("refuses a schema version out of range or of the wrong kind", () =>
      Effect.gen(function*() {
        for (const schemaVersion of [limits.schemaVersion + 1, "2", null, -1]) {
          yield* refused("order-1", [{ type: "A", data: {}, schemaVersion }])
        }
        yield* append("order-1", [{ type: "A", data: {}, schemaVersion: limits.schemaVersion }])
      }))
    test("an error message cuts a long id short", () =>
      Effect.gen(function*() {
        const error = yield* refused("x".repeat(100_000), [{ type: "A", data: {} }])
        assert.isTrue(error.message.length < 500, `the message is ${error.message.length} characters long`)
      }))
  })

const metadata = (suite: Suite, test: Register): void =>
  suite.group("metadata", () => {
    for (const key of ["correlationId", "causationId"]) {
      for (const value of [5, null, true, { id: "c-1" }, ["c-1"]]) {
        test(`refuses ${key} ${JSON.stringify(value)}: it must be a string`, () =>
          refused("order-1", [{ type: "A", data: {}, metadata: { [key]: value } }]))
      }
    }
    for (const value of [[], "meta", 5, null]) {
      test(`refuses metadata ${JSON.stringify(value)}: it must be a plain object`, () =>
        refused("order-1", [{ type: "A", data: {}, metadata: value }]))
    }
    test("keeps any JSON value under the user's own keys", () =>
      Effect.gen(function*() {
        const given = { correlationId: "c-\u0000-🍰", user: 5, tags: [null, true, { deep: [1.5] }], "é\u0000": "\uD83D" }
        yield* append("order-1", [{ type: "A", data: {}, metadata: given }])
        const [recorded] = yield* readStream("order-1")
        assert.deepStrictEqual(recorded?.metadata, given)
      }))
  })

const payloads = (suite: Suite, test: Register): void =>
  suite.group("payloads", () => {
    const roundTrips: ReadonlyArray<readonly [string, Json]> = [
      ["U+0000 inside strings and keys", { "a\u0000b": "x\u0000y", list: ["\u0000"] }],
      ["lone surrogates inside strings and keys", { "\uD83D": "\uDE00", pair: "🍰", reversed: "\uDE00\uD83D" }],
      ["line and paragraph separators", "\u2028\u2029"],
      ["a __proto__ key", JSON.parse("{\"__proto__\":{\"polluted\":true},\"ok\":1}")],
      ["numbers at JSON's edges", [Number.MAX_SAFE_INTEGER, -Number.MAX_SAFE_INTEGER, 1e308, 5e-324, -1.5e-300, 0.1]],
      ["a scalar as the whole payload", "just a string"],
      ["null as the whole payload", null],
      ["keys in an order a database may change", { b: 1, a: 2, "10": 3, "1": 4, aa: { z: 1, y: 2 } }]
    ]
    for (const [what, data] of roundTrips) {
      test(`gives back ${what} deep-equal`, () =>
        Effect.gen(function*() {
          yield* append("order-1", [{ type: "A", data }])
          const [recorded] = yield* readStream("order-1")
          assert.deepStrictEqual(recorded?.data, data)
          const [again] = yield* readAll
          assert.deepStrictEqual(again?.data, data)
        }))
    }
    test("reads negative zero back as zero", () =>
      Effect.gen(function*() {
        yield* append("order-1", [{ type: "A", data: { zero: -0 } }])
        const [recorded] = yield* readStream("order-1")
        assert.isTrue(Object.is(readField(recorded, "zero"), 0))
      }))
    test(`accepts data nested ${limits.depth} levels deep and refuses ${limits.depth + 1}`, () =>
      Effect.gen(function*() {
        yield* append("order-1", [{ type: "A", data: nested(limits.depth) }])
        const [recorded] = yield* readStream("order-1")
        assert.deepStrictEqual(recorded?.data, nested(limits.depth))
        yield* failureOf(append("order-1", [{ type: "A", data: nested(limits.depth + 1) }]), "InvalidAppend")
        yield* failureOf(append("order-1", [{ type: "A", data: nested(100_000) }]), "InvalidAppend")
        assert.strictEqual((yield* readAll).length, 1)
      }))
    test(`accepts metadata nested ${limits.depth} levels deep (the object itself is the first) and refuses more`, () =>
      Effect.gen(function*() {
        yield* append("order-1", [{ type: "A", data: {}, metadata: { deep: nested(limits.depth - 1) } }])
        yield* failureOf(append("order-1", [{ type: "A", data: {}, metadata: { deep: nested(limits.depth) } }]), "InvalidAppend")
        assert.strictEqual((yield* readAll).length, 1)
      }))
  })

const readField = (event: RecordedEvent | undefined, key: string): unknown =>
  typeof event?.data === "object" && event.data !== null ? Reflect.get(event.data, key) : undefined

const mib = 1024 * 1024

// A payload whose JSON text (with the `{}` of absent metadata) is exactly `bytes` long.
const payloadOf = (bytes: number, fill = "x"): string => fill.repeat(bytes - 4)

const sameBig = (recorded: RecordedEvent | undefined, expected: string, what: string): void => {
  const data = recorded?.data
  assert.isTrue(typeof data === "string", `${what}: the payload did not come back as a string`)
  if (typeof data !== "string") return
  assert.strictEqual(data.length, expected.length, `${what}: the payload came back ${data.length} characters long`)
  assert.isTrue(data === expected, `${what}: the payload came back changed`)
}

const sizes = (suite: Suite, test: Register): void =>
  suite.group("sizes", () => {
    test("records from bytes to tens of MiB, one after another, read back intact and in order", () =>
      Effect.gen(function*() {
        const sizes = [10, 5_000, mib, 9 * mib, 100, 20 * mib, 3 * mib + 17, 7]
        const payloads = sizes.map((size, index) => payloadOf(Math.max(size, 4), String.fromCharCode(97 + index)))
        for (const data of payloads) yield* append("big-1", [{ type: "Big", data }])
        yield* append("big-2", payloads.slice(0, 3).map((data) => ({ type: "Batch", data })))
        const stream = yield* readStream("big-1")
        assert.strictEqual(stream.length, payloads.length)
        payloads.forEach((data, index) => sameBig(stream[index], data, `event ${index + 1} of big-1`))
        const all = yield* readAll
        assert.deepStrictEqual(all.map((event) => event.version), [1, 2, 3, 4, 5, 6, 7, 8, 1, 2, 3])
        payloads.slice(0, 3).forEach((data, index) => sameBig(all[8 + index], data, `event ${index + 1} of big-2`))
      }), 300_000)
    test(`accepts an event of exactly ${limits.eventBytes / mib} MiB of JSON and refuses one byte more`, () =>
      Effect.gen(function*() {
        const atLimit = payloadOf(limits.eventBytes)
        yield* append("big-1", [{ type: "Big", data: atLimit }])
        const error = yield* failureOf(append("big-1", [{ type: "Big", data: `${atLimit}x` }]), "InvalidAppend")
        assert.isTrue(error.message.length < 1_000)
        // Escapes count as the bytes they take in JSON: 6 for U+0000, not 1.
        yield* failureOf(append("big-1", [{ type: "Big", data: "\u0000".repeat(limits.eventBytes / 6 + 1) }]), "InvalidAppend")
        const [recorded] = yield* readStream("big-1")
        sameBig(recorded, atLimit, "the event at the limit")
        assert.strictEqual((yield* readAll).length, 1)
      }), 300_000)
    test("refuses a batch over the batch limit whose every event is within its own", () =>
      Effect.gen(function*() {
        const count = Math.floor(limits.batchBytes / (limits.eventBytes / 2)) + 1
        const batch = Array.from({ length: count }, () => ({ type: "Big", data: payloadOf(limits.eventBytes / 2) }))
        yield* failureOf(append("big-1", batch), "InvalidAppend")
        assert.deepStrictEqual(yield* readAll, [])
      }), 300_000)
    test(`accepts ${limits.batchEvents} events in one batch and refuses one more`, () =>
      Effect.gen(function*() {
        const batch = (count: number) => Array.from({ length: count }, (_, index) => ({ type: "Small", data: index }))
        yield* failureOf(append("many-1", batch(limits.batchEvents + 1)), "InvalidAppend")
        const result = yield* append("many-1", batch(limits.batchEvents))
        assert.strictEqual(result.nextExpectedVersion, limits.batchEvents)
        assert.strictEqual((yield* readStream("many-1")).length, limits.batchEvents)
      }), 300_000)
  })

const retries = (suite: Suite, test: Register): void =>
  suite.group("retries compare content", () => {
    const original: NewEvent = { type: "A", data: { amount: 10, note: "x" }, eventId: "e-1", metadata: { correlationId: "c-1" } }
    const changes: ReadonlyArray<readonly [string, NewEvent]> = [
      ["other data", { ...original, data: { amount: 11, note: "x" } }],
      ["other metadata", { ...original, metadata: { correlationId: "c-2" } }],
      ["no metadata", { type: "A", data: { amount: 10, note: "x" }, eventId: "e-1" }],
      ["another schema version", { ...original, schemaVersion: 2 }]
    ]
    for (const [what, changed] of changes) {
      test(`a retry with the same event id but ${what} is an EventIdConflict`, () =>
        Effect.gen(function*() {
          yield* append("order-1", [original])
          const error = yield* failureOf(append("order-1", [changed]), "EventIdConflict")
          assert.deepStrictEqual(error.eventIds, ["e-1"])
          assert.strictEqual((yield* readAll).length, 1)
        }))
    }
    test("a retry whose data has its keys in another order is the same batch", () =>
      Effect.gen(function*() {
        const first = yield* append("order-1", [original])
        const reordered = yield* append("order-1", [{ ...original, data: { note: "x", amount: 10 } }])
        assert.deepStrictEqual(reordered, first)
        assert.strictEqual((yield* readAll).length, 1)
      }))
  })
