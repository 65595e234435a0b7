/**
 * The PostgreSQL layer's side of the store contract: an append checked by the shared
 * contract, encoded as the append statement takes it (payloads as JSON text, every event
 * with an id), and read filters as statement parameters.
 *
 * @internal
 */
import { InvalidAppend } from "../../EventStore.js"
import type { EventFilter, ExpectedVersion } from "../../EventStore.js"
import { checkName, prepareAppend } from "../contract.js"
import type { PreparedAppend } from "../contract.js"

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
      eventId: event.eventId ?? globalThis.crypto.randomUUID(),
      chosen: event.eventId !== undefined,
      type: event.type,
      schemaVersion: event.schemaVersion,
      data: JSON.stringify(event.data),
      metadata: JSON.stringify(event.metadata)
    }))
  }
}

// A name no stored event can have (a lone surrogate, U+0000) cannot travel as text
// either; it matches nothing, so it becomes a stand-in that matches nothing: a category
// holding "-" (categories never do) or the empty type.
const storable = (names: ReadonlyArray<string>, nothing: string): ReadonlyArray<string> =>
  names.map((name) => (checkName("a name", name) === undefined ? name : nothing))

/**
 * A checked filter's lists as statement parameters: `null` where the list is absent or
 * empty, which means "everything".
 *
 * @internal
 */
export const filterParameters = (filter: EventFilter | undefined): readonly [
  ReadonlyArray<string> | null,
  ReadonlyArray<string> | null
] => [
  filter?.categories !== undefined && filter.categories.length > 0 ? storable(filter.categories, "-") : null,
  filter?.types !== undefined && filter.types.length > 0 ? storable(filter.types, "") : null
]

/**
 * Whether `streamId` could name a stored stream; one that could not has version 0.
 *
 * @internal
 */
export const couldBeStored = (streamId: unknown): streamId is string => checkName("the stream id", streamId) === undefined
