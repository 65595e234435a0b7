/**
 * Model-based test of an EventStore layer: random histories of appends (right and wrong
 * expected versions, chosen and generated ids, retries, malformed input) and reads, each
 * answer compared with a small pure model of the contract.
 *
 * `makeLayer` is called once per generated history and must give a fresh, empty store.
 *
 * The model pins down what the conformance suite leaves to judgement, so every layer
 * answers alike:
 * - malformed input (shape, an id or type no layer can store, a non-string correlation id,
 *   duplicate ids in the batch, non-JSON data or metadata) is `InvalidAppend` whatever
 *   else is wrong with the append; reading a stream whose id is malformed is `InvalidRead`;
 * - when some of the batch's ids are recorded anywhere, the answer is decided by them: the
 *   original result if the batch is exactly a recorded run of this stream, with the same
 *   type, data, metadata and schema version, starting where the expected version says;
 *   otherwise `EventIdConflict` listing the recorded ids in batch order. Only then is the
 *   expected version checked.
 * - positions are opaque but strictly increasing in the model's global order.
 *
 * Its names, ids and payloads include what untyped callers send: lone surrogates, U+0000,
 * ids one character past the limit, non-string correlation ids.
 */
import { Effect, Exit, Stream } from "effect"
import type { Layer } from "effect"
import { isDeepStrictEqual } from "node:util"
import * as fc from "fast-check"
import { categoryOf, EventStore } from "../../EventStore.js"
import type {
  AppendError,
  AppendResult,
  EventFilter,
  ExpectedVersion,
  Json,
  NewEvent,
  Position,
  ReadError,
  RecordedEvent
} from "../../EventStore.js"
import * as assert from "./assert.js"
import { appendUntyped } from "./conformance.js"
import type { Suite } from "./suite.js"

// ---------------------------------------------------------------------------
// Operations
// ---------------------------------------------------------------------------

// "orderline-1" shares a prefix with the category "order" without belonging to it. The
// rest is what untyped callers send: names no layer can store unchanged (a lone surrogate,
// U+0000, one character too long) beside unusual names every layer must keep.
const streamNames = [
  "order-1",
  "order-2",
  "invoice-1",
  "audit",
  "orderline-1",
  "order-été-🍰",
  "order-" + "x".repeat(250),
  "cart-\uD83D",
  "cart\u0000-1",
  "order-" + "x".repeat(251)
] as const
const typeNames = ["Placed", "Paid", "Shipped", "Placé-🍰", "\uDE00Placed"] as const
const idPool = ["id-0", "id-1", "id-2", "id-3", "id-4", "id-5", "id-6", "id-7", "id-🍰", "id-\uD83D", "i".repeat(257)] as const

// The contract's rule for ids and types, stated again here so that the model checks the
// layers rather than agreeing with them by construction.
const validName = (name: string): boolean =>
  name.length >= 1 && name.length <= 256 && !/\p{Cs}/u.test(name) && !name.includes("\u0000")

// Strings that mix ordinary text with what JSON must carry through every layer: U+0000,
// lone surrogates, separators and astral characters.
const awkwardUnit = fc.oneof(
  { arbitrary: fc.string({ unit: "binary", minLength: 1, maxLength: 1 }), weight: 4 },
  { arbitrary: fc.constantFrom("\u0000", "\uD83D", "\uDE00", "\u2028", "🍰", "\uFFFF", "\""), weight: 1 }
)

interface GeneratedEvent {
  readonly type: string
  readonly data: Json
  readonly eventId: string | undefined
  readonly schemaVersion: number | undefined
  // Any JSON from an untyped caller: only a string is a valid correlation id.
  readonly correlationId: Json | undefined
}

type Malformation = "emptyStreamId" | "emptyBatch" | "negativeExpected" | "emptyType" | "functionInData"

