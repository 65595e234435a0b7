/**
 * The EventStore conformance suite: the store contract as named cases, written once and
 * run by every layer — ours and anyone's (see `StoreConformance` in `es-kernel/testing`).
 *
 * Each case builds a fresh store with `makeLayer` and runs with the live clock and
 * scheduler, so a layer may use real timers.
 *
 * @internal
 */
import { Clock, Deferred, Effect, Exit, Fiber, Stream } from "effect"
import type { Layer, Scope } from "effect"
import { EventStore } from "../../EventStore.js"
import type {
  AppendError,
  AppendResult,
  ExpectedVersion,
  NewEvent,
  ReadAllOptions,
  ReadError,
  ReadStreamOptions,
  RecordedEvent
} from "../../EventStore.js"
import * as assert from "./assert.js"
import { Suite } from "./suite.js"

type Test = Effect.Effect<void, unknown, EventStore | Scope.Scope>

/** A new event with the given type and data. */
export const event = (type: string, data: unknown = {}, extra: Partial<NewEvent> = {}): NewEvent => ({
  type,
  data,
  ...extra
})

/** `count` events `type-1 … type-n` whose data records their index. */
export const events = (count: number, type = "Happened"): Array<NewEvent> =>
  Array.from({ length: count }, (_, index) => event(type, { index }))

/**
 * Succeeds with the error when `effect` fails with the tagged error `tag`; dies with a
 * readable message when it succeeds or fails otherwise.
 */
export const failureOf = <A, E extends { readonly _tag: string }, R, const T extends E["_tag"]>(
  effect: Effect.Effect<A, E, R>,
  tag: T
): Effect.Effect<Extract<E, { readonly _tag: T }>, never, R> =>
  Effect.matchEffect(effect, {
    onSuccess: (value) => Effect.die(new Error(`expected ${tag}, but it succeeded with ${JSON.stringify(value)}`)),
    onFailure: (error) =>
      isTagged(error, tag) ? Effect.succeed(error) : Effect.die(new Error(`expected ${tag}, got ${error._tag}`))
  })

/**
 * An append as untyped JavaScript makes it — whatever value in whichever argument. A layer that
 * throws instead of failing is reported as a defect.
 */
export const appendUntyped = (streamId: unknown, events: unknown, expected: unknown = "any") =>
  EventStore.use((store): Effect.Effect<AppendResult, AppendError> =>
    Effect.suspend(() => Reflect.apply(store.append, store, [streamId, events, expected]))
  )

const isTagged = <E extends { readonly _tag: string }, T extends E["_tag"]>(
  error: E,
  tag: T
): error is Extract<E, { readonly _tag: T }> => error._tag === tag

const readStream = (streamId: string, options?: ReadStreamOptions) =>
  EventStore.use((store) => Stream.runCollect(store.readStream(streamId, options)))

const readAll = (options?: ReadAllOptions) => EventStore.use((store) => Stream.runCollect(store.readAll(options)))

const append = (streamId: string, batch: ReadonlyArray<NewEvent>, expected?: ExpectedVersion) =>
  EventStore.use((store) => store.append(streamId, batch, expected))

const versions = (recorded: ReadonlyArray<RecordedEvent>) => recorded.map((e) => e.version)
const positions = (recorded: ReadonlyArray<RecordedEvent>) => recorded.map((e) => e.position)
const ids = (recorded: ReadonlyArray<RecordedEvent>) => recorded.map((e) => e.eventId)
const streamIds = (recorded: ReadonlyArray<RecordedEvent>) => recorded.map((e) => e.streamId)

const assertStrictlyIncreasing = (values: ReadonlyArray<number>): void => {
  for (let index = 1; index < values.length; index++) {
    const previous = values[index - 1]
    const current = values[index]
    if (previous === undefined || current === undefined || !(current > previous)) {
      assert.fail(`not strictly increasing at ${index}: ${previous} then ${current}`)
    }
  }
}

// The whole store, to prove that a failed operation changed nothing.
const snapshot = readAll()

class Opaque {
  constructor(readonly value: number) {}
}

/**
 * The conformance cases for one EventStore layer.
 *
 * @param makeLayer builds a fresh, empty store; called once per case.
 */
export const conformance = (suite: Suite, makeLayer: () => Layer.Layer<EventStore, unknown>): void => {
  const test: Register = (title, body) =>
    suite.test(title, () => Effect.scoped(Effect.provide(Effect.suspend(body), makeLayer())))
  expectedVersions(suite.group, test)
  recordedEvents(suite.group, test)
  atomicBatches(suite.group, test)
  idempotentRetries(suite.group, test)
  readStreamCases(suite.group, test)
  readAllCases(suite.group, test)
  subscribeCases(suite.group, test)
  historyQueries(suite.group, test)
  concurrency(suite.group, test)
  malformedAppends(suite.group, test)
  isolationFromCallers(suite.group, test)
}

type Register = (title: string, body: () => Test) => void

