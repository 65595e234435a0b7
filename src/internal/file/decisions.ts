/**
 * What an append means for the file store, decided against the in-memory index before
 * anything is written: a checked and encoded-ready batch (`prepareAppend`), and whether
 * it is a new append, a retry of events already recorded, or a conflict (`decide`).
 * Pure functions of their arguments: the store owns the index they read.
 *
 * @internal
 */
import { randomUUID } from "node:crypto"
import { EventIdConflict, InvalidAppend, WrongExpectedVersion } from "../../EventStore.js"
import type { AppendResult, ExpectedVersion, Metadata, NewEvent } from "../../EventStore.js"
import { copyJson, copyMetadata, NotJson } from "../json.js"
import type { EventContents } from "./frame.js"
import { hashString, maxShortString } from "./frame.js"
import type { LogIndex } from "./logIndex.js"

/**
 * A batch that passed validation: ids (given or generated) with their hashes, and the
 * contents as frozen JSON copies.
 *
 * @internal
 */
export interface PreparedAppend {
  readonly streamId: string
  readonly expected: ExpectedVersion
  readonly ids: ReadonlyArray<string>
  readonly hashes: ReadonlyArray<number>
  readonly contents: ReadonlyArray<EventContents>
}

/**
 * The ids and contents of one recorded batch, to compare a retry with.
 *
 * @internal
 */
export interface KnownRecord {
  readonly ids: ReadonlyArray<string>
  readonly contents: ReadonlyArray<EventContents>
}

/**
 * - `Append`: a new batch at the stream's current version.
 * - `Recorded`: a retry of a batch already recorded; `result` is what its append answered.
 * - `Need`: the id hashes point at records whose ids are not known yet: read them from
 *   disk and decide again.
 *
 * @internal
 */
export type Decision =
  | { readonly _tag: "Append" }
  | { readonly _tag: "Recorded"; readonly result: AppendResult }
  | { readonly _tag: "Need"; readonly records: ReadonlyArray<number> }
  | WrongExpectedVersion
  | EventIdConflict

// Ids are stored as UTF-8, which cannot hold a lone surrogate: such an id would be read
// back as U+FFFD, a different id. Refused, so that the store never writes an id it
// cannot read back.
const isWellFormed = (text: string): boolean => {
  for (let at = 0; at < text.length; at++) {
    const code = text.charCodeAt(at)
    if (code < 0xd800 || code > 0xdfff) continue
    if (code > 0xdbff) return false
    const next = text.charCodeAt(at + 1)
    if (!(next >= 0xdc00 && next <= 0xdfff)) return false
    at++
  }
  return true
}

// Untyped callers can pass `{ correlationId: 5 }`; the type promises strings to readers.
const nonStringId = (metadata: Metadata): "correlationId" | "causationId" | undefined => {
  const { correlationId, causationId } = metadata
  if (correlationId !== undefined && typeof correlationId !== "string") return "correlationId"
  if (causationId !== undefined && typeof causationId !== "string") return "causationId"
  return undefined
}

const isExpectedVersion = (expected: unknown): expected is ExpectedVersion =>
  expected === "any" || expected === "noStream" || expected === "streamExists" ||
  (typeof expected === "number" && Number.isSafeInteger(expected) && expected >= 0)

/**
 * Checks a batch and copies its contents, or says why it cannot be appended.
 *
 * @internal
 */
export const prepareAppend = (
  streamId: string,
  events: ReadonlyArray<NewEvent>,
  expected: ExpectedVersion
): PreparedAppend | InvalidAppend => {
  const invalid = (reason: string) => new InvalidAppend({ streamId: String(streamId).slice(0, 100), reason })
  if (typeof streamId !== "string" || streamId.length === 0) return invalid("the stream id is empty")
  if (Buffer.byteLength(streamId) > maxShortString) return invalid(`the stream id is longer than ${maxShortString} bytes`)
  if (!isWellFormed(streamId)) return invalid("the stream id is not well-formed UTF-16 (it holds a lone surrogate): use a valid Unicode string")
  if (!Array.isArray(events) || events.length === 0) return invalid("the batch is empty")
  if (!isExpectedVersion(expected)) return invalid(`${String(expected).slice(0, 100)} is not an expected version`)
  const ids = new Array<string>(events.length)
  const hashes = new Array<number>(events.length)
  const contents = new Array<EventContents>(events.length)
  const seen = new Set<string>()
  for (const [index, event] of events.entries()) {
    if (typeof event !== "object" || event === null) return invalid(`event ${index} is not an object`)
    if (typeof event.type !== "string" || event.type.length === 0) return invalid(`event ${index} has an empty type`)
    const eventId = event.eventId ?? randomUUID()
    if (typeof eventId !== "string" || eventId.length === 0) return invalid(`event ${index} has an empty event id`)
    if (Buffer.byteLength(eventId) > maxShortString) return invalid(`event ${index} has an event id longer than ${maxShortString} bytes`)
    if (!isWellFormed(eventId)) return invalid(`event ${index} has an event id that is not well-formed UTF-16 (it holds a lone surrogate): use a valid Unicode string`)
    if (seen.has(eventId)) return invalid(`event id ${eventId.slice(0, 100)} appears twice in the batch`)
    seen.add(eventId)
    const schemaVersion = event.schemaVersion ?? 1
    if (!Number.isSafeInteger(schemaVersion) || schemaVersion < 1) {
      return invalid(`event ${index} has schema version ${String(schemaVersion).slice(0, 100)}, not a positive integer`)
    }
    const data = copyJson(event.data, `events[${index}].data`)
    if (data instanceof NotJson) return invalid(data.message)
    const metadata = copyMetadata(event.metadata, `events[${index}].metadata`)
    if (metadata instanceof NotJson) return invalid(metadata.message)
    const badId = nonStringId(metadata)
    if (badId !== undefined) return invalid(`events[${index}].metadata.${badId} must be a string when present`)
    ids[index] = eventId
    hashes[index] = hashString(eventId)
    contents[index] = { type: event.type, schemaVersion, data, metadata }
  }
  return { streamId, expected, ids, hashes, contents }
}

