/**
 * The store contract's rules, stated and checked once for every layer.
 *
 * A layer differs from another only in how it stores. What an append or a read may hold,
 * which expected versions hold, and when a retried batch is the same batch again are
 * decided here, so every layer answers the same input alike — including input no
 * TypeScript type allows, from plain JavaScript callers.
 *
 * An append goes through three steps, each a function of this module:
 *
 * 1. `prepareAppend` checks the whole input and copies it (frozen, JSON-only): malformed
 *    input is `InvalidAppend` whatever else is wrong with the append.
 * 2. When some of the batch's event ids are already recorded anywhere in the store, they
 *    decide: `judgeRetry` gives the original result for a faithful retry, otherwise
 *    `EventIdConflict`.
 * 3. Otherwise `checkExpected` compares the expected version with the stream's.
 *
 * @internal
 */
import { EventIdConflict, InvalidAppend, InvalidRead, limits, WrongExpectedVersion } from "../EventStore.js"
import type {
  AppendResult,
  EventFilter,
  ExpectedVersion,
  Json,
  Metadata,
  ReadAllOptions,
  ReadStreamOptions,
  RecordedEvent,
  SubscribeOptions
} from "../EventStore.js"
import { addSize, copyJson, copyMetadata, emptyMetadata, exceedsSize, highSize, isFields, jsonBytes, NotJson, resetSize } from "./json.js"
import { quote } from "./text.js"

// ---------------------------------------------------------------------------
// Ids
// ---------------------------------------------------------------------------

// Any surrogate or U+0000: one native scan clears the ordinary id, which has neither.
const suspicious = /[\u0000\uD800-\uDFFF]/

// String.prototype.isWellFormed, which the ES2022 library this package compiles against lacks.
const isWellFormed = (text: string): boolean => {
  for (let index = 0; index < text.length; index++) {
    const unit = text.charCodeAt(index)
    if (unit < 0xd800 || unit > 0xdfff) continue
    if (unit > 0xdbff) return false
    const next = text.charCodeAt(index + 1)
    if (!(next >= 0xdc00 && next <= 0xdfff)) return false
    index++
  }
  return true
}

const mebibytes = (bytes: number): string => `${(bytes / (1024 * 1024)).toFixed(1)} MiB`

/**
 * Why `value` cannot be a stream id, event id or event type (`what` names it), or
 * `undefined`. Such strings are stored as text by every layer: they must survive UTF-8
 * and a database's text type unchanged.
 *
 * @internal
 */
export const checkName = (what: string, value: unknown): string | undefined => {
  if (typeof value !== "string") return `${what} must be a string, got ${quote(value)}`
  if (value.length === 0) return `${what} must not be empty`
  if (value.length > limits.idLength) {
    return `${what} ${quote(value)} is longer than ${limits.idLength} characters; use a shorter id (a hash of a long natural key)`
  }
  if (suspicious.test(value) && !isWellFormed(value)) {
    return `${what} ${quote(value)} holds a lone UTF-16 surrogate, which no layer can store unchanged; fix how the id is built`
  }
  if (suspicious.test(value) && value.includes("\u0000")) return `${what} ${quote(value)} holds U+0000, which no layer can store as text`
  return undefined
}

// ---------------------------------------------------------------------------
// Appends
// ---------------------------------------------------------------------------

/**
 * One checked event: its content as the store will record it. `eventId` is `undefined`
 * when the caller chose none and the layer must make one.
 *
 * @internal
 */
export interface PreparedEvent {
  readonly eventId: string | undefined
  readonly type: string
  readonly data: Json
  readonly metadata: Metadata
  readonly schemaVersion: number
}

/**
 * A checked append.
 *
 * @internal
 */
export interface PreparedAppend {
  readonly streamId: string
  readonly expected: ExpectedVersion
  readonly events: ReadonlyArray<PreparedEvent>
  /** Whether some event carries a caller-chosen id (only then can the batch be a retry). */
  readonly chosenIds: boolean
}

const isCount = (value: unknown): value is number =>
  typeof value === "number" && Number.isSafeInteger(value) && value >= 0

const isExpectedVersion = (value: unknown): value is ExpectedVersion =>
  value === "any" || value === "noStream" || value === "streamExists" || isCount(value)

const metadataIdKeys = ["correlationId", "causationId"] as const