const expectedVersions = (describe: Suite["group"], test: Register): void =>
  describe("expected versions", () => {
    test("\"any\" appends to a missing stream and to an existing one", () =>
      Effect.gen(function*() {
        const first = yield* append("order-1", events(2), "any")
        assert.deepStrictEqual([first.streamId, first.nextExpectedVersion], ["order-1", 2])
        const second = yield* append("order-1", events(1), "any")
        assert.strictEqual(second.nextExpectedVersion, 3)
        assert.deepStrictEqual(versions(yield* readStream("order-1")), [1, 2, 3])
      }))

    test("an absent expected version means \"any\"", () =>
      Effect.gen(function*() {
        yield* append("order-1", events(1))
        const result = yield* append("order-1", events(1))
        assert.strictEqual(result.nextExpectedVersion, 2)
      }))

    test("\"noStream\" appends to a missing stream and refuses an existing one", () =>
      Effect.gen(function*() {
        const result = yield* append("order-1", events(2), "noStream")
        assert.strictEqual(result.nextExpectedVersion, 2)
        const error = yield* failureOf(append("order-1", events(1), "noStream"), "WrongExpectedVersion")
        assert.deepStrictEqual([error.streamId, error.expected, error.actual], ["order-1", "noStream", 2])
        assert.strictEqual(yield* EventStore.use((store) => store.streamVersion("order-1")), 2)
      }))

    test("\"streamExists\" refuses a missing stream and appends to an existing one", () =>
      Effect.gen(function*() {
        const error = yield* failureOf(append("order-1", events(1), "streamExists"), "WrongExpectedVersion")
        assert.deepStrictEqual([error.streamId, error.expected, error.actual], ["order-1", "streamExists", 0])
        assert.deepStrictEqual(yield* readStream("order-1"), [])
        yield* append("order-1", events(1))
        const result = yield* append("order-1", events(1), "streamExists")
        assert.strictEqual(result.nextExpectedVersion, 2)
      }))

    test("an exact version appends only when it equals the stream's version", () =>
      Effect.gen(function*() {
        const created = yield* append("order-1", events(2), 0)
        assert.strictEqual(created.nextExpectedVersion, 2)
        const next = yield* append("order-1", events(1), 2)
        assert.strictEqual(next.nextExpectedVersion, 3)
        const behind = yield* failureOf(append("order-1", events(1), 2), "WrongExpectedVersion")
        assert.deepStrictEqual([behind.expected, behind.actual], [2, 3])
        const ahead = yield* failureOf(append("order-1", events(1), 7), "WrongExpectedVersion")
        assert.deepStrictEqual([ahead.expected, ahead.actual], [7, 3])
        assert.deepStrictEqual(versions(yield* readStream("order-1")), [1, 2, 3])
      }))

    test("an exact version above zero refuses a missing stream, reporting version 0", () =>
      Effect.gen(function*() {
        const error = yield* failureOf(append("order-1", events(1), 3), "WrongExpectedVersion")
        assert.deepStrictEqual([error.streamId, error.expected, error.actual], ["order-1", 3, 0])
        assert.deepStrictEqual(yield* snapshot, [])
      }))
  })

const recordedEvents = (describe: Suite["group"], test: Register): void =>
  describe("recorded events", () => {
    test("versions are 1-based and gapless per stream, positions strictly increase across streams", () =>
      Effect.gen(function*() {
        yield* append("order-1", events(2))
        yield* append("invoice-1", events(1))
        const last = yield* append("order-1", events(3))
        const all = yield* snapshot
        assert.deepStrictEqual(streamIds(all), [
          "order-1",
          "order-1",
          "invoice-1",
          "order-1",
          "order-1",
          "order-1"
        ])
        assert.deepStrictEqual(versions(all), [1, 2, 1, 3, 4, 5])
        assertStrictlyIncreasing(positions(all))
        assert.isTrue((all[0]?.position ?? 0) > 0)
        assert.strictEqual(last.position, all[5]?.position)
        assert.strictEqual(last.nextExpectedVersion, 5)
      }))

    test("an event keeps its given id, type, data, metadata and schema version", () =>
      Effect.gen(function*() {
        yield* append("order-1", [
          event("OrderPlaced", { lines: [{ sku: "a", qty: 2 }], note: null, paid: false }, {
            eventId: "e-1",
            metadata: { correlationId: "c-1", causationId: "cmd-1", user: "ada" },
            schemaVersion: 3
          })
        ])
        const [recorded] = yield* readStream("order-1")
        assert.isDefined(recorded)
        assert.strictEqual(recorded.eventId, "e-1")
        assert.strictEqual(recorded.streamId, "order-1")
        assert.strictEqual(recorded.type, "OrderPlaced")
        assert.deepStrictEqual(recorded.data, { lines: [{ sku: "a", qty: 2 }], note: null, paid: false })
        assert.deepStrictEqual(recorded.metadata, { correlationId: "c-1", causationId: "cmd-1", user: "ada" })
        assert.strictEqual(recorded.schemaVersion, 3)
        assert.strictEqual(recorded.version, 1)
        assert.instanceOf(recorded.recordedAt, Date)
        assert.isFalse(Number.isNaN(recorded.recordedAt.getTime()))
      }))

    test("an event without an id gets a unique one, schema version 1 and empty metadata", () =>
      Effect.gen(function*() {
        yield* append("order-1", events(3))
        const recorded = yield* readStream("order-1")
        assert.strictEqual(new Set(ids(recorded)).size, 3)
        for (const each of recorded) {
          assert.isTrue(each.eventId.length > 0)
          assert.strictEqual(each.schemaVersion, 1)
          assert.deepStrictEqual(each.metadata, {})
        }
      }))

    test("streamVersion is 0 for a missing stream and follows appends, not failed ones", () =>
      Effect.gen(function*() {
        const store = yield* EventStore
        assert.strictEqual(yield* store.streamVersion("order-1"), 0)
        yield* store.append("order-1", events(3))
        assert.strictEqual(yield* store.streamVersion("order-1"), 3)
        yield* failureOf(store.append("order-1", events(2), 1), "WrongExpectedVersion")
        assert.strictEqual(yield* store.streamVersion("order-1"), 3)
        assert.strictEqual(yield* store.streamVersion("order-2"), 0)
      }))
  })

