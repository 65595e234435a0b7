/**
 * The record format of the log. One record holds one appended batch, so a batch is
 * atomic on disk by construction: its CRC covers all of it, and a torn batch is dropped
 * whole on open.
 *
 * ```
 * frame   [u32 bodyLength][u32 crc32(body)][body]                      little-endian
 * body    [u8 format=1][u8 0][u16 streamIdBytes][u32 streamNo]
 *         [f64 firstPosition][u32 firstVersion][u32 count][f64 recordedAt ms]
 *         [streamId utf8][count × ([u16 idBytes][eventId utf8])]
 *         [utf8 JSON: [[type, schemaVersion, data, metadata], …]]       to the end of the body
 * ```
 *
 * `streamNo` numbers streams in order of their first record, so opening a store decodes
 * a stream id once per stream, not once per record. Everything an open needs (positions,
 * versions, event ids) sits before the JSON, which an open never parses.
 *
 * @internal
 */
import { crc32 } from "node:zlib"
import type { Json, Metadata } from "../../EventStore.js"

/** @internal */
export const frameHeaderBytes = 8
/** @internal */
export const fixedBodyBytes = 32
/** @internal */
export const formatVersion = 1
/** @internal */
export const maxShortString = 0xffff

/**
 * The header of a batch record: everything but the events' contents.
 *
 * @internal
 */
export interface BatchHeader {
  readonly streamNo: number
  readonly streamId: string
  readonly firstPosition: number
  readonly firstVersion: number
  readonly recordedAt: number
  readonly eventIds: ReadonlyArray<string>
}

/**
 * An event's stored contents, validated JSON.
 *
 * @internal
 */
export interface EventContents {
  readonly type: string
  readonly schemaVersion: number
  readonly data: Json
  readonly metadata: Metadata
}

/**
 * Encodes one batch as a complete frame, with one `JSON.stringify` for all its events.
 *
 * @internal
 */
export const encodeRecord = (header: BatchHeader, events: ReadonlyArray<EventContents>): Buffer => {
  const json = JSON.stringify(events.map((event) => [event.type, event.schemaVersion, event.data, event.metadata]))
  const streamIdBytes = Buffer.byteLength(header.streamId)
  let idBytes = 0
  for (const eventId of header.eventIds) idBytes += 2 + Buffer.byteLength(eventId)
  const bodyLength = fixedBodyBytes + streamIdBytes + idBytes + Buffer.byteLength(json)
  const frame = Buffer.allocUnsafe(frameHeaderBytes + bodyLength)
  frame.writeUInt32LE(bodyLength, 0)
  let at = frameHeaderBytes
  frame.writeUInt8(formatVersion, at)
  frame.writeUInt8(0, at + 1)
  frame.writeUInt16LE(streamIdBytes, at + 2)
  frame.writeUInt32LE(header.streamNo, at + 4)
  frame.writeDoubleLE(header.firstPosition, at + 8)
  frame.writeUInt32LE(header.firstVersion, at + 16)
  frame.writeUInt32LE(header.eventIds.length, at + 20)
  frame.writeDoubleLE(header.recordedAt, at + 24)
  at += fixedBodyBytes
  at += frame.write(header.streamId, at)
  for (const eventId of header.eventIds) {
    const length = frame.write(eventId, at + 2)
    frame.writeUInt16LE(length, at)
    at += 2 + length
  }
  frame.write(json, at)
  frame.writeUInt32LE(crc32(frame.subarray(frameHeaderBytes)), 4)
  return frame
}

/**
 * Whether the frame at `offset` of `buffer` (whose first `end` bytes are valid) is
 * complete, of the current format, and passes its CRC. Returns the frame's total length,
 * or a reason it is not a good frame.
 *
 * @internal
 */
export const checkFrame = (buffer: Buffer, offset: number, end: number): number | string => {
  if (end - offset < frameHeaderBytes) return "incomplete frame header"
  const bodyLength = buffer.readUInt32LE(offset)
  if (bodyLength < fixedBodyBytes) return `impossible record length ${bodyLength}`
  if (end - offset - frameHeaderBytes < bodyLength) return `record length ${bodyLength} runs past the end of the data`
  const bodyStart = offset + frameHeaderBytes
  if (buffer.readUInt8(bodyStart) !== formatVersion) return `unknown record format ${buffer.readUInt8(bodyStart)}`
  const expected = buffer.readUInt32LE(offset + 4)
  if (crc32(buffer.subarray(bodyStart, bodyStart + bodyLength)) !== expected) return "CRC mismatch"
  return frameHeaderBytes + bodyLength
}

