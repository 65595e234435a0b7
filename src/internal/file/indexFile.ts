/**
 * The index file of a sealed segment, `segment-NNNNNNNN.idx`: the header fields of every
 * record of `segment-NNNNNNNN.log`, so that opening a store reads one small file per
 * sealed segment instead of scanning its records (the log is ~10× larger and needs a CRC
 * and a parse per record). Only the last segment, the one being written, is scanned.
 *
 * ```
 * [u32 magic "ESIX"][u32 format=1][u32 records][u32 events][u32 firstStreamNo][u32 streams]
 * [f64 logBytes]                                                        32-byte header
 * records × f64 firstPosition, records × f64 offset,
 * records × u32 firstVersion, records × u32 count, records × u32 streamNo, records × u32 length,
 * events × u32 eventIdHash,
 * streams × ([u16 bytes][stream id utf8])     the streams first recorded in this segment
 * [u32 crc32 of everything before it]                                   little-endian
 * ```
 *
 * The f64 columns come first so they start 8-byte aligned and load as typed-array copies.
 * An idx file is derived data: written (temporary file, datasync, rename) when its segment
 * is sealed, rebuilt by a scan whenever it is missing, fails its CRC, or disagrees with
 * the log's size or last record; `verify` compares it with the log record by record.
 *
 * @internal
 */
import * as fs from "node:fs/promises"
import * as os from "node:os"
import * as path from "node:path"
import { crc32 } from "node:zlib"
import type { FileIo } from "./io.js"
import { writeFully } from "./io.js"

const magic = 0x58495345 // "ESIX" little-endian
// The columns are the typed arrays' own bytes, so the file is little-endian only on a
// little-endian host; elsewhere idx files are neither written nor read (opening scans).
const littleEndianHost = os.endianness() === "LE"
const idxFormat = 1
const headerBytes = 32

/** @internal */
export const idxName = (segment: number): string => `segment-${String(segment).padStart(8, "0")}.idx`

/**
 * The contents of an idx file: one entry per record of the segment, in log order.
 *
 * @internal
 */
export interface SegmentIndex {
  readonly records: number
  readonly events: number
  readonly firstStreamNo: number
  readonly streamIds: ReadonlyArray<string>
  readonly logBytes: number
  readonly firstPosition: Float64Array
  readonly offset: Float64Array
  readonly firstVersion: Uint32Array
  readonly count: Uint32Array
  readonly streamNo: Uint32Array
  readonly length: Uint32Array
  readonly hashes: Uint32Array
}

/**
 * Encodes an idx file.
 *
 * @internal
 */
export const encodeIdx = (index: SegmentIndex): Buffer => {
  const { records, events } = index
  const names = index.streamIds.map((streamId) => Buffer.from(streamId))
  let namesBytes = 0
  for (const name of names) namesBytes += 2 + name.length
  const size = headerBytes + records * (8 + 8 + 4 * 4) + events * 4 + namesBytes + 4
  const buffer = Buffer.alloc(size)
  buffer.writeUInt32LE(magic, 0)
  buffer.writeUInt32LE(idxFormat, 4)
  buffer.writeUInt32LE(records, 8)
  buffer.writeUInt32LE(events, 12)
  buffer.writeUInt32LE(index.firstStreamNo, 16)
  buffer.writeUInt32LE(names.length, 20)
  buffer.writeDoubleLE(index.logBytes, 24)
  let at = headerBytes
  const column = (array: Float64Array | Uint32Array, count: number): void => {
    const bytes = Buffer.from(array.buffer, array.byteOffset, count * array.BYTES_PER_ELEMENT)
    at += bytes.copy(buffer, at)
  }
  column(index.firstPosition, records)
  column(index.offset, records)
  column(index.firstVersion, records)
  column(index.count, records)
  column(index.streamNo, records)
  column(index.length, records)
  column(index.hashes, events)
  for (const name of names) {
    buffer.writeUInt16LE(name.length, at)
    at += 2 + name.copy(buffer, at + 2)
  }
  buffer.writeUInt32LE(crc32(buffer.subarray(0, at)), at)
  return buffer
}

// Typed-array columns over the file's bytes: views when the column is aligned (a file
// read whole sits at the start of its own ArrayBuffer, and the format aligns the
// columns), copies otherwise. Views spare a copy of every column at open; the index then
// copies them once more into its own growable columns.
const float64s = (buffer: Buffer, at: number, count: number): Float64Array => {
  if ((buffer.byteOffset + at) % 8 === 0) return new Float64Array(buffer.buffer, buffer.byteOffset + at, count)
  const array = new Float64Array(count)
  buffer.copy(Buffer.from(array.buffer), 0, at, at + count * 8)
  return array
}
const uint32s = (buffer: Buffer, at: number, count: number): Uint32Array => {
  if ((buffer.byteOffset + at) % 4 === 0) return new Uint32Array(buffer.buffer, buffer.byteOffset + at, count)
  const array = new Uint32Array(count)
  buffer.copy(Buffer.from(array.buffer), 0, at, at + count * 4)
  return array
}