const atomicBatches = (describe: Suite["group"], test: Register): void =>
  describe("atomic batches", () => {
    test("a batch refused for its expected version appends none of its events", () =>
      Effect.gen(function*() {
        yield* append("order-1", events(1))
        const before = yield* snapshot
        yield* failureOf(append("order-1", events(5), "noStream"), "WrongExpectedVersion")
        assert.deepStrictEqual(yield* snapshot, before)
      }))

    test("a batch with one malformed event appends none of its events", () =>
      Effect.gen(function*() {
        yield* append("order-1", events(1))
        const before = yield* snapshot
        const batch = [event("A", { ok: 1 }), event("B", { ok: 2 }), event("C", { bad: () => 1 })]
        yield* failureOf(append("order-1", batch), "InvalidAppend")
        assert.deepStrictEqual(yield* snapshot, before)
      }))

    test("a successful batch is recorded whole, with consecutive versions", () =>
      Effect.gen(function*() {
        const result = yield* append("order-1", events(4))
        const recorded = yield* readStream("order-1")
        assert.deepStrictEqual(versions(recorded), [1, 2, 3, 4])
        assert.deepStrictEqual(recorded.map((e) => e.data), [{ index: 0 }, { index: 1 }, { index: 2 }, {
          index: 3
        }])
        assert.strictEqual(result.position, recorded[3]?.position)
      }))
  })

const idempotentRetries = (describe: Suite["group"], test: Register): void =>
  describe("idempotent retries", () => {
    const batch = [event("A", { n: 1 }, { eventId: "id-a" }), event("B", { n: 2 }, { eventId: "id-b" })]

    for (const expected of [0, "noStream", "any"] as const) {
      test(`re-appending the same ids at expected ${JSON.stringify(expected)} returns the first result and records nothing`, () =>
        Effect.gen(function*() {
          const first = yield* append("order-1", batch, expected)
          const before = yield* snapshot
          const second = yield* append("order-1", batch, expected)
          assert.deepStrictEqual(second, first)
          assert.deepStrictEqual(yield* snapshot, before)
        }))
    }

    test("a retry at an exact version succeeds even after later appends to the stream", () =>
      Effect.gen(function*() {
        yield* append("order-1", events(1))
        const first = yield* append("order-1", batch, 1)
        yield* append("order-1", events(2))
        const before = yield* snapshot
        const retried = yield* append("order-1", batch, 1)
        assert.deepStrictEqual(retried, first)
        assert.deepStrictEqual(yield* snapshot, before)
      }))

    test("a retry at \"streamExists\" succeeds when the events were appended to an existing stream", () =>
      Effect.gen(function*() {
        yield* append("order-1", events(1))
        const first = yield* append("order-1", batch, "streamExists")
        const retried = yield* append("order-1", batch, "streamExists")
        assert.deepStrictEqual(retried, first)
        assert.strictEqual((yield* snapshot).length, 3)
      }))

    test("a batch overlapping recorded ids only in part is an EventIdConflict and appends nothing", () =>
      Effect.gen(function*() {
        yield* append("order-1", batch, 0)
        const before = yield* snapshot
        const overlapping = [batch[0] ?? event("A"), event("C", {}, { eventId: "id-c" })]
        const error = yield* failureOf(append("order-1", overlapping, 0), "EventIdConflict")
        assert.strictEqual(error.streamId, "order-1")
        assert.deepStrictEqual(error.eventIds, ["id-a"])
        assert.deepStrictEqual(yield* snapshot, before)
      }))

    test("recorded ids in a different order are an EventIdConflict", () =>
      Effect.gen(function*() {
        yield* append("order-1", batch, 0)
        const reversed = [...batch].reverse()
        const error = yield* failureOf(append("order-1", reversed, 0), "EventIdConflict")
        assert.sameMembers([...error.eventIds], ["id-a", "id-b"])
        assert.strictEqual((yield* snapshot).length, 2)
      }))

    test("recorded ids with a different type at the same place are an EventIdConflict", () =>
      Effect.gen(function*() {
        yield* append("order-1", batch, 0)
        const retyped = batch.map((each) => ({ ...each, type: "Other" }))
        yield* failureOf(append("order-1", retyped, 0), "EventIdConflict")
        assert.strictEqual((yield* snapshot).length, 2)
      }))

    test("an id recorded in another stream is an EventIdConflict", () =>
      Effect.gen(function*() {
        yield* append("order-1", batch, 0)
        yield* failureOf(append("order-2", batch, 0), "EventIdConflict")
        assert.deepStrictEqual(yield* readStream("order-2"), [])
      }))

    test("the same id twice in one batch is an InvalidAppend", () =>
      Effect.gen(function*() {
        const twice = [event("A", {}, { eventId: "same" }), event("B", {}, { eventId: "same" })]
        const error = yield* failureOf(append("order-1", twice), "InvalidAppend")
        assert.strictEqual(error.streamId, "order-1")
        assert.deepStrictEqual(yield* snapshot, [])
      }))
  })

