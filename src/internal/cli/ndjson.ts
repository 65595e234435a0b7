/**
 * The export format, written by `export` (and `read --json`, `tail --json`) and read by
 * `import`: newline-delimited JSON, UTF-8, one JSON object per line.
 *
 * 1. A header: `{"format":"es-kernel/export","version":1,"exportedAt":"<ISO time>","source":"file"|"postgres"}`.
 *    A reader refuses a format or version it does not know.
 * 2. One line per event of the global log, in its order:
 *    `{"position":…,"eventId":…,"streamId":…,"version":…,"type":…,"schemaVersion":…,"data":…,"metadata":{…},"recordedAt":"<ISO time>"}`.
 *    `position` and `recordedAt` are the source store's; `data` and `metadata` are the
 *    stored JSON values as they are.
 * 3. A trailer: `{"end":"es-kernel/export","events":<count>}`, so that a cut-short file
 *    (an export killed half way, a partial copy) is recognised instead of imported as if
 *    it were whole.
 *
 * @internal
 */
import type { Json, RecordedEvent } from "../../EventStore.js"
import { isObject, parseJson } from "../files.js"

/** @internal */
export const formatName = "es-kernel/export"

/** @internal */
export const formatVersion = 1

/** @internal */
export interface Header {
  readonly exportedAt: string
  readonly source: string
}

/** @internal */
export const headerLine = (source: string, exportedAt: Date): string =>
  JSON.stringify({ format: formatName, version: formatVersion, exportedAt: exportedAt.toISOString(), source })

/** One event as a line (also `read --json` and `tail --json`). @internal */
export const eventLine = (event: RecordedEvent): string =>
  JSON.stringify({
    position: event.position,
    eventId: event.eventId,
    streamId: event.streamId,
    version: event.version,
    type: event.type,
    schemaVersion: event.schemaVersion,
    data: event.data,
    metadata: event.metadata,
    recordedAt: event.recordedAt.toISOString()
  })

// Characters outside ASCII: written as JSON's \u escapes by `exportLine`. Without the
// u flag, a character outside the BMP is two UTF-16 code units, each escaped (a valid
// surrogate pair escape); lone surrogates are escaped by JSON.stringify already.
const nonAscii = /[\u0080-\uffff]/g
const hasNonAscii = /[\u0080-\uffff]/

const escape = (character: string): string => `\\u${character.charCodeAt(0).toString(16).padStart(4, "0")}`

/**
 * One event as a line of an export: `eventLine` with every character outside ASCII
 * escaped, so that the file is ASCII (the same JSON values, safe through any channel)
 * and `import` reads it without decoding UTF-8, which is most of the cost of reading a
 * line.
 *
 * @internal
 */
export const exportLine = (event: RecordedEvent): string => {
  const line = eventLine(event)
  return hasNonAscii.test(line) ? line.replace(nonAscii, escape) : line
}

/** @internal */
export const trailerLine = (events: number): string => JSON.stringify({ end: formatName, events })

/**
 * An event as an export line holds it, checked as far as the line goes (the store's
 * append checks the rest). Its position and recording time are the source's: they are
 * checked, not kept.
 *
 * @internal
 */
export interface ExportedEvent {
  readonly eventId: string
  readonly streamId: string
  readonly version: number
  readonly type: string
  readonly schemaVersion: number
  readonly data: Json
  readonly metadata: { readonly [key: string]: Json }
}

/** A line of the body: an event, or the trailer. @internal */
export type BodyLine =
  | { readonly _tag: "Event"; readonly event: ExportedEvent }
  | { readonly _tag: "End"; readonly events: number }

/** The header, or why `text` is not one. @internal */
export const parseHeader = (text: string): Header | string => {
  const parsed = parseJson(text)
  if (parsed === undefined || !isObject(parsed) || parsed.format !== formatName) {
    return `the first line is not an es-kernel export header (${JSON.stringify(text.slice(0, 60))}); give a file written by es-kernel export`
  }
  if (parsed.version !== formatVersion) {
    return `the export is format version ${JSON.stringify(parsed.version)}; this es-kernel reads version ${formatVersion}: import it with the es-kernel that exported it, or a newer one`
  }
  return {
    exportedAt: typeof parsed.exportedAt === "string" ? parsed.exportedAt : "",
    source: typeof parsed.source === "string" ? parsed.source : ""
  }
}

const isPositiveInteger = (value: Json | undefined): value is number =>
  typeof value === "number" && Number.isSafeInteger(value) && value >= 1

/** An event or the trailer, or why `text` is neither. @internal */
export const parseBodyLine = (text: string): BodyLine | string => {
  const parsed = parseJson(text)
  if (parsed === undefined || !isObject(parsed)) return "not a JSON object"
  if (parsed.end === formatName) {
    return typeof parsed.events === "number" ? { _tag: "End", events: parsed.events } : "a trailer without its event count"
  }
  const { position, eventId, streamId, version, type, schemaVersion, data, metadata, recordedAt } = parsed
  if (!isPositiveInteger(position)) return "position is not a positive integer"
  if (typeof eventId !== "string") return "eventId is not a string"
  if (typeof streamId !== "string") return "streamId is not a string"
  if (!isPositiveInteger(version)) return "version is not a positive integer"
  if (typeof type !== "string") return "type is not a string"
  if (!isPositiveInteger(schemaVersion)) return "schemaVersion is not a positive integer"
  if (data === undefined) return "data is missing"
  if (metadata === undefined || !isObject(metadata)) return "metadata is not an object"
  if (typeof recordedAt !== "string" || Number.isNaN(Date.parse(recordedAt))) return "recordedAt is not an ISO time"
  return { _tag: "Event", event: { eventId, streamId, version, type, schemaVersion, data, metadata } }
}