/**
 * Decodes an idx file, or returns why it is unusable.
 *
 * @internal
 */
export const decodeIdx = (buffer: Buffer): SegmentIndex | string => {
  if (!littleEndianHost) return "index files need a little-endian host"
  if (buffer.length < headerBytes + 4) return "index file too short"
  if (buffer.readUInt32LE(0) !== magic || buffer.readUInt32LE(4) !== idxFormat) return "not an index file of this format"
  const records = buffer.readUInt32LE(8)
  const events = buffer.readUInt32LE(12)
  const firstStreamNo = buffer.readUInt32LE(16)
  const streams = buffer.readUInt32LE(20)
  const logBytes = buffer.readDoubleLE(24)
  const fixed = headerBytes + records * 32 + events * 4
  if (fixed + streams * 2 + 4 > buffer.length) return "index file shorter than its header says"
  const end = buffer.length - 4
  if (crc32(buffer.subarray(0, end)) !== buffer.readUInt32LE(end)) return "index file CRC mismatch"
  let at = headerBytes
  const firstPosition = float64s(buffer, at, records)
  at += records * 8
  const offset = float64s(buffer, at, records)
  at += records * 8
  const firstVersion = uint32s(buffer, at, records)
  at += records * 4
  const count = uint32s(buffer, at, records)
  at += records * 4
  const streamNo = uint32s(buffer, at, records)
  at += records * 4
  const length = uint32s(buffer, at, records)
  at += records * 4
  const hashes = uint32s(buffer, at, events)
  at += events * 4
  const streamIds = new Array<string>(streams)
  for (let index = 0; index < streams; index++) {
    if (at + 2 > end) return "index file stream ids run past its end"
    const bytes = buffer.readUInt16LE(at)
    if (at + 2 + bytes > end) return "index file stream ids run past its end"
    streamIds[index] = buffer.toString("utf8", at + 2, at + 2 + bytes)
    at += 2 + bytes
  }
  if (at !== end) return "index file has trailing bytes"
  return { records, events, firstStreamNo, streamIds, logBytes, firstPosition, offset, firstVersion, count, streamNo, length, hashes }
}

/**
 * Reads and decodes the idx file of `segment`: `undefined` when there is none, a reason
 * when it is unusable.
 *
 * @internal
 */
export const readIdx = async (directory: string, segment: number): Promise<SegmentIndex | string | undefined> => {
  let buffer: Buffer
  try {
    buffer = await fs.readFile(path.join(directory, idxName(segment)))
  } catch (cause) {
    if (cause instanceof Error && Reflect.get(cause, "code") === "ENOENT") return undefined
    throw cause
  }
  return decodeIdx(buffer)
}

/**
 * Writes the idx file of `segment` durably: a temporary file, datasync, then a rename
 * (the caller syncs the directory). A crash at any point leaves either no idx file or a
 * complete one; a torn one would fail its CRC and be rebuilt anyway.
 *
 * @internal
 */
export const writeIdx = async (io: FileIo, directory: string, segment: number, index: SegmentIndex): Promise<void> => {
  if (!littleEndianHost) return
  const file = path.join(directory, idxName(segment))
  const temporary = `${file}.tmp`
  const handle = await io.open(temporary, "w")
  try {
    try {
      await writeFully(io, handle, [encodeIdx(index)], 0)
      await io.datasync(handle)
    } finally {
      await handle.close()
    }
    await io.rename(temporary, file)
  } catch (cause) {
    // A full disk, say: leave no partial temporary file behind.
    await io.remove(temporary).catch(() => undefined)
    throw cause
  }
}

/**
 * Removes the idx file of `segment` if there is one.
 *
 * @internal
 */
export const removeIdx = (io: FileIo, directory: string, segment: number): Promise<void> =>
  io.remove(path.join(directory, idxName(segment)))

/**
 * The first difference between two idx contents, or `undefined` when they agree.
 *
 * @internal
 */
export const compareIdx = (found: SegmentIndex, expected: SegmentIndex): string | undefined => {
  if (found.records !== expected.records) return `${found.records} records, the log has ${expected.records}`
  if (found.events !== expected.events) return `${found.events} events, the log has ${expected.events}`
  if (found.logBytes !== expected.logBytes) return `${found.logBytes} bytes of log, the log has ${expected.logBytes}`
  if (found.firstStreamNo !== expected.firstStreamNo) return `streams numbered from ${found.firstStreamNo}, the log from ${expected.firstStreamNo}`
  if (found.streamIds.join("\u0000") !== expected.streamIds.join("\u0000")) return "different new streams"
  const columns = ["firstPosition", "offset", "firstVersion", "count", "streamNo", "length"] as const
  for (const column of columns) {
    for (let record = 0; record < found.records; record++) {
      if (found[column][record] !== expected[column][record]) return `record ${record}: ${column} ${found[column][record]}, the log has ${expected[column][record]}`
    }
  }
  for (let event = 0; event < found.events; event++) {
    if (found.hashes[event] !== expected.hashes[event]) return `event ${event}: a different event id hash`
  }
  return undefined
}