const readStreamCases = (describe: Suite["group"], test: Register): void =>
  describe("readStream", () => {
    const seeded = Effect.gen(function*() {
      yield* append("order-1", events(10))
      yield* append("order-2", events(3))
    })

    const cases: ReadonlyArray<readonly [string, ReadStreamOptions | undefined, ReadonlyArray<number>]> = [
      ["reads a whole stream forward by default", undefined, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]],
      ["reads forward from a version, inclusive", { from: 8 }, [8, 9, 10]],
      ["reads forward up to a version, inclusive", { to: 3 }, [1, 2, 3]],
      ["reads forward between two versions", { from: 4, to: 6 }, [4, 5, 6]],
      ["reads forward at most limit events", { from: 2, limit: 3 }, [2, 3, 4]],
      ["reads a whole stream backward", { direction: "backward" }, [10, 9, 8, 7, 6, 5, 4, 3, 2, 1]],
      ["reads backward from a version, inclusive", { direction: "backward", from: 3 }, [3, 2, 1]],
      ["reads backward down to a version, inclusive", { direction: "backward", to: 8 }, [10, 9, 8]],
      ["reads backward at most limit events", { direction: "backward", from: 6, limit: 2 }, [6, 5]],
      ["reads nothing past the end", { from: 11 }, []],
      ["reads forward from beyond the end with a limit as nothing", { from: 20, limit: 5 }, []]
    ]
    for (const [title, options, expected] of cases) {
      test(title, () =>
        Effect.gen(function*() {
          yield* seeded
          const recorded = yield* readStream("order-1", options)
          assert.deepStrictEqual(versions(recorded), [...expected])
          assert.isTrue(recorded.every((e) => e.streamId === "order-1"))
        }))
    }

    test("a missing stream reads as empty", () =>
      Effect.gen(function*() {
        yield* seeded
        assert.deepStrictEqual(yield* readStream("order-404"), [])
      }))

    test("stopping early delivers only the events taken", () =>
      Effect.gen(function*() {
        yield* append("order-1", events(5_000))
        const store = yield* EventStore
        const taken = yield* Stream.runCollect(Stream.take(store.readStream("order-1"), 3))
        assert.deepStrictEqual(versions(taken), [1, 2, 3])
      }))

    test("a long stream reads back whole and in order", () =>
      Effect.gen(function*() {
        for (let batch = 0; batch < 10; batch++) yield* append("order-1", events(1_000))
        const recorded = yield* readStream("order-1")
        assert.strictEqual(recorded.length, 10_000)
        assert.isTrue(recorded.every((e, index) => e.version === index + 1))
      }))

    const invalid: ReadonlyArray<readonly [string, ReadStreamOptions]> = [
      ["a negative from", { from: -1 }],
      ["a fractional from", { from: 1.5 }],
      ["a negative to", { to: -2 }],
      ["a zero limit", { limit: 0 }],
      ["a negative limit", { limit: -3 }],
      ["a fractional limit", { limit: 2.5 }]
    ]
    for (const [what, options] of invalid) {
      test(`refuses ${what} with InvalidRead`, () =>
        Effect.gen(function*() {
          yield* seeded
          yield* failureOf(readStream("order-1", options), "InvalidRead")
        }))
    }
  })