const checkMetadataIds = (metadata: Metadata): string | undefined => {
  if (metadata === emptyMetadata) return undefined
  for (const key of metadataIdKeys) {
    const value = metadata[key]
    if (value !== undefined && typeof value !== "string") {
      return `metadata.${key} must be a string, got ${quote(value)}; put other values under another key`
    }
  }
  return undefined
}

// Checks and copies one event, counting its JSON size into the running batch size.
const prepareEvent = (event: unknown, index: number): PreparedEvent | string => {
  if (!isFields(event)) return `event ${index} is not an object`
  const { type, eventId, schemaVersion } = event
  const badType = checkName("its type", type)
  if (badType !== undefined || typeof type !== "string") return `event ${index}: ${badType}`
  if (eventId !== undefined) {
    const badId = checkName("its eventId", eventId)
    if (badId !== undefined) return `event ${index}: ${badId}`
  }
  if (schemaVersion !== undefined && !(isCount(schemaVersion) && schemaVersion >= 1 && schemaVersion <= limits.schemaVersion)) {
    return `event ${index}: schemaVersion must be an integer from 1 to ${limits.schemaVersion}, got ${quote(schemaVersion)}`
  }
  resetSize()
  const data = copyJson(event.data, "data")
  if (data instanceof NotJson) return `event ${index}: ${data.message}`
  const rawMetadata = event.metadata
  if (rawMetadata === undefined) addSize(2)
  const metadata = rawMetadata === undefined ? emptyMetadata : copyMetadata(rawMetadata)
  if (metadata instanceof NotJson) return `event ${index}: ${metadata.message}`
  const badMetadata = checkMetadataIds(metadata)
  if (badMetadata !== undefined) return `event ${index}: ${badMetadata}`
  const bytes = exceedsSize(limits.eventBytes, data, metadata)
  if (bytes !== undefined) {
    return `event ${index}: its data and metadata take ${mebibytes(bytes)} as JSON, over the limit of ${
      mebibytes(limits.eventBytes)
    }; keep large payloads outside the store and record a reference`
  }
  return {
    eventId: typeof eventId === "string" ? eventId : undefined,
    type,
    data,
    metadata,
    schemaVersion: typeof schemaVersion === "number" ? schemaVersion : 1
  }
}

// The exact JSON size of a batch whose counted upper bound passes the limit.
const exactBatchBytes = (events: ReadonlyArray<PreparedEvent>): number => {
  let bytes = 0
  for (const event of events) bytes += jsonBytes(event.data, event.metadata)
  return bytes
}

const invalidAppend = (streamId: unknown, reason: string): InvalidAppend =>
  new InvalidAppend({ streamId: typeof streamId === "string" ? streamId : quote(streamId), reason })

/**
 * Checks an append's input and copies its events, or says what is wrong with it.
 *
 * @internal
 */
export const prepareAppend = (
  streamId: unknown,
  events: unknown,
  expected: unknown
): PreparedAppend | InvalidAppend => {
  const badStream = checkName("the stream id", streamId)
  if (badStream !== undefined || typeof streamId !== "string") return invalidAppend(streamId, String(badStream))
  if (!Array.isArray(events) || events.length === 0) return invalidAppend(streamId, "the batch must be a non-empty array of events")
  if (events.length > limits.batchEvents) {
    return invalidAppend(streamId, `the batch holds ${events.length} events, over the limit of ${limits.batchEvents}; append it in several batches`)
  }
  if (!isExpectedVersion(expected)) {
    return invalidAppend(streamId, 
      `expected version must be "any", "noStream", "streamExists" or a non-negative integer, got ${
        typeof expected === "number" ? String(expected) : quote(expected)
      }`
    )
  }
  const prepared = new Array<PreparedEvent>(events.length)
  let chosenIds = false
  let highBytes = 0
  for (let index = 0; index < events.length; index++) {
    const event = prepareEvent(events[index], index)
    if (typeof event === "string") return invalidAppend(streamId, event)
    prepared[index] = event
    if (event.eventId !== undefined) chosenIds = true
    highBytes += highSize()
  }
  if (chosenIds && prepared.length > 1) {
    const seen = new Set<string>()
    for (const { eventId } of prepared) {
      if (eventId === undefined) continue
      if (seen.has(eventId)) return invalidAppend(streamId, `event id ${quote(eventId)} appears twice in the batch; each event needs its own id`)
      seen.add(eventId)
    }
  }
  // Each event may be within its limit and the batch still too large as a whole.
  if (highBytes > limits.batchBytes) {
    const bytes = exactBatchBytes(prepared)
    if (bytes > limits.batchBytes) {
      return invalidAppend(streamId, `the batch takes ${mebibytes(bytes)} as JSON, over the limit of ${mebibytes(limits.batchBytes)}; append it in several batches`)
    }
  }
  return { streamId, expected, events: prepared, chosenIds }
}