type Operation =
  | {
    readonly _tag: "Append"
    readonly streamId: string
    readonly events: ReadonlyArray<GeneratedEvent>
    readonly expected: GeneratedExpected
  }
  // Repeats an earlier append (the `pick`-th, modulo): exactly, as a client retry does, or
  // with another expected version, or with the first event's data or metadata changed.
  | {
    readonly _tag: "Retry"
    readonly pick: number
    readonly expected: GeneratedExpected | undefined
    readonly alter: "nothing" | "data" | "metadata"
  }
  | { readonly _tag: "Malformed"; readonly streamId: string; readonly malformation: Malformation }
  | {
    readonly _tag: "ReadStream"
    readonly streamId: string
    readonly direction: "forward" | "backward"
    readonly from: number | undefined
    readonly to: number | undefined
    readonly limit: number | undefined
  }
  // `checkpoint` picks one of the positions an append has reported (modulo), or the start.
  | {
    readonly _tag: "ReadAll"
    readonly checkpoint: number
    readonly filter: GeneratedFilter
    readonly limit: number | undefined
    readonly subscribe: boolean
  }
  | { readonly _tag: "ReadStreamAsOf"; readonly streamId: string; readonly direction: "forward" | "backward"; readonly asOf: TimePick }
  | { readonly _tag: "StreamVersion"; readonly streamId: string }

// A recording time as generated: the time of the `ordinal`-th recorded event (modulo),
// shifted by a millisecond or not, so that range ends fall on, just before and just
// after recorded times. Picked once the store has told the times.
interface TimePick {
  readonly ordinal: number
  readonly shift: -1 | 0 | 1
}

interface GeneratedFilter {
  readonly categories: ReadonlyArray<string>
  readonly types: ReadonlyArray<string>
  readonly correlationIds: ReadonlyArray<string>
  readonly from: TimePick | undefined
  readonly before: TimePick | undefined
}

const timePick: fc.Arbitrary<TimePick> = fc.record({ ordinal: fc.nat(30), shift: fc.constantFrom(-1 as const, 0 as const, 1 as const) })

const optional = <A>(arbitrary: fc.Arbitrary<A>): fc.Arbitrary<A | undefined> =>
  fc.option(arbitrary, { nil: undefined, freq: 2 })

/** A generated JSON value as JSON gives it back: no negative zero, no undefined fields. @internal */
export const asStored = (value: fc.JsonValue): Json =>
  typeof value === "number"
    ? (value === 0 ? 0 : value)
    : Array.isArray(value)
    ? value.map(asStored)
    : typeof value === "object" && value !== null
    ? Object.fromEntries(
      Object.entries(value).flatMap(([key, field]) => field === undefined ? [] : [[key, asStored(field)] as const])
    )
    : value

const generatedEvent: fc.Arbitrary<GeneratedEvent> = fc.record({
  type: fc.constantFrom(...typeNames),
  data: fc.jsonValue({ maxDepth: 2, stringUnit: awkwardUnit }).map(asStored),
  eventId: optional(fc.constantFrom(...idPool)),
  schemaVersion: optional(fc.integer({ min: 1, max: 3 })),
  correlationId: optional(fc.oneof(
    { arbitrary: fc.constantFrom<Json>("c-1", "c-2", "c-\u0000-\uD83D"), weight: 6 },
    { arbitrary: fc.constantFrom<Json>(5, null, { id: "c-1" }), weight: 1 }
  ))
})

// An expected version as generated: absolute, or relative to the stream's version when
// the operation runs, so that exact versions are right (or off by one) often enough.
type GeneratedExpected = ExpectedVersion | { readonly relative: -1 | 0 | 1 }

const expectedVersion: fc.Arbitrary<GeneratedExpected> = fc.oneof(
  fc.constantFrom<ExpectedVersion>("any", "noStream", "streamExists"),
  fc.integer({ min: 0, max: 6 }),
  fc.constantFrom({ relative: -1 } as const, { relative: 0 } as const, { relative: 1 } as const),
  fc.constant({ relative: 0 } as const)
)