const readAllCases = (describe: Suite["group"], test: Register): void =>
  describe("readAll", () => {
    const seeded = Effect.gen(function*() {
      yield* append("order-1", [event("OrderPlaced"), event("OrderPaid")])
      yield* append("invoice-1", [event("InvoiceIssued")])
      yield* append("order-2", [event("OrderPlaced")])
      yield* append("shipment-1", [event("Shipped")])
      yield* append("order-1", [event("OrderShipped")])
    })
    const types = (recorded: ReadonlyArray<RecordedEvent>) => recorded.map((e) => `${e.streamId}:${e.type}`)

    test("reads every stream's events in global order", () =>
      Effect.gen(function*() {
        yield* seeded
        const all = yield* readAll()
        assert.deepStrictEqual(types(all), [
          "order-1:OrderPlaced",
          "order-1:OrderPaid",
          "invoice-1:InvoiceIssued",
          "order-2:OrderPlaced",
          "shipment-1:Shipped",
          "order-1:OrderShipped"
        ])
        assertStrictlyIncreasing(positions(all))
      }))

    test("reads strictly after a checkpoint", () =>
      Effect.gen(function*() {
        yield* seeded
        const all = yield* readAll()
        const checkpoint = all[2]?.position ?? -1
        const after = yield* readAll({ from: checkpoint })
        assert.deepStrictEqual(types(after), types(all.slice(3)))
        const last = all[all.length - 1]?.position ?? -1
        assert.deepStrictEqual(yield* readAll({ from: last }), [])
      }))

    test("keeps only the filtered categories", () =>
      Effect.gen(function*() {
        yield* seeded
        const orders = yield* readAll({ filter: { categories: ["order"] } })
        assert.deepStrictEqual(types(orders), [
          "order-1:OrderPlaced",
          "order-1:OrderPaid",
          "order-2:OrderPlaced",
          "order-1:OrderShipped"
        ])
        const two = yield* readAll({ filter: { categories: ["invoice", "shipment"] } })
        assert.deepStrictEqual(types(two), ["invoice-1:InvoiceIssued", "shipment-1:Shipped"])
      }))

    test("a category matches the whole part before the first dash, not a prefix of it", () =>
      Effect.gen(function*() {
        yield* append("orderline-1", [event("LineAdded")])
        yield* append("order", [event("Bare")])
        yield* append("order-1", [event("OrderPlaced")])
        const orders = yield* readAll({ filter: { categories: ["order"] } })
        assert.deepStrictEqual(types(orders), ["order:Bare", "order-1:OrderPlaced"])
      }))

    test("keeps only the filtered types", () =>
      Effect.gen(function*() {
        yield* seeded
        const placed = yield* readAll({ filter: { types: ["OrderPlaced", "Shipped"] } })
        assert.deepStrictEqual(types(placed), ["order-1:OrderPlaced", "order-2:OrderPlaced", "shipment-1:Shipped"])
      }))

    test("combines category and type filters, and treats empty lists as no filter", () =>
      Effect.gen(function*() {
        yield* seeded
        const both = yield* readAll({ filter: { categories: ["order"], types: ["OrderPlaced", "Shipped"] } })
        assert.deepStrictEqual(types(both), ["order-1:OrderPlaced", "order-2:OrderPlaced"])
        const empty = yield* readAll({ filter: { categories: [], types: [] } })
        assert.strictEqual(empty.length, 6)
      }))

    test("delivers at most limit matching events, after a checkpoint", () =>
      Effect.gen(function*() {
        yield* seeded
        const all = yield* readAll()
        const limited = yield* readAll({ limit: 2, from: all[0]?.position ?? -1, filter: { categories: ["order"] } })
        assert.deepStrictEqual(types(limited), ["order-1:OrderPaid", "order-2:OrderPlaced"])
      }))

    test("reads a large log whole and stops early cheaply", () =>
      Effect.gen(function*() {
        for (let stream = 0; stream < 20; stream++) yield* append(`bulk-${stream}`, events(500))
        const all = yield* readAll()
        assert.strictEqual(all.length, 10_000)
        assertStrictlyIncreasing(positions(all))
        const store = yield* EventStore
        const taken = yield* Stream.runCollect(Stream.take(store.readAll(), 5))
        assert.deepStrictEqual(taken, all.slice(0, 5))
      }))

    const invalid: ReadonlyArray<readonly [string, ReadAllOptions]> = [
      ["a negative checkpoint", { from: -1 }],
      ["a fractional checkpoint", { from: 0.5 }],
      ["a zero limit", { limit: 0 }],
      ["a fractional limit", { limit: 1.5 }]
    ]
    for (const [what, options] of invalid) {
      test(`refuses ${what} with InvalidRead`, () =>
        Effect.gen(function*() {
          yield* seeded
          yield* failureOf(readAll(options), "InvalidRead")
        }))
    }
  })

const subscribeCases = (describe: Suite["group"], test: Register): void =>
  describe("subscribe", () => {
    // Collects `count` events from a subscription in a background fiber, and signals
    // once the first `signalAfter` have arrived (the catch-up part).
    const collect = (count: number, signalAfter: number, options?: Parameters<EventStore["Service"]["subscribe"]>[0]) =>
      Effect.gen(function*() {
        const store = yield* EventStore
        const caughtUp = yield* Deferred.make<void>()
        let seen = 0
        const fiber = yield* Effect.forkChild(
          store.subscribe(options).pipe(
            Stream.tap(() => (++seen === signalAfter ? Deferred.succeed(caughtUp, undefined) : Effect.void)),
            Stream.take(count),
            Stream.runCollect
          )
        )
        if (signalAfter === 0) yield* Deferred.succeed(caughtUp, undefined)
        return { fiber, caughtUp: Deferred.await(caughtUp) }
      })

    test("delivers recorded events, then live ones, in global order", () =>
      Effect.gen(function*() {
        yield* append("order-1", events(2))
        yield* append("order-2", events(1))
        const { fiber, caughtUp } = yield* collect(6, 3)
        yield* caughtUp
        yield* append("order-1", events(2))
        yield* append("order-3", events(1))
        const delivered = yield* Fiber.join(fiber)
        assert.deepStrictEqual(delivered, yield* snapshot)
      }))

    test("resumes strictly after a checkpoint", () =>
      Effect.gen(function*() {
        yield* append("order-1", events(5))
        const all = yield* snapshot
        const checkpoint = all[2]?.position ?? -1
        const { fiber, caughtUp } = yield* collect(3, 2, { from: checkpoint })
        yield* caughtUp
        yield* append("order-2", events(1))
        const delivered = yield* Fiber.join(fiber)
        assert.deepStrictEqual(delivered, (yield* snapshot).slice(3))
      }))

    test("waits for the first event of an empty store", () =>
      Effect.gen(function*() {
        const { fiber } = yield* collect(2, 0)
        yield* Effect.sleep("10 millis")
        yield* append("order-1", events(2))
        assert.deepStrictEqual(yield* Fiber.join(fiber), yield* snapshot)
      }))

    test("filters live and recorded events by category and type", () =>
      Effect.gen(function*() {
        yield* append("order-1", [event("OrderPlaced"), event("OrderPaid")])
        yield* append("invoice-1", [event("InvoiceIssued")])
        const { fiber, caughtUp } = yield* collect(3, 1, {
          filter: { categories: ["order"], types: ["OrderPlaced"] }
        })
        yield* caughtUp
        yield* append("invoice-2", [event("OrderPlaced")])
        yield* append("order-2", [event("OrderPaid"), event("OrderPlaced")])
        yield* append("order-3", [event("OrderPlaced")])
        const delivered = yield* Fiber.join(fiber)
        assert.deepStrictEqual(delivered.map((e) => `${e.streamId}:${e.type}`), [
          "order-1:OrderPlaced",
          "order-2:OrderPlaced",
          "order-3:OrderPlaced"
        ])
      }))

    test("delivers every event appended by concurrent writers exactly once, in global order", () =>
      Effect.gen(function*() {
        yield* append("seed-1", events(5))
        const { fiber, caughtUp } = yield* collect(5 + 20 * 10, 5)
        yield* caughtUp
        yield* Effect.forEach(
          Array.from({ length: 20 }, (_, writer) => writer),
          (writer) =>
            Effect.gen(function*() {
              for (let round = 0; round < 10; round++) {
                yield* append(`writer-${writer}`, events(1))
                yield* Effect.yieldNow
              }
            }),
          { concurrency: "unbounded", discard: true }
        )
        const delivered = yield* Fiber.join(fiber)
        const all = yield* snapshot
        assert.strictEqual(all.length, 205)
        assert.deepStrictEqual(ids(delivered), ids(all))
        assertStrictlyIncreasing(positions(delivered))
      }))

    test("two subscribers each receive every event", () =>
      Effect.gen(function*() {
        const first = yield* collect(4, 0)
        const second = yield* collect(4, 0, { from: 0 })
        yield* append("order-1", events(2))
        yield* append("order-2", events(2))
        const all = yield* snapshot
        assert.deepStrictEqual(yield* Fiber.join(first.fiber), all)
        assert.deepStrictEqual(yield* Fiber.join(second.fiber), all)
      }))

    test("refuses a negative checkpoint with InvalidRead", () =>
      Effect.gen(function*() {
        const store = yield* EventStore
        yield* failureOf(Stream.runCollect(Stream.take(store.subscribe({ from: -1 }), 1)), "InvalidRead")
      }))
  })