// ---------------------------------------------------------------------------
// Expected versions and retries
// ---------------------------------------------------------------------------

/**
 * Whether `expected` holds for a stream at version `current` (`0`: no events).
 *
 * @internal
 */
export const expectationHolds = (expected: ExpectedVersion, current: number): boolean =>
  expected === "any" ||
  (expected === "noStream" ? current === 0 : expected === "streamExists" ? current > 0 : current === expected)

/**
 * The refusal when `expected` does not hold for a stream at version `current`, or
 * `undefined` when it holds.
 *
 * @internal
 */
export const checkExpected = (
  streamId: string,
  expected: ExpectedVersion,
  current: number
): WrongExpectedVersion | undefined =>
  expectationHolds(expected, current) ? undefined : new WrongExpectedVersion({ streamId, expected, actual: current })

// Where a retried batch's events must already sit for the expected version to have held
// when they were first appended.
const retryStartsAt = (expected: ExpectedVersion, firstVersion: number): boolean =>
  expected === "any" ||
  (expected === "noStream"
    ? firstVersion === 1
    : expected === "streamExists"
    ? firstVersion > 1
    : firstVersion === expected + 1)

/**
 * What a retry is compared with: a recorded event, or the part of it a layer keeps.
 *
 * @internal
 */
export type Recorded = Pick<
  RecordedEvent,
  "eventId" | "streamId" | "version" | "position" | "type" | "data" | "metadata" | "schemaVersion"
>

/**
 * The outcome of an append some of whose event ids are already recorded. `recorded[i]`
 * is the recorded event with the id of the batch's event `i`, or `undefined` when that id
 * is not recorded (or the event has no id); at least one must be defined.
 *
 * A faithful retry — every event recorded, as one run of this stream in batch order,
 * starting where the expected version says, each with the same type, data, metadata and
 * schema version — succeeds with the result the first append had. Anything else is
 * `EventIdConflict`, listing the recorded ids in batch order.
 *
 * @internal
 */
export const judgeRetry = (
  batch: PreparedAppend,
  recorded: ReadonlyArray<Recorded | undefined>
): AppendResult | EventIdConflict => {
  const { streamId, expected, events } = batch
  const recordedIds = recorded.flatMap((event) => event === undefined ? [] : [event.eventId])
  const conflict = new EventIdConflict({ streamId, eventIds: recordedIds })
  const first = recorded[0]
  if (first === undefined || recordedIds.length !== events.length) return conflict
  if (first.streamId !== streamId || !retryStartsAt(expected, first.version)) return conflict
  for (let index = 0; index < events.length; index++) {
    const event = recorded[index]
    const retried = events[index]
    if (
      event === undefined || retried === undefined || event.streamId !== streamId ||
      event.version !== first.version + index || !sameContent(retried, event)
    ) return conflict
  }
  const last = recorded[events.length - 1] ?? first
  return { streamId, nextExpectedVersion: last.version, position: last.position }
}

const sameContent = (retried: PreparedEvent, recorded: Recorded): boolean =>
  retried.type === recorded.type && retried.schemaVersion === recorded.schemaVersion &&
  jsonEqual(retried.data, recorded.data) && jsonEqual(retried.metadata, recorded.metadata)

/**
 * Deep equality of JSON values, ignoring object key order (which no layer promises to keep).
 *
 * @internal
 */
export const jsonEqual = (a: Json | Metadata | undefined, b: Json | Metadata | undefined): boolean => {
  if (a === b) return true
  if (typeof a !== "object" || typeof b !== "object" || a === null || b === null) return false
  if (Array.isArray(a) || Array.isArray(b)) {
    if (!Array.isArray(a) || !Array.isArray(b) || a.length !== b.length) return false
    for (let index = 0; index < a.length; index++) {
      if (!jsonEqual(a[index], b[index])) return false
    }
    return true
  }
  const keys = Object.keys(a)
  if (keys.length !== Object.keys(b).length) return false
  for (const key of keys) {
    if (!Object.prototype.hasOwnProperty.call(b, key)) return false
    const left: unknown = Reflect.get(a, key)
    const right: unknown = Reflect.get(b, key)
    if (!jsonEqual(asJson(left), asJson(right))) return false
  }
  return true
}