const operation: fc.Arbitrary<Operation> = fc.oneof(
  {
    arbitrary: fc.record({
      _tag: fc.constant("Append" as const),
      streamId: fc.constantFrom(...streamNames),
      events: fc.array(generatedEvent, { minLength: 1, maxLength: 3 }),
      expected: expectedVersion
    }),
    weight: 6
  },
  {
    arbitrary: fc.record({
      _tag: fc.constant("Retry" as const),
      pick: fc.nat(20),
      expected: optional(expectedVersion),
      alter: fc.constantFrom("nothing" as const, "nothing" as const, "data" as const, "metadata" as const)
    }),
    weight: 3
  },
  {
    arbitrary: fc.record({
      _tag: fc.constant("Malformed" as const),
      streamId: fc.constantFrom(...streamNames),
      malformation: fc.constantFrom<Malformation>(
        "emptyStreamId",
        "emptyBatch",
        "negativeExpected",
        "emptyType",
        "functionInData"
      )
    }),
    weight: 1
  },
  {
    arbitrary: fc.record({
      _tag: fc.constant("ReadStream" as const),
      streamId: fc.constantFrom(...streamNames),
      direction: fc.constantFrom("forward" as const, "backward" as const),
      from: optional(fc.integer({ min: 0, max: 8 })),
      to: optional(fc.integer({ min: 0, max: 8 })),
      limit: optional(fc.integer({ min: 1, max: 4 }))
    }),
    weight: 3
  },
  {
    arbitrary: fc.record({
      _tag: fc.constant("ReadAll" as const),
      checkpoint: fc.nat(20),
      filter: fc.record({
        categories: fc.subarray(["order", "invoice", "audit", "orderline", "missing"]),
        types: fc.subarray([...typeNames]),
        correlationIds: fc.subarray(["c-1", "c-2", "c-\u0000-\uD83D", "c-none"]),
        from: fc.option(timePick, { nil: undefined, freq: 3 }),
        before: fc.option(timePick, { nil: undefined, freq: 3 })
      }),
      limit: optional(fc.integer({ min: 1, max: 5 })),
      subscribe: fc.boolean()
    }),
    weight: 3
  },
  {
    arbitrary: fc.record({
      _tag: fc.constant("ReadStreamAsOf" as const),
      streamId: fc.constantFrom(...streamNames.slice(0, 6)),
      direction: fc.constantFrom("forward" as const, "backward" as const),
      asOf: timePick
    }),
    weight: 1
  },
  {
    arbitrary: fc.record({ _tag: fc.constant("StreamVersion" as const), streamId: fc.constantFrom(...streamNames) }),
    weight: 1
  }
)

// ---------------------------------------------------------------------------
// The model
// ---------------------------------------------------------------------------

/** A recorded event as the model knows it; `ordinal` is its 1-based place in global order. */
interface ModelEvent {
  readonly ordinal: number
  readonly streamId: string
  readonly version: number
  readonly type: string
  readonly data: Json
  readonly metadata: { readonly [key: string]: Json }
  readonly eventId: string | undefined
  readonly schemaVersion: number
}

interface Model {
  readonly log: Array<ModelEvent>
}

/** What an append answers: the result (with the ordinal its position must match) or an error. */
type AppendAnswer =
  | { readonly _tag: "Success"; readonly nextExpectedVersion: number; readonly ordinal: number }
  | { readonly _tag: "WrongExpectedVersion"; readonly expected: ExpectedVersion; readonly actual: number }
  | { readonly _tag: "EventIdConflict"; readonly eventIds: ReadonlyArray<string> }
  | { readonly _tag: "InvalidAppend" }

const streamOf = (model: Model, streamId: string): ReadonlyArray<ModelEvent> =>
  model.log.filter((event) => event.streamId === streamId)

const holds = (expected: ExpectedVersion, current: number): boolean =>
  expected === "any" ||
  (expected === "noStream" ? current === 0 : expected === "streamExists" ? current > 0 : current === expected)

const retryPlaced = (expected: ExpectedVersion, firstVersion: number): boolean =>
  expected === "any" ||
  (expected === "noStream"
    ? firstVersion === 1
    : expected === "streamExists"
    ? firstVersion > 1
    : firstVersion === expected + 1)

const metadataOf = (event: GeneratedEvent): { readonly [key: string]: Json } =>
  event.correlationId === undefined ? {} : { correlationId: event.correlationId }

const wellFormed = (streamId: string, events: ReadonlyArray<GeneratedEvent>): boolean =>
  validName(streamId) && events.every((event) =>
    validName(event.type) && (event.eventId === undefined || validName(event.eventId)) &&
    (event.correlationId === undefined || typeof event.correlationId === "string")
  )