// Appends one event after the store's clock has moved past the last recording time, so
// that each event of a history query case has a time of its own.
const appendLater = (streamId: string, batch: ReadonlyArray<NewEvent>) =>
  Effect.gen(function*() {
    const store = yield* EventStore
    const all = yield* Stream.runCollect(store.readAll())
    const last = all[all.length - 1]?.recordedAt.getTime() ?? 0
    while ((yield* Clock.currentTimeMillis) <= last) yield* Effect.sleep("2 millis")
    return yield* append(streamId, batch)
  })

const historyQueries = (describe: Suite["group"], test: Register): void =>
  describe("history queries", () => {
    const request = (correlationId: string) => ({ metadata: { correlationId } })
    const seeded = Effect.gen(function*() {
      yield* appendLater("order-1", [event("OrderPlaced", {}, request("r-1"))])
      yield* appendLater("payment-1", [event("PaymentCharged", {}, request("r-1")), event("Audited")])
      yield* appendLater("order-2", [event("OrderPlaced", {}, request("r-2"))])
      yield* appendLater("order-1", [event("OrderConfirmed", {}, request("r-1"))])
      return yield* readAll()
    })
    const labels = (recorded: ReadonlyArray<RecordedEvent>) => recorded.map((e) => `${e.streamId}:${e.type}`)

    test("finds everything one request caused by its correlation id, across streams, in global order", () =>
      Effect.gen(function*() {
        yield* seeded
        const caused = yield* readAll({ filter: { correlationIds: ["r-1"] } })
        assert.deepStrictEqual(labels(caused), ["order-1:OrderPlaced", "payment-1:PaymentCharged", "order-1:OrderConfirmed"])
        const either = yield* readAll({ filter: { correlationIds: ["r-2", "r-1"], categories: ["order"] } })
        assert.deepStrictEqual(labels(either), ["order-1:OrderPlaced", "order-2:OrderPlaced", "order-1:OrderConfirmed"])
        assert.deepStrictEqual(yield* readAll({ filter: { correlationIds: ["r-9"] } }), [])
      }))

    test("keeps the events recorded within a half-open time range", () =>
      Effect.gen(function*() {
        const all = yield* seeded
        const time = (index: number) => all[index]?.recordedAt ?? new Date(0)
        const middle = yield* readAll({ filter: { recordedAt: { from: time(1), before: time(4) } } })
        assert.deepStrictEqual(labels(middle), labels(all.slice(1, 4)))
        const since = yield* readAll({ filter: { recordedAt: { from: time(3) } } })
        assert.deepStrictEqual(labels(since), labels(all.slice(3)))
        const until = yield* readAll({ filter: { recordedAt: { before: time(1) } } })
        assert.deepStrictEqual(labels(until), labels(all.slice(0, 1)))
        const placedEarly = yield* readAll({ filter: { types: ["OrderPlaced"], recordedAt: { before: time(3) } } })
        assert.deepStrictEqual(labels(placedEarly), ["order-1:OrderPlaced"])
        assert.deepStrictEqual(yield* readAll({ filter: { recordedAt: { from: time(2), before: time(2) } } }), [])
      }))

    test("reads a stream as it was at a time, forward and backward", () =>
      Effect.gen(function*() {
        const all = yield* seeded
        const placedAt = all[0]?.recordedAt ?? new Date(0)
        const early = yield* readStream("order-1", { asOf: placedAt })
        assert.deepStrictEqual(labels(early), ["order-1:OrderPlaced"])
        const backward = yield* readStream("order-1", { direction: "backward", asOf: new Date(Date.now() + 60_000) })
        assert.deepStrictEqual(labels(backward), ["order-1:OrderConfirmed", "order-1:OrderPlaced"])
        assert.deepStrictEqual(yield* readStream("order-1", { asOf: new Date(placedAt.getTime() - 1) }), [])
      }))

    test("recordedAt never goes backwards in global order, under concurrent appends", () =>
      Effect.gen(function*() {
        yield* Effect.all(
          Array.from({ length: 40 }, (_, index) => append(`load-${index % 7}`, events(1 + (index % 3)))),
          { concurrency: "unbounded" }
        )
        const times = (yield* readAll()).map((e) => e.recordedAt.getTime())
        times.forEach((time, index) => {
          const previous = times[index - 1]
          if (previous !== undefined && time < previous) assert.fail(`recordedAt went backwards at index ${index}`)
        })
      }))

    test("a subscription filtered by correlation id delivers recorded then live events", () =>
      Effect.gen(function*() {
        yield* seeded
        const store = yield* EventStore
        const fiber = yield* Effect.forkChild(
          Stream.runCollect(Stream.take(store.subscribe({ filter: { correlationIds: ["r-2"] } }), 2))
        )
        yield* append("invoice-2", [event("InvoiceIssued", {}, request("r-2"))])
        assert.deepStrictEqual(labels(yield* Fiber.join(fiber)), ["order-2:OrderPlaced", "invoice-2:InvoiceIssued"])
      }))

    // Options as untyped JavaScript passes them.
    const untyped = (
      method: "readAll" | "subscribe",
      options: unknown
    ) => EventStore.use((store): Effect.Effect<ReadonlyArray<RecordedEvent>, ReadError> => {
      const stream: Stream.Stream<RecordedEvent, ReadError> = Reflect.apply(store[method], store, [options])
      return Stream.runCollect(Stream.take(stream, 1))
    })
    const invalidFilters: ReadonlyArray<readonly [string, unknown, string]> = [
      ["a correlation id list that is a string", { correlationIds: "r-1" }, "filter.correlationIds"],
      ["a correlation id that is not a string", { correlationIds: [7] }, "filter.correlationIds"],
      ["an unknown filter option (a singular correlationId)", { correlationId: "r-1" }, "\"correlationId\""],
      ["a time range that is not an object", { recordedAt: "today" }, "filter.recordedAt"],
      ["a time that is a string", { recordedAt: { from: "2024-01-01" } }, "filter.recordedAt.from"],
      ["an invalid Date", { recordedAt: { before: new Date(Number.NaN) } }, "filter.recordedAt.before"],
      ["a range whose from is after its before", { recordedAt: { from: new Date(2), before: new Date(1) } }, "swap"],
      ["an unknown time range option", { recordedAt: { until: new Date(1) } }, "\"until\""]
    ]
    for (const [what, filter, says] of invalidFilters) {
      test(`refuses ${what} with InvalidRead, in readAll and subscribe`, () =>
        Effect.gen(function*() {
          const read = yield* failureOf(untyped("readAll", { filter }), "InvalidRead")
          assert.isTrue(read.message.includes(says), `${read.message} does not say ${says}`)
          yield* failureOf(untyped("subscribe", { filter }), "InvalidRead")
        }))
    }

    const invalidAsOf: ReadonlyArray<readonly [string, unknown]> = [
      ["a number", 1_700_000_000_000],
      ["a string", "2024-01-01T00:00:00Z"],
      ["an invalid Date", new Date("not a date")]
    ]
    for (const [what, asOf] of invalidAsOf) {
      test(`refuses an asOf that is ${what} with InvalidRead`, () =>
        Effect.gen(function*() {
          const stream = EventStore.use((store): Effect.Effect<ReadonlyArray<RecordedEvent>, ReadError> => {
            const read: Stream.Stream<RecordedEvent, ReadError> = Reflect.apply(store.readStream, store, ["order-1", { asOf }])
            return Stream.runCollect(read)
          })
          const failure = yield* failureOf(stream, "InvalidRead")
          assert.isTrue(failure.message.includes("asOf"), failure.message)
        }))
    }
  })