// Values inside a Json object are Json; the reflection above only loses the type.
const asJson = (value: unknown): Json | undefined => isJsonShaped(value) ? value : undefined

const isJsonShaped = (value: unknown): value is Json =>
  value === null || typeof value === "string" || typeof value === "number" || typeof value === "boolean" ||
  typeof value === "object"

// ---------------------------------------------------------------------------
// Reads
// ---------------------------------------------------------------------------

const filterKeys = ["categories", "types", "correlationIds", "recordedAt"] as const
const timeRangeKeys = ["from", "before"] as const

// A key the caller probably meant as one of `known` (a typo, or `correlationId` for
// `correlationIds`): silently ignoring it would deliver more than asked.
const unknownKey = (value: object, known: ReadonlyArray<string>, where: string): string | undefined => {
  const extra = Object.keys(value).find((key) => !known.includes(key))
  return extra === undefined
    ? undefined
    : `${where} has no option ${quote(extra)}; its options are ${known.join(", ")}`
}

const isValidDate = (value: unknown): value is Date => value instanceof Date && !Number.isNaN(value.getTime())

const checkTime = (value: unknown, where: string): string | undefined =>
  value === undefined || isValidDate(value)
    ? undefined
    : `${where} must be a valid Date, got ${value instanceof Date ? "an invalid Date" : quote(value)}; pass new Date(milliseconds) or new Date("2024-01-31T12:00:00Z")`

const checkTimeRange = (range: unknown): string | undefined => {
  if (range === undefined) return undefined
  if (!isFields(range)) return `filter.recordedAt must be an object { from?: Date, before?: Date }, got ${quote(range)}`
  const bad = unknownKey(range, timeRangeKeys, "filter.recordedAt") ??
    checkTime(range.from, "filter.recordedAt.from") ?? checkTime(range.before, "filter.recordedAt.before")
  if (bad !== undefined) return bad
  const { from, before } = range
  return isValidDate(from) && isValidDate(before) && from.getTime() > before.getTime()
    ? `filter.recordedAt.from (${from.toISOString()}) is after filter.recordedAt.before (${before.toISOString()}); swap them, or the range holds nothing`
    : undefined
}

const checkFilter = (filter: unknown): string | undefined => {
  if (filter === undefined) return undefined
  if (!isFields(filter)) return `filter must be an object of ${filterKeys.join(", ")}, got ${quote(filter)}`
  const strings = (list: unknown) => list === undefined || (Array.isArray(list) && list.every((item) => typeof item === "string"))
  for (const key of ["categories", "types", "correlationIds"] as const) {
    if (!strings(filter[key])) return `filter.${key} must be an array of strings, got ${quote(filter[key])}; pass [] or leave it out to match all`
  }
  return unknownKey(filter, filterKeys, "filter") ?? checkTimeRange(filter.recordedAt)
}

const checkCheckpoint = (from: unknown): string | undefined =>
  from === undefined || isCount(from) ? undefined : `from must be a non-negative integer position, got ${quote(from)}`

const checkLimit = (limit: unknown): string | undefined =>
  limit === undefined || (isCount(limit) && limit >= 1) ? undefined : `limit must be a positive integer, got ${quote(limit)}`

const orRead = (reason: string | undefined): InvalidRead | undefined =>
  reason === undefined ? undefined : new InvalidRead({ reason })

/**
 * Why `readStream`'s arguments are malformed, or `undefined`.
 *
 * @internal
 */
export const checkReadStream = (streamId: unknown, options: ReadStreamOptions | undefined): InvalidRead | undefined => {
  if (options !== undefined && (typeof options !== "object" || options === null)) return orRead("options must be an object")
  const { direction, from, to, limit, asOf } = options ?? {}
  return orRead(
    checkName("the stream id", streamId) ??
      (direction !== undefined && direction !== "forward" && direction !== "backward"
        ? `direction must be "forward" or "backward", got ${quote(direction)}`
        : from !== undefined && !isCount(from)
        ? `from must be a non-negative integer version, got ${quote(from)}`
        : to !== undefined && !isCount(to)
        ? `to must be a non-negative integer version, got ${quote(to)}`
        : checkLimit(limit) ?? checkTime(asOf, "asOf"))
  )
}