/** The model's answer to an append, recording the events when it succeeds. */
const modelAppend = (
  model: Model,
  streamId: string,
  events: ReadonlyArray<GeneratedEvent>,
  expected: ExpectedVersion
): AppendAnswer => {
  if (!wellFormed(streamId, events)) return { _tag: "InvalidAppend" }
  const chosen = events.flatMap((event) => (event.eventId === undefined ? [] : [event.eventId]))
  if (new Set(chosen).size !== chosen.length) return { _tag: "InvalidAppend" }
  const recorded = chosen.filter((id) => model.log.some((event) => event.eventId === id))
  const stream = streamOf(model, streamId)
  if (recorded.length > 0) {
    const first = model.log.find((event) => event.eventId === events[0]?.eventId)
    const faithful = recorded.length === events.length && first !== undefined && first.streamId === streamId &&
      retryPlaced(expected, first.version) &&
      events.every((event, index) => {
        const at = stream[first.version - 1 + index]
        return at !== undefined && at.eventId === event.eventId && at.type === event.type &&
          at.schemaVersion === (event.schemaVersion ?? 1) && isDeepStrictEqual(at.data, event.data) &&
          isDeepStrictEqual(at.metadata, metadataOf(event))
      })
    if (!faithful || first === undefined) return { _tag: "EventIdConflict", eventIds: recorded }
    const last = stream[first.version - 2 + events.length]
    return last === undefined
      ? { _tag: "EventIdConflict", eventIds: recorded }
      : { _tag: "Success", nextExpectedVersion: last.version, ordinal: last.ordinal }
  }
  if (!holds(expected, stream.length)) return { _tag: "WrongExpectedVersion", expected, actual: stream.length }
  events.forEach((event, index) => {
    model.log.push({
      ordinal: model.log.length + 1,
      streamId,
      version: stream.length + index + 1,
      type: event.type,
      data: event.data,
      metadata: metadataOf(event),
      eventId: event.eventId,
      schemaVersion: event.schemaVersion ?? 1
    })
  })
  return { _tag: "Success", nextExpectedVersion: stream.length + events.length, ordinal: model.log.length }
}

const modelReadStream = (
  model: Model,
  operation: Extract<Operation, { _tag: "ReadStream" }>
): ReadonlyArray<ModelEvent> => {
  const stream = streamOf(model, operation.streamId)
  const budget = operation.limit ?? Number.POSITIVE_INFINITY
  if (operation.direction === "forward") {
    const from = operation.from ?? 1
    const to = operation.to ?? Number.POSITIVE_INFINITY
    return stream.filter((event) => event.version >= from && event.version <= to).slice(0, budget)
  }
  const from = operation.from ?? Number.POSITIVE_INFINITY
  const to = operation.to ?? 1
  return stream.filter((event) => event.version <= from && event.version >= to).reverse().slice(0, budget)
}

// The filter with its times picked from what the store told (`times[i]`: the recording
// time of ordinal i + 1), as a caller would pass it.
const pickedFilter = (filter: GeneratedFilter, times: ReadonlyArray<number>): EventFilter => {
  const from = pickTime(filter.from, times)
  const before = pickTime(filter.before, times)
  const [low, high] = from !== undefined && before !== undefined && from > before ? [before, from] : [from, before]
  return {
    categories: filter.categories,
    types: filter.types,
    correlationIds: filter.correlationIds,
    ...(low === undefined && high === undefined ? {} : {
      recordedAt: {
        ...(low === undefined ? {} : { from: new Date(low) }),
        ...(high === undefined ? {} : { before: new Date(high) })
      }
    })
  }
}

const pickTime = (pick: TimePick | undefined, times: ReadonlyArray<number>): number | undefined => {
  if (pick === undefined || times.length === 0) return undefined
  const time = times[pick.ordinal % times.length]
  return time === undefined ? undefined : time + pick.shift
}

// The filter's meaning, stated again here from the contract's words.
const modelReadAll = (
  model: Model,
  afterOrdinal: number,
  filter: EventFilter,
  limit: number | undefined,
  times: ReadonlyArray<number>
): ReadonlyArray<ModelEvent> => {
  const categories = filter.categories ?? []
  const types = filter.types ?? []
  const correlationIds = filter.correlationIds ?? []
  const from = filter.recordedAt?.from?.getTime() ?? Number.NEGATIVE_INFINITY
  const before = filter.recordedAt?.before?.getTime() ?? Number.POSITIVE_INFINITY
  return model.log
    .filter((event) => {
      const time = times[event.ordinal - 1] ?? Number.NaN
      const correlationId = event.metadata.correlationId
      return event.ordinal > afterOrdinal &&
        (categories.length === 0 || categories.includes(categoryOf(event.streamId))) &&
        (types.length === 0 || types.includes(event.type)) &&
        (correlationIds.length === 0 || (typeof correlationId === "string" && correlationIds.includes(correlationId))) &&
        time >= from && time < before
    })
    .slice(0, limit ?? Number.POSITIVE_INFINITY)
}