/**
 * The fixed fields of a body starting at `bodyStart`, read without decoding strings.
 *
 * @internal
 */
export const streamNoAt = (buffer: Buffer, bodyStart: number): number => buffer.readUInt32LE(bodyStart + 4)
/** @internal */
export const firstPositionAt = (buffer: Buffer, bodyStart: number): number => buffer.readDoubleLE(bodyStart + 8)
/** @internal */
export const firstVersionAt = (buffer: Buffer, bodyStart: number): number => buffer.readUInt32LE(bodyStart + 16)
/** @internal */
export const countAt = (buffer: Buffer, bodyStart: number): number => buffer.readUInt32LE(bodyStart + 20)
/** @internal */
export const recordedAtAt = (buffer: Buffer, bodyStart: number): number => buffer.readDoubleLE(bodyStart + 24)
/** @internal */
export const streamIdAt = (buffer: Buffer, bodyStart: number): string => {
  const length = buffer.readUInt16LE(bodyStart + 2)
  return buffer.toString("utf8", bodyStart + fixedBodyBytes, bodyStart + fixedBodyBytes + length)
}
/** @internal */
export const idsStartAt = (buffer: Buffer, bodyStart: number): number =>
  bodyStart + fixedBodyBytes + buffer.readUInt16LE(bodyStart + 2)

/**
 * FNV-1a over UTF-8 bytes, the event-id hash of the in-memory id index. `hashString`
 * and `hashBytes` agree on every string.
 *
 * @internal
 */
export const hashBytes = (buffer: Buffer, start: number, end: number): number => {
  let hash = 0x811c9dc5
  for (let index = start; index < end; index++) {
    hash ^= buffer[index] ?? 0
    hash = Math.imul(hash, 0x01000193)
  }
  return hash >>> 0
}

/** @internal */
export const hashString = (text: string): number => {
  let hash = 0x811c9dc5
  for (let index = 0; index < text.length; index++) {
    const code = text.charCodeAt(index)
    if (code >= 0x80) {
      const bytes = Buffer.from(text)
      return hashBytes(bytes, 0, bytes.length)
    }
    hash ^= code
    hash = Math.imul(hash, 0x01000193)
  }
  return hash >>> 0
}

/**
 * Calls `visit(hash, start, end)` for each event id of the body, in order; returns the
 * offset just past the ids, where the JSON starts.
 *
 * @internal
 */
export const forEachIdAt = (
  buffer: Buffer,
  bodyStart: number,
  visit: (hash: number, start: number, end: number) => void
): number => {
  const count = countAt(buffer, bodyStart)
  let at = idsStartAt(buffer, bodyStart)
  for (let index = 0; index < count; index++) {
    const length = buffer.readUInt16LE(at)
    visit(hashBytes(buffer, at + 2, at + 2 + length), at + 2, at + 2 + length)
    at += 2 + length
  }
  return at
}

/**
 * The event ids of the body, decoded, and the offset where its JSON starts.
 *
 * @internal
 */
export const eventIdsAt = (buffer: Buffer, bodyStart: number): { readonly ids: Array<string>; readonly jsonStart: number } => {
  const count = countAt(buffer, bodyStart)
  const ids = new Array<string>(count)
  let at = idsStartAt(buffer, bodyStart)
  for (let index = 0; index < count; index++) {
    const length = buffer.readUInt16LE(at)
    ids[index] = buffer.toString("utf8", at + 2, at + 2 + length)
    at += 2 + length
  }
  return { ids, jsonStart: at }
}

const parseJson: (text: string) => Json = JSON.parse

// Any JSON object is read back as metadata, whatever its `correlationId` or
// `causationId` hold: appends refuse non-string ones today, but a record that was
// acknowledged must never become unreadable because the reader is stricter than the
// writer that wrote it.
const isMetadata = (value: unknown): value is Metadata =>
  typeof value === "object" && value !== null && !Array.isArray(value)

/**
 * Parses the events' JSON of a body. Returns a reason instead when the JSON is not the
 * shape this module writes (which a good CRC makes a bug, not a disk fault).
 *
 * @internal
 */
