/**
 * The append and read rules as the PostgreSQL layer checks them, before anything reaches
 * the server: the same rules, in the same order, as the other layers (malformed input is
 * `InvalidAppend` whatever else is wrong). An accepted append comes out encoded: every
 * payload as JSON text, every event with an id.
 *
 * @internal
 */
import { InvalidAppend, InvalidRead } from "../../EventStore.js"
import type { EventFilter, ExpectedVersion, NewEvent, ReadAllOptions, ReadStreamOptions } from "../../EventStore.js"
import { copyJson, copyMetadata, NotJson } from "../json.js"
import { maxEventsPerTransaction } from "./sql.js"

/** One event as the append statement takes it. */
export interface EncodedEvent {
  readonly eventId: string
  /** Chosen by the caller, so it may be a retry; a generated id is a fresh random UUID. */
  readonly chosen: boolean
  readonly type: string
  readonly schemaVersion: number
  readonly data: string
  readonly metadata: string
}

/** A checked append, ready for the group committer. */
export interface EncodedAppend {
  readonly streamId: string
  readonly expected: ExpectedVersion
  readonly events: ReadonlyArray<EncodedEvent>
}

const isCount = (value: unknown): value is number =>
  typeof value === "number" && Number.isSafeInteger(value) && value >= 0

const isExpectedVersion = (value: unknown): value is ExpectedVersion =>
  value === "any" || value === "noStream" || value === "streamExists" || isCount(value)

const describe = (value: unknown): string =>
  typeof value === "number" ? String(value) : typeof value === "string" ? JSON.stringify(value.slice(0, 40)) : typeof value

const short = (text: string): string => (text.length > 80 ? `${text.slice(0, 77)}...` : text)

const encodeEvent = (event: NewEvent, index: number): EncodedEvent | string => {
  if (typeof event !== "object" || event === null) return `event ${index} is not an object`
  const { type, eventId, schemaVersion } = event
  if (typeof type !== "string" || type.length === 0) return `event ${index}: type must be a non-empty string`
  if (eventId !== undefined && (typeof eventId !== "string" || eventId.length === 0)) {
    return `event ${index}: eventId must be a non-empty string when given`
  }
  if (schemaVersion !== undefined && !(isCount(schemaVersion) && schemaVersion >= 1)) {
    return `event ${index}: schemaVersion must be a positive integer, got ${String(schemaVersion)}`
  }
  const data = copyJson(event.data, "data")
  if (data instanceof NotJson) return `event ${index}: ${data.message}`
  const metadata = copyMetadata(event.metadata)
  if (metadata instanceof NotJson) return `event ${index}: ${metadata.message}`
  return {
    eventId: eventId ?? globalThis.crypto.randomUUID(),
    chosen: eventId !== undefined,
    type,
    schemaVersion: schemaVersion ?? 1,
    data: JSON.stringify(data),
    metadata: JSON.stringify(metadata)
  }
}

/**
 * The append, encoded, or the `InvalidAppend` that refuses it.
 *
 * @internal
 */
export const encodeAppend = (
  streamId: string,
  events: ReadonlyArray<NewEvent>,
  expected: ExpectedVersion
): EncodedAppend | InvalidAppend => {
  if (typeof streamId !== "string" || streamId.length === 0) {
    return new InvalidAppend({ streamId: String(streamId), reason: "the stream id must be a non-empty string" })
  }
  const refuse = (reason: string) => new InvalidAppend({ streamId: short(streamId), reason })
  if (!Array.isArray(events) || events.length === 0) return refuse("the batch must not be empty")
  if (events.length > maxEventsPerTransaction) {
    return refuse(`at most ${maxEventsPerTransaction} events per append on PostgreSQL, got ${events.length}: split the batch`)
  }
  if (!isExpectedVersion(expected)) {
    return refuse(
      `expected version must be "any", "noStream", "streamExists" or a non-negative integer, got ${describe(expected)}`
    )
  }
  const encoded: Array<EncodedEvent> = []
  const seen = new Set<string>()
  for (let index = 0; index < events.length; index++) {
    const event = events[index]
    if (event === undefined) return refuse(`event ${index} is missing`)
    const each = encodeEvent(event, index)
    if (typeof each === "string") return refuse(each)
    if (each.chosen) {
      if (seen.has(each.eventId)) return refuse(`event id ${short(each.eventId)} appears twice in the batch`)
      seen.add(each.eventId)
    }
    encoded.push(each)
  }
  return { streamId, expected, events: encoded }
}

const validateLimit = (limit: unknown): string | undefined =>
  limit === undefined || (isCount(limit) && limit >= 1) ? undefined : `limit must be a positive integer, got ${String(limit)}`

const validateFilter = (filter: EventFilter | undefined): string | undefined => {
  if (filter === undefined) return undefined
  const { categories, types } = filter
  if (categories !== undefined && !(Array.isArray(categories) && categories.every((c) => typeof c === "string"))) {
    return "filter.categories must be an array of strings"
  }
  if (types !== undefined && !(Array.isArray(types) && types.every((t) => typeof t === "string"))) {
    return "filter.types must be an array of strings"
  }
  return undefined
}

const validateCheckpoint = (from: unknown): string | undefined =>
  from === undefined || isCount(from) ? undefined : `from must be a non-negative integer position, got ${String(from)}`

/**
 * Why `readStream`'s arguments are malformed, or `undefined`.
 *
 * @internal
 */
export const checkReadStream = (streamId: string, options: ReadStreamOptions): InvalidRead | undefined => {
  const { direction = "forward", from, to, limit } = options
  const problem = typeof streamId !== "string" || streamId.length === 0
    ? "the stream id must be a non-empty string"
    : direction !== "forward" && direction !== "backward"
    ? `direction must be "forward" or "backward", got ${String(direction)}`
    : from !== undefined && !isCount(from)
    ? `from must be a non-negative integer version, got ${String(from)}`
    : to !== undefined && !isCount(to)
    ? `to must be a non-negative integer version, got ${String(to)}`
    : validateLimit(limit)
  return problem === undefined ? undefined : new InvalidRead({ reason: problem })
}

/**
 * Why `readAll`'s or `subscribe`'s options are malformed, or `undefined`.
 *
 * @internal
 */
export const checkReadAll = (options: ReadAllOptions): InvalidRead | undefined => {
  const problem = validateCheckpoint(options.from) ?? validateFilter(options.filter) ?? validateLimit(options.limit)
  return problem === undefined ? undefined : new InvalidRead({ reason: problem })
}

/**
 * A filter's lists as statement parameters: `null` where the list is absent or empty,
 * which means "everything".
 *
 * @internal
 */
export const filterParameters = (filter: EventFilter | undefined): readonly [
  ReadonlyArray<string> | null,
  ReadonlyArray<string> | null
] => [
  filter?.categories !== undefined && filter.categories.length > 0 ? filter.categories : null,
  filter?.types !== undefined && filter.types.length > 0 ? filter.types : null
]