const concurrency = (describe: Suite["group"], test: Register): void =>
  describe("concurrency", () => {
    test("of 50 fibers appending at one expected version, exactly one wins", () =>
      Effect.gen(function*() {
        yield* append("order-1", events(1))
        const exits = yield* Effect.forEach(
          Array.from({ length: 50 }, (_, writer) => writer),
          (writer) => Effect.exit(append("order-1", [event("Raced", { writer })], 1)),
          { concurrency: "unbounded" }
        )
        const winners = exits.filter(Exit.isSuccess)
        assert.strictEqual(winners.length, 1)
        for (const exit of exits) {
          if (Exit.isSuccess(exit)) continue
          const error = yield* failureOf(exit, "WrongExpectedVersion")
          assert.deepStrictEqual([error.expected, error.actual], [1, 2])
        }
        const recorded = yield* readStream("order-1")
        assert.deepStrictEqual(versions(recorded), [1, 2])
      }))

    test("50 fibers on 50 streams all win, and the global order keeps each stream's order", () =>
      Effect.gen(function*() {
        const rounds = 5
        yield* Effect.forEach(
          Array.from({ length: 50 }, (_, writer) => writer),
          (writer) =>
            Effect.gen(function*() {
              for (let round = 0; round < rounds; round++) {
                yield* append(`account-${writer}`, events(2), round * 2)
                yield* Effect.yieldNow
              }
            }),
          { concurrency: "unbounded", discard: true }
        )
        const all = yield* snapshot
        assert.strictEqual(all.length, 50 * rounds * 2)
        assertStrictlyIncreasing(positions(all))
        const seen = new Map<string, number>()
        for (const each of all) {
          const previous = seen.get(each.streamId) ?? 0
          assert.strictEqual(each.version, previous + 1, `${each.streamId} skipped from ${previous}`)
          seen.set(each.streamId, each.version)
        }
        assert.strictEqual(seen.size, 50)
        assert.isTrue([...seen.values()].every((version) => version === rounds * 2))
      }))
  })