/**
 * Whether a stream at `current` satisfies `expected`.
 *
 * @internal
 */
export const satisfies = (expected: ExpectedVersion, current: number): boolean =>
  expected === "any" ||
  (expected === "noStream" ? current === 0 : expected === "streamExists" ? current > 0 : expected === current)

// Equal as JSON values: object keys in any order (a store may reorder them).
const sameJson = (a: unknown, b: unknown): boolean => {
  if (a === b) return true
  if (typeof a !== "object" || typeof b !== "object" || a === null || b === null) return false
  if (Array.isArray(a) || Array.isArray(b)) {
    if (!Array.isArray(a) || !Array.isArray(b) || a.length !== b.length) return false
    return a.every((item, at) => sameJson(item, b[at]))
  }
  const keys = Object.keys(a)
  if (keys.length !== Object.keys(b).length) return false
  return keys.every((key) => Object.prototype.hasOwnProperty.call(b, key) && sameJson(Reflect.get(a, key), Reflect.get(b, key)))
}

// A retry is the same event only if everything the caller gave is the same: an id
// reused for other content is a conflict, never a silent success.
const sameContents = (a: EventContents, b: EventContents): boolean =>
  a.type === b.type && a.schemaVersion === b.schemaVersion && sameJson(a.data, b.data) && sameJson(a.metadata, b.metadata)

/**
 * Decides `prepared` against the index. `contentsOf` gives the ids and contents of a
 * record when they are at hand (being written, or read from disk for this decision).
 *
 * @internal
 */
export const decide = (
  index: LogIndex,
  prepared: PreparedAppend,
  contentsOf: (record: number) => KnownRecord | undefined
): Decision => {
  const { table, ids } = index
  const found = new Array<number | undefined>(prepared.ids.length)
  let foundCount = 0
  const need: Array<number> = []
  for (const [at, hash] of prepared.hashes.entries()) {
    for (const position of ids.candidates(hash)) {
      const record = table.recordAtOrAfter(position)
      const contents = contentsOf(record)
      if (contents === undefined) {
        need.push(record)
      } else if (contents.ids[position - table.firstPosition(record)] === prepared.ids[at]) {
        found[at] = position
        foundCount++
      }
    }
  }
  if (need.length > 0) return { _tag: "Need", records: need }
  const entry = index.streams.get(prepared.streamId)
  const current = entry?.version ?? 0
  if (foundCount === 0) {
    return satisfies(prepared.expected, current)
      ? { _tag: "Append" }
      : new WrongExpectedVersion({ streamId: prepared.streamId, expected: prepared.expected, actual: current })
  }
  // A retry: every id recorded, in order, in this stream, with the same contents.
  const conflict = () =>
    new EventIdConflict({ streamId: prepared.streamId, eventIds: prepared.ids.filter((_, at) => found[at] !== undefined) })
  if (foundCount !== prepared.ids.length || entry === undefined) return conflict()
  let firstVersion = 0
  for (const [at, position] of found.entries()) {
    if (position === undefined) return conflict()
    const record = table.recordAtOrAfter(position)
    const offsetInRecord = position - table.firstPosition(record)
    const version = table.firstVersion(record) + offsetInRecord
    if (at === 0) firstVersion = version
    const stored = contentsOf(record)?.contents[offsetInRecord]
    const proposed = prepared.contents[at]
    if (
      table.streamNo(record) !== entry.streamNo || version !== firstVersion + at ||
      stored === undefined || proposed === undefined || !sameContents(stored, proposed)
    ) return conflict()
  }
  // The expected version must have held where the events sit, as on their first append.
  const before = firstVersion - 1
  if (!satisfies(prepared.expected, before)) return conflict()
  const lastPosition = found[found.length - 1]
  if (lastPosition === undefined) return conflict()
  return {
    _tag: "Recorded",
    result: { streamId: prepared.streamId, nextExpectedVersion: before + prepared.ids.length, position: lastPosition }
  }
}
