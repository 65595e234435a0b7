/**
 * The PostgreSQL layer's side of the store contract: an append checked by the shared
 * contract, encoded as the append statement takes it (payloads as JSON text, every event
 * with an id), and read filters as statements and their parameters.
 *
 * @internal
 */
import { InvalidAppend } from "../../EventStore.js"
import type { EventFilter, ExpectedVersion, Metadata } from "../../EventStore.js"
import { checkName, prepareAppend } from "../contract.js"
import { generatedEventId } from "../eventIds.js"
import type { PreparedAppend } from "../contract.js"
import type { PageShape } from "./sql.js"

/** One event as the append statement takes it. */
export interface EncodedEvent {
  readonly eventId: string
  /** Chosen by the caller, so it may be a retry; a generated id is new (`generatedEventId`). */
  readonly chosen: boolean
  readonly type: string
  readonly schemaVersion: number
  readonly data: string
  readonly metadata: string
  /** `correlationKey` of the metadata. */
  readonly correlationId: string | null
}

/** A checked append, ready for the group committer, with the contract's copy for retries. */
export interface EncodedAppend {
  readonly streamId: string
  readonly expected: ExpectedVersion
  readonly events: ReadonlyArray<EncodedEvent>
  readonly prepared: PreparedAppend
}

/**
 * The append, checked and encoded, or the `InvalidAppend` that refuses it.
 *
 * @internal
 */
export const encodeAppend = (streamId: unknown, events: unknown, expected: unknown): EncodedAppend | InvalidAppend => {
  const prepared = prepareAppend(streamId, events, expected)
  if (prepared instanceof InvalidAppend) return prepared
  return {
    streamId: prepared.streamId,
    expected: prepared.expected,
    prepared,
    events: prepared.events.map((event) => ({
      eventId: event.eventId ?? generatedEventId(),
      chosen: event.eventId !== undefined,
      type: event.type,
      schemaVersion: event.schemaVersion,
      data: JSON.stringify(event.data),
      metadata: JSON.stringify(event.metadata),
      correlationId: correlationKey(event.metadata)
    }))
  }
}

/**
 * Encoded events as the append statements take them: one array per column, in the order
 * the events are pushed.
 *
 * @internal
 */
export class EventColumns {
  readonly eventIds: Array<string> = []
  readonly chosen: Array<boolean> = []
  readonly types: Array<string> = []
  readonly schemaVersions: Array<number> = []
  readonly data: Array<string> = []
  readonly metadata: Array<string> = []
  /** `correlationKey`s, '' for none. */
  readonly correlationIds: Array<string> = []

  push(event: EncodedEvent): void {
    this.eventIds.push(event.eventId)
    this.chosen.push(event.chosen)
    this.types.push(event.type)
    this.schemaVersions.push(event.schemaVersion)
    this.data.push(event.data)
    this.metadata.push(event.metadata)
    this.correlationIds.push(event.correlationId ?? "")
  }
}

// A name no stored event can have (a lone surrogate, U+0000) cannot travel as text
// either; it matches nothing, so it becomes a stand-in that matches nothing: a category
// holding "-" (categories never do) or the empty type.
const storable = (names: ReadonlyArray<string>, nothing: string): ReadonlyArray<string> =>
  names.map((name) => (checkName("a name", name) === undefined ? name : nothing))

/**
 * How `correlation_id` holds an event's correlation id: its JSON text, which any string
 * has (a lone surrogate or U+0000 is escaped), or `null` when there is none.
 *
 * @internal
 */
export const correlationKey = (metadata: Metadata): string | null =>
  typeof metadata.correlationId === "string" ? JSON.stringify(metadata.correlationId) : null

const present = (list: ReadonlyArray<string> | undefined): list is ReadonlyArray<string> =>
  list !== undefined && list.length > 0

/**
 * A checked filter as a page statement's shape and its parameters after the first three,
 * in the shape's order: lists as text arrays (an empty or absent list is no condition),
 * times as epoch milliseconds.
 *
 * @internal
 */
export const pageQuery = (filter: EventFilter | undefined): {
  readonly shape: PageShape
  readonly parameters: ReadonlyArray<ReadonlyArray<string> | number>
} => {
  const from = filter?.recordedAt?.from?.getTime()
  const before = filter?.recordedAt?.before?.getTime()
  const shape: PageShape = {
    categories: present(filter?.categories),
    types: present(filter?.types),
    correlationIds: present(filter?.correlationIds),
    from: from !== undefined,
    before: before !== undefined
  }
  const parameters: Array<ReadonlyArray<string> | number> = []
  if (present(filter?.categories)) parameters.push(storable(filter.categories, "-"))
  if (present(filter?.types)) parameters.push(storable(filter.types, ""))
  if (present(filter?.correlationIds)) parameters.push(filter.correlationIds.map((id) => JSON.stringify(id)))
  if (from !== undefined) parameters.push(from)
  if (before !== undefined) parameters.push(before)
  return { shape, parameters }
}

/**
 * Whether `streamId` could name a stored stream; one that could not has version 0.
 *
 * @internal
 */
export const couldBeStored = (streamId: unknown): streamId is string => checkName("the stream id", streamId) === undefined