/**
 * Why `readAll`'s options are malformed, or `undefined`.
 *
 * @internal
 */
export const checkReadAll = (options: ReadAllOptions | undefined): InvalidRead | undefined => {
  if (options !== undefined && (typeof options !== "object" || options === null)) return orRead("options must be an object")
  return orRead(checkCheckpoint(options?.from) ?? checkFilter(options?.filter) ?? checkLimit(options?.limit))
}

/**
 * Why `subscribe`'s options are malformed, or `undefined`.
 *
 * @internal
 */
export const checkSubscribe = (options: SubscribeOptions | undefined): InvalidRead | undefined => {
  if (options !== undefined && (typeof options !== "object" || options === null)) return orRead("options must be an object")
  return orRead(checkCheckpoint(options?.from) ?? checkFilter(options?.filter))
}

/**
 * What a filter looks at in an event: its stream, type, metadata and recording time in
 * epoch milliseconds (a number, so a layer need not build a `Date` to test it).
 *
 * @internal
 */
export type EventMatch = (streamId: string, type: string, metadata: Metadata, recordedAt: number) => boolean

/**
 * A predicate over stream ids for a checked list of categories, or `undefined` when the
 * list is absent or empty. A category matches the stream ids it is the category of
 * (`order` matches `order-1` and `order`, not `orderline-1`); a category holding `-`
 * matches nothing.
 *
 * @internal
 */
export const categoryMatcher = (categories: ReadonlyArray<string> | undefined): ((streamId: string) => boolean) | undefined => {
  if (categories === undefined || categories.length === 0) return undefined
  // Comparing prefixes in place avoids allocating each event's category string.
  return (streamId) => {
    for (const category of categories) {
      if (category.includes("-") || !streamId.startsWith(category)) continue
      if (streamId.length === category.length || streamId.charCodeAt(category.length) === 45) return true
    }
    return false
  }
}

/**
 * The meaning of a checked filter, the one every layer implements (PostgreSQL in SQL,
 * the others with this predicate), or `undefined` when everything matches:
 *
 * - categories as `categoryMatcher` says;
 * - a type matches when it is one of `types`, exactly;
 * - a correlation id matches when `metadata.correlationId` is a string equal to one of
 *   `correlationIds`;
 * - a recording time matches when `from <= recordedAt < before`, in milliseconds.
 *
 * Each condition given must hold; an empty list is no condition.
 *
 * @internal
 */
export const matcher = (filter: EventFilter | undefined): EventMatch | undefined => {
  const inCategory = categoryMatcher(filter?.categories)
  const types = nonEmptySet(filter?.types)
  const correlationIds = nonEmptySet(filter?.correlationIds)
  const from = filter?.recordedAt?.from?.getTime() ?? Number.NEGATIVE_INFINITY
  const before = filter?.recordedAt?.before?.getTime() ?? Number.POSITIVE_INFINITY
  const timed = from !== Number.NEGATIVE_INFINITY || before !== Number.POSITIVE_INFINITY
  if (inCategory === undefined && types === undefined && correlationIds === undefined && !timed) return undefined
  return (streamId, type, metadata, recordedAt) =>
    (types === undefined || types.has(type)) &&
    (correlationIds === undefined || hasCorrelationId(correlationIds, metadata)) &&
    (!timed || (recordedAt >= from && recordedAt < before)) &&
    (inCategory === undefined || inCategory(streamId))
}

/**
 * `matcher` over recorded events.
 *
 * @internal
 */
export const recordedMatcher = (filter: EventFilter | undefined): ((event: RecordedEvent) => boolean) | undefined => {
  const matches = matcher(filter)
  return matches === undefined
    ? undefined
    : (event) => matches(event.streamId, event.type, event.metadata, event.recordedAt.getTime())
}

const nonEmptySet = (list: ReadonlyArray<string> | undefined): ReadonlySet<string> | undefined =>
  list === undefined || list.length === 0 ? undefined : new Set(list)

const hasCorrelationId = (correlationIds: ReadonlySet<string>, metadata: Metadata): boolean => {
  const correlationId = metadata.correlationId
  return typeof correlationId === "string" && correlationIds.has(correlationId)
}

/**
 * The last recording time, in epoch milliseconds, a `readStream` with these checked
 * options delivers (`asOf`), or `undefined` when it has no bound.
 *
 * @internal
 */
export const asOfMillis = (options: ReadStreamOptions | undefined): number | undefined => options?.asOf?.getTime()