export const eventContentsAt = (
  buffer: Buffer,
  jsonStart: number,
  bodyEnd: number,
  count: number
): ReadonlyArray<EventContents> | string => {
  let parsed: Json
  try {
    parsed = parseJson(buffer.toString("utf8", jsonStart, bodyEnd))
  } catch (error) {
    return `events are not JSON: ${String(error)}`
  }
  if (!Array.isArray(parsed) || parsed.length !== count) return "events are not an array of the recorded count"
  const events = new Array<EventContents>(count)
  for (let index = 0; index < count; index++) {
    const tuple = parsed[index]
    if (!Array.isArray(tuple) || tuple.length !== 4) return `event ${index} is not a 4-tuple`
    const [type, schemaVersion, data, metadata] = tuple
    if (typeof type !== "string" || typeof schemaVersion !== "number" || data === undefined ||
      metadata === undefined || !isMetadata(metadata)) {
      return `event ${index} has malformed fields`
    }
    events[index] = { type, schemaVersion, data, metadata }
  }
  return events
}

/**
 * Receives the events of one record from `decodeEvents`, one call per event, in order.
 *
 * @internal
 */
export type EventSink = (
  index: number,
  eventId: string,
  type: string,
  schemaVersion: number,
  data: Json,
  metadata: Metadata
) => void

/**
 * A record's events being decoded: its JSON parsed once, its ids read as its events are.
 * `decodeEvents` moves it on.
 *
 * @internal
 */
export interface BatchCursor {
  readonly parsed: ReadonlyArray<Json>
  readonly count: number
  /** The next event's index in the record, and where its id's length is in the buffer. */
  index: number
  idAt: number
}

/**
 * Starts decoding the body at `bodyStart`..`bodyEnd`: one `JSON.parse` for the whole
 * batch. Returns a reason when the body is not the shape `encodeRecord` writes.
 *
 * @internal
 */
export const openBatch = (buffer: Buffer, bodyStart: number, bodyEnd: number): BatchCursor | string => {
  const count = buffer.readUInt32LE(bodyStart + 20)
  // The ids come first in the body but are decoded after the JSON, so skip past them.
  let jsonStart = bodyStart + fixedBodyBytes + buffer.readUInt16LE(bodyStart + 2)
  const idAt = jsonStart
  for (let index = 0; index < count; index++) jsonStart += 2 + buffer.readUInt16LE(jsonStart)
  if (jsonStart > bodyEnd) return "event ids run past the end of the record"
  let parsed: Json
  try {
    parsed = parseJson(buffer.toString("utf8", jsonStart, bodyEnd))
  } catch (error) {
    return `events are not JSON: ${String(error)}`
  }
  if (!Array.isArray(parsed) || parsed.length !== count) return "events are not an array of the recorded count"
  return { parsed, count, index: 0, idAt }
}

/**
 * Hands the next `limit` events of `cursor` (fewer at the record's end) to `sink`, with
 * no intermediate arrays or objects: reading is bound by this loop, so it avoids
 * everything `eventIdsAt` + `eventContentsAt` allocate. `buffer` must still hold the
 * record. Returns a reason when an event is not the shape `encodeRecord` writes; events
 * before it have been handed to `sink`.
 *
 * @internal
 */
export const decodeEvents = (buffer: Buffer, cursor: BatchCursor, limit: number, sink: EventSink): string | undefined => {
  const { parsed } = cursor
  const end = Math.min(cursor.count, cursor.index + limit)
  let at = cursor.idAt
  for (let index = cursor.index; index < end; index++) {
    const length = buffer.readUInt16LE(at)
    const eventId = buffer.toString("utf8", at + 2, at + 2 + length)
    at += 2 + length
    const tuple = parsed[index]
    if (!Array.isArray(tuple) || tuple.length !== 4) return `event ${index} is not a 4-tuple`
    const type = tuple[0]
    const schemaVersion = tuple[1]
    const data = tuple[2]
    const metadata = tuple[3]
    if (typeof type !== "string" || typeof schemaVersion !== "number" || data === undefined ||
      metadata === undefined || !isMetadata(metadata)) {
      return `event ${index} has malformed fields`
    }
    sink(index, eventId, type, schemaVersion, data, metadata)
  }
  cursor.index = end
  cursor.idAt = at
  return undefined
}