// ---------------------------------------------------------------------------
// Running a history against a store
// ---------------------------------------------------------------------------

// A plain object, as untyped callers build it: `correlationId` may be any JSON value.
const toNewEvent = (event: GeneratedEvent): object => ({
  type: event.type,
  data: event.data,
  ...(event.eventId === undefined ? {} : { eventId: event.eventId }),
  ...(event.schemaVersion === undefined ? {} : { schemaVersion: event.schemaVersion }),
  ...(event.correlationId === undefined ? {} : { metadata: { correlationId: event.correlationId } })
})

const malformedAppend = (
  streamId: string,
  malformation: Malformation
): readonly [string, ReadonlyArray<NewEvent>, ExpectedVersion] => {
  switch (malformation) {
    case "emptyStreamId":
      return ["", [{ type: "Placed", data: {} }], "any"]
    case "emptyBatch":
      return [streamId, [], "any"]
    case "negativeExpected":
      return [streamId, [{ type: "Placed", data: {} }], -1]
    case "emptyType":
      return [streamId, [{ type: "", data: {} }], "any"]
    case "functionInData":
      return [streamId, [{ type: "Placed", data: { run: () => 1 } }], "any"]
  }
}

// A retried batch with its first event's data or metadata changed, as a client that
// rebuilt the batch instead of resending it would send.
const altered = (
  events: ReadonlyArray<GeneratedEvent>,
  alter: "nothing" | "data" | "metadata"
): ReadonlyArray<GeneratedEvent> => {
  const [first, ...rest] = events
  if (first === undefined || alter === "nothing") return events
  return alter === "data"
    ? [{ ...first, data: { changed: first.data } }, ...rest]
    : [{ ...first, correlationId: first.correlationId === "c-1" ? "c-2" : "c-1" }, ...rest]
}

/** How a recorded event compares with the model: everything but the opaque parts. */
const comparable = (event: RecordedEvent | ModelEvent) => ({
  streamId: event.streamId,
  version: event.version,
  type: event.type,
  data: event.data,
  metadata: event.metadata,
  schemaVersion: event.schemaVersion
})

interface Run {
  readonly model: Model
  // What the store reported for each model ordinal it has revealed: position and id.
  readonly positions: Map<number, Position>
  readonly ids: Map<number, string>
  // Earlier appends, for retries.
  readonly history: Array<Extract<Operation, { _tag: "Append" }>>
  readonly resolved: Map<Extract<Operation, { _tag: "Append" }>, ExpectedVersion>
  readonly trace: Array<string>
  // The recording time of each ordinal the store has told, in epoch milliseconds.
  readonly times: Array<number>
}

const learnPosition = (run: Run, ordinal: number, position: Position): void => {
  const known = run.positions.get(ordinal)
  if (known !== undefined) assert.strictEqual(position, known, `ordinal ${ordinal} moved from ${known} to ${position}`)
  for (const [other, at] of run.positions) {
    if (other < ordinal) assert.isBelow(at, position, `position of ordinal ${other} is not below that of ${ordinal}`)
    if (other > ordinal) assert.isAbove(at, position, `position of ordinal ${other} is not above that of ${ordinal}`)
  }
  run.positions.set(ordinal, position)
}

// Compares events read from the store with the model's, learning positions and ids.
const compareEvents = (
  run: Run,
  actual: ReadonlyArray<RecordedEvent>,
  expected: ReadonlyArray<ModelEvent>
): void => {
  assert.deepStrictEqual(actual.map(comparable), expected.map(comparable))
  expected.forEach((model, index) => {
    const event = actual[index]
    if (event === undefined) return
    if (model.eventId !== undefined) assert.strictEqual(event.eventId, model.eventId)
    const knownId = run.ids.get(model.ordinal)
    if (knownId !== undefined) assert.strictEqual(event.eventId, knownId, "an event's id changed between reads")
    run.ids.set(model.ordinal, event.eventId)
    learnPosition(run, model.ordinal, event.position)
  })
}

