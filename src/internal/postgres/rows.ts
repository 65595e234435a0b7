/**
 * Rows as the driver returns them, read into the store's types. The driver gives `int8`
 * as `bigint`, `int4` as `number`, `json` parsed and `timestamptz` as a `Date`; anything
 * else is a schema that does not match this module, reported as `StorageError`.
 *
 * @internal
 */
import { Data, Effect } from "effect"
import type { Json, Metadata, RecordedEvent } from "../../EventStore.js"

/** A column that is not what the schema says it is. */
export class UnexpectedColumn extends Data.TaggedError("UnexpectedColumn")<{
  readonly column: string
  readonly found: string
}> {
  override get message(): string {
    return `column ${this.column} holds an unexpected ${this.found}`
  }
}

export type Row = { readonly [column: string]: unknown }

const fail = (column: string, value: unknown): never => {
  throw new UnexpectedColumn({ column, found: value === null ? "null" : typeof value })
}

/** An integer column (`int4`, `int8` or a count) as a number. */
export const integer = (row: Row, column: string): number => {
  const value = row[column]
  if (typeof value === "number") return value
  if (typeof value === "bigint") return Number(value)
  return fail(column, value)
}

/** An integer column that may be `NULL`. */
export const integerOrNull = (row: Row, column: string): number | undefined =>
  row[column] === null || row[column] === undefined ? undefined : integer(row, column)

export const text = (row: Row, column: string): string => {
  const value = row[column]
  return typeof value === "string" ? value : fail(column, value)
}

export const boolean = (row: Row, column: string): boolean => {
  const value = row[column]
  return typeof value === "boolean" ? value : fail(column, value)
}

const isJson = (value: unknown): value is Json =>
  value === null || typeof value === "string" || typeof value === "number" || typeof value === "boolean" ||
  typeof value === "object"

const isMetadata = (value: unknown): value is Metadata =>
  typeof value === "object" && value !== null && !Array.isArray(value)

/** A `json` column declared `NOT NULL`, as parsed by the driver (`null` is JSON's `null`). */
export const json = (row: Row, column: string): Json => {
  const value = row[column]
  return value !== undefined && isJson(value) ? value : fail(column, value)
}

/** A recorded event from a row of `es_events`. Throws `UnexpectedColumn`. */
export const recordedEvent = (row: Row): RecordedEvent => {
  const data = row.data
  const metadata = row.metadata
  const recordedAt = row.recorded_at
  return {
    eventId: text(row, "event_id"),
    streamId: text(row, "stream_id"),
    type: text(row, "type"),
    data: isJson(data) ? data : fail("data", data),
    metadata: isMetadata(metadata) ? metadata : fail("metadata", metadata),
    version: integer(row, "version"),
    position: integer(row, "position"),
    schemaVersion: integer(row, "schema_version"),
    recordedAt: recordedAt instanceof Date ? recordedAt : fail("recorded_at", recordedAt)
  }
}

/** Runs a row reader, turning what it throws into a typed failure. */
export const decode = <A>(read: () => A): Effect.Effect<A, UnexpectedColumn> =>
  Effect.try({
    try: read,
    catch: (error) => error instanceof UnexpectedColumn ? error : new UnexpectedColumn({ column: "?", found: String(error) })
  })