const malformedAppends = (describe: Suite["group"], test: Register): void =>
  describe("malformed appends", () => {
    const cycle: Record<string, unknown> = { name: "loop" }
    cycle.self = cycle
    const cases: ReadonlyArray<readonly [string, string, ReadonlyArray<NewEvent>, ExpectedVersion]> = [
      ["an empty stream id", "", events(1), "any"],
      ["an empty batch", "order-1", [], "any"],
      ["a negative expected version", "order-1", events(1), -1],
      ["a fractional expected version", "order-1", events(1), 1.5],
      ["a non-finite expected version", "order-1", events(1), Number.POSITIVE_INFINITY],
      ["an empty event type", "order-1", [event("")], "any"],
      ["a function in the data", "order-1", [event("A", { callback: () => 1 })], "any"],
      ["a bigint in the data", "order-1", [event("A", { amount: 10n })], "any"],
      ["a cycle in the data", "order-1", [event("A", cycle)], "any"],
      ["undefined inside the data", "order-1", [event("A", { missing: undefined })], "any"],
      ["undefined as the data", "order-1", [{ type: "A", data: undefined }], "any"],
      ["undefined in an array in the data", "order-1", [event("A", { list: [1, undefined] })], "any"],
      ["a Date in the data", "order-1", [event("A", { at: new Date(0) })], "any"],
      ["a class instance in the data", "order-1", [event("A", new Opaque(1))], "any"],
      ["NaN in the data", "order-1", [event("A", { amount: Number.NaN })], "any"],
      ["Infinity in the data", "order-1", [event("A", [Number.POSITIVE_INFINITY])], "any"],
      ["NaN in the metadata", "order-1", [event("A", {}, { metadata: { amount: Number.NaN } })], "any"],
      ["a schema version of 0", "order-1", [event("A", {}, { schemaVersion: 0 })], "any"],
      ["a fractional schema version", "order-1", [event("A", {}, { schemaVersion: 1.5 })], "any"],
      ["an empty event id", "order-1", [event("A", {}, { eventId: "" })], "any"]
    ]
    for (const [what, streamId, batch, expected] of cases) {
      test(`refuses ${what} with InvalidAppend and appends nothing`, () =>
        Effect.gen(function*() {
          const error = yield* failureOf(append(streamId, batch, expected), "InvalidAppend")
          assert.strictEqual(error.streamId, streamId)
          assert.isTrue(error.reason.length > 0)
          assert.deepStrictEqual(yield* snapshot, [])
          if (streamId !== "") assert.strictEqual(yield* EventStore.use((s) => s.streamVersion(streamId)), 0)
        }))
    }

    test("refuses malformed input even when the expected version is also wrong", () =>
      Effect.gen(function*() {
        yield* append("order-1", events(1))
        yield* failureOf(append("order-1", [event("A", { f: () => 1 })], 5), "InvalidAppend")
      }))
  })

const isolationFromCallers = (describe: Suite["group"], test: Register): void =>
  describe("isolation from callers", () => {
    test("mutating the appended data afterwards does not change the stored event", () =>
      Effect.gen(function*() {
        const data = { amount: 10, lines: [{ sku: "a" }] }
        const metadata = { correlationId: "c-1", tags: ["x"] }
        yield* append("order-1", [{ type: "OrderPlaced", data, metadata }])
        data.amount = 99
        data.lines.push({ sku: "b" })
        metadata.tags.push("y")
        const [recorded] = yield* readStream("order-1")
        assert.deepStrictEqual(recorded?.data, { amount: 10, lines: [{ sku: "a" }] })
        assert.deepStrictEqual(recorded?.metadata, { correlationId: "c-1", tags: ["x"] })
      }))

    test("mutating an event read from the store does not change what the next reader sees", () =>
      Effect.gen(function*() {
        yield* append("order-1", [event("OrderPlaced", { amount: 10, lines: [{ sku: "a" }] })])
        const [read] = yield* readStream("order-1")
        const data = read?.data
        // Reflect.set reports refusal instead of throwing, so this works for frozen
        // and for freshly decoded objects alike.
        if (typeof data === "object" && data !== null) Reflect.set(data, "amount", 99)
        if (read !== undefined) Reflect.set(read, "type", "Tampered")
        const [again] = yield* readStream("order-1")
        assert.deepStrictEqual(again?.data, { amount: 10, lines: [{ sku: "a" }] })
        assert.strictEqual(again?.type, "OrderPlaced")
      }))
  })