const compareAppend = (
  run: Run,
  streamId: string,
  exit: Exit.Exit<AppendResult, AppendError>,
  expected: AppendAnswer
): void => {
  if (Exit.isSuccess(exit)) {
    assert.strictEqual(expected._tag, "Success", `the store appended, the model says ${expected._tag}`)
    if (expected._tag !== "Success") return
    assert.deepStrictEqual(
      [exit.value.streamId, exit.value.nextExpectedVersion],
      [streamId, expected.nextExpectedVersion]
    )
    learnPosition(run, expected.ordinal, exit.value.position)
    return
  }
  const error = Exit.findErrorOption(exit)
  assert.isTrue(error._tag === "Some", `the append died: ${String(exit.cause)}`)
  if (error._tag !== "Some") return
  const failure = error.value
  assert.strictEqual(failure._tag, expected._tag, `store: ${failure.message}`)
  switch (failure._tag) {
    case "WrongExpectedVersion":
      assert.deepStrictEqual(
        { streamId: failure.streamId, expected: failure.expected, actual: failure.actual },
        expected._tag === "WrongExpectedVersion" ? { streamId, expected: expected.expected, actual: expected.actual } : {}
      )
      return
    case "EventIdConflict":
      assert.deepStrictEqual(
        { streamId: failure.streamId, eventIds: [...failure.eventIds] },
        expected._tag === "EventIdConflict" ? { streamId, eventIds: [...expected.eventIds] } : {}
      )
      return
    case "InvalidAppend":
      assert.strictEqual(failure.streamId, streamId)
      return
    case "StorageError":
      assert.fail(`storage failed: ${failure.message}`)
  }
}

const collect = (stream: Stream.Stream<RecordedEvent, ReadError>) => Stream.runCollect(stream)

const step = (run: Run, operation: Operation) =>
  Effect.gen(function*() {
    const store = yield* EventStore
    const { model } = run
    switch (operation._tag) {
      case "Append":
      case "Retry": {
        const earlier = operation._tag === "Append" ? operation : run.history[operation.pick % run.history.length]
        if (earlier === undefined) return
        const generated = operation._tag === "Retry" && operation.expected !== undefined
          ? operation.expected
          : earlier.expected
        const current = streamOf(model, earlier.streamId).length
        // A retry repeats the expected version it first resolved to, as a client would.
        const expected = operation._tag === "Retry" && operation.expected === undefined
          ? run.resolved.get(earlier) ?? "any"
          : typeof generated === "object"
          ? Math.max(0, current + generated.relative)
          : generated
        if (operation._tag === "Append") {
          run.history.push(operation)
          run.resolved.set(operation, expected)
        }
        const events = operation._tag === "Retry" ? altered(earlier.events, operation.alter) : earlier.events
        const append = { ...earlier, events, expected }
        run.trace.push(`append ${append.streamId} ${JSON.stringify(append.events.map((e) => [e.type, e.eventId]))} at ${String(append.expected)}`)
        const exit = yield* Effect.exit(appendUntyped(append.streamId, append.events.map(toNewEvent), append.expected))
        compareAppend(run, append.streamId, exit, modelAppend(model, append.streamId, append.events, append.expected))
        return
      }
      case "Malformed": {
        const [streamId, events, expected] = malformedAppend(operation.streamId, operation.malformation)
        run.trace.push(`malformed ${operation.malformation}`)
        const exit = yield* Effect.exit(store.append(streamId, events, expected))
        compareAppend(run, streamId, exit, { _tag: "InvalidAppend" })
        return
      }
      case "ReadStream": {
        const { streamId, direction, from, to, limit } = operation
        run.trace.push(`readStream ${streamId} ${JSON.stringify({ direction, from, to, limit })}`)
        if (!validName(streamId)) {
          const exit = yield* Effect.exit(collect(store.readStream(streamId)))
          const failure = Exit.isFailure(exit) ? Exit.findErrorOption(exit) : undefined
          assert.strictEqual(failure?._tag === "Some" ? failure.value._tag : "no failure", "InvalidRead")
          return
        }
        const events = yield* collect(store.readStream(streamId, {
          direction,
          ...(from === undefined ? {} : { from }),
          ...(to === undefined ? {} : { to }),
          ...(limit === undefined ? {} : { limit })
        }))
        compareEvents(run, events, modelReadStream(model, operation))
        return
      }
      case "ReadAll": {
        const known = [0, ...[...run.positions.keys()].sort((a, b) => a - b)]
        const ordinal = known[operation.checkpoint % known.length] ?? 0
        const from = ordinal === 0 ? 0 : run.positions.get(ordinal) ?? 0
        yield* learnTimes(run)
        const filter = pickedFilter(operation.filter, run.times)
        const { limit } = operation
        const expected = modelReadAll(model, ordinal, filter, limit, run.times)
        if (operation.subscribe) {
          run.trace.push(`subscribe after ordinal ${ordinal} ${JSON.stringify(filter)}, expecting ${expected.length}`)
          const events = yield* collect(Stream.take(store.subscribe({ from, filter }), expected.length)).pipe(
            Effect.timeoutOrElse({ duration: "20 seconds", orElse: () => Effect.die(new Error("the subscription delivered too few events")) })
          )
          compareEvents(run, events, expected)
          return
        }
        run.trace.push(`readAll after ordinal ${ordinal} ${JSON.stringify({ filter, limit })}`)
        const events = yield* collect(store.readAll({ from, filter, ...(limit === undefined ? {} : { limit }) }))
        compareEvents(run, events, expected)
        return
      }
      case "ReadStreamAsOf": {
        const { streamId, direction } = operation
        yield* learnTimes(run)
        const asOf = pickTime(operation.asOf, run.times)
        if (asOf === undefined) return
        run.trace.push(`readStream ${streamId} ${direction} as of ${new Date(asOf).toISOString()}`)
        const events = yield* collect(store.readStream(streamId, { direction, asOf: new Date(asOf) }))
        const prefix = streamOf(model, streamId).filter((event) => (run.times[event.ordinal - 1] ?? Number.NaN) <= asOf)
        compareEvents(run, events, direction === "forward" ? prefix : [...prefix].reverse())
        return
      }
      case "StreamVersion": {
        run.trace.push(`streamVersion ${operation.streamId}`)
        const version = yield* store.streamVersion(operation.streamId)
        assert.strictEqual(version, streamOf(model, operation.streamId).length)
        return
      }
    }
  })

// Reads the whole log to learn each event's recording time, checking that recording
// times never go backwards in global order and never change once told.
const learnTimes = (run: Run) =>
  Effect.gen(function*() {
    const store = yield* EventStore
    const events = yield* collect(store.readAll())
    compareEvents(run, events, run.model.log)
    let previous = Number.NEGATIVE_INFINITY
    events.forEach((event, index) => {
      const time = event.recordedAt.getTime()
      assert.isFalse(time < previous, `recordedAt went backwards at position ${event.position}`)
      const told = run.times[index]
      if (told !== undefined) assert.strictEqual(time, told, `the recordedAt of position ${event.position} changed`)
      run.times[index] = time
      previous = time
    })
  })

const history = (operations: ReadonlyArray<Operation>) =>
  Effect.gen(function*() {
    const run: Run = {
      model: { log: [] },
      positions: new Map(),
      ids: new Map(),
      history: [],
      resolved: new Map(),
      trace: [],
      times: []
    }
    for (const operation of operations) {
      yield* step(run, operation).pipe(
        Effect.tapDefect(() => Effect.sync(() => console.error(`history so far:\n  ${run.trace.join("\n  ")}`)))
      )
    }
    // Finally the whole log, which also checks every position an append reported.
    yield* learnTimes(run)
    assert.strictEqual(new Set(run.ids.values()).size, run.model.log.length, "event ids are not unique")
  })

/**
 * The model-based test for one EventStore layer, as one case.
 *
 * @param makeLayer builds a fresh, empty store; called once per generated history.
 * @param options `numRuns` histories (default 200) of up to `maxOperations` (default 50).
 */
export const modelTest = (
  suite: Suite,
  makeLayer: () => Layer.Layer<EventStore, unknown>,
  options: { readonly numRuns?: number; readonly maxOperations?: number; readonly seed?: number } = {}
): void => {
  suite.test("answers every random history of appends and reads as the model does", () =>
    Effect.promise(() =>
      fc.assert(
        fc.asyncProperty(fc.array(operation, { maxLength: options.maxOperations ?? 50, size: "max" }), (operations) =>
          Effect.runPromise(Effect.scoped(history(operations).pipe(Effect.provide(makeLayer()))))),
        { numRuns: options.numRuns ?? 200, ...(options.seed === undefined ? {} : { seed: options.seed }) }
      )
    ), 300_000)
}
