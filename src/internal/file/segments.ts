/**
 * Segment files and the scan that opening and `verify` share.
 *
 * A segment is `segment-<8-digit number>.log`, records back to back. A new segment is
 * created only when the previous one's last group commit has been synced and its file cut
 * to its records, so only the last segment can end in a torn write, or in the zeros a
 * durable writer lays down ahead of its appends (`Unwritten` below). Anything wrong in an
 * older segment is corruption; so is a bad record followed by a good one, unless a power
 * loss explains it (see `tornByPowerLoss`).
 *
 * @internal
 */
import * as fs from "node:fs/promises"
import type { FileHandle } from "node:fs/promises"
import * as path from "node:path"
import { checkFrame, fixedBodyBytes, frameHeaderBytes } from "./frame.js"

/** @internal */
export const segmentName = (segment: number): string => `segment-${String(segment).padStart(8, "0")}.log`

const segmentPattern = /^segment-(\d{8})\.log$/

/**
 * The segment numbers in the directory, ascending.
 *
 * @internal
 */
export const listSegments = async (directory: string): Promise<Array<number>> => {
  const names = await fs.readdir(directory)
  const segments: Array<number> = []
  for (const name of names) {
    const match = segmentPattern.exec(name)
    if (match?.[1] !== undefined) segments.push(Number(match[1]))
  }
  return segments.sort((a, b) => a - b)
}

/**
 * A guess at the events in these segments (a small one-event record takes ~160 bytes),
 * to size the id table close to its final size instead of doubling it many times during
 * the scan. Oversizing is worse than a few doublings: a sparse table misses the cache.
 *
 * @internal
 */
export const estimateEvents = async (directory: string, segments: ReadonlyArray<number>): Promise<number> => {
  let bytes = 0
  for (const segment of segments) bytes += (await fs.stat(path.join(directory, segmentName(segment)))).size
  return Math.ceil(bytes / 160)
}

/**
 * How a scan ended.
 *
 * - `Complete`: every record is good.
 * - `Unwritten`: every record is good up to `offset`, and every byte after it is zero:
 *   space a durable writer laid down ahead of its appends (see `writer.ts`), or appends
 *   that never reached the disk. Nothing was lost that was acknowledged; cutting it is safe.
 * - `TornTail`: the last segment ends in bytes that are not a complete record and no good
 *   record follows them, or only records a power loss tore from it: an interrupted
 *   write, safe to cut at `offset`.
 * - `Corrupt`: a bad record that is not a torn tail, or a record `visit` refused.
 *
 * @internal
 */
export type ScanOutcome =
  | { readonly _tag: "Complete" }
  | { readonly _tag: "Unwritten"; readonly segment: number; readonly offset: number; readonly size: number }
  | { readonly _tag: "TornTail"; readonly segment: number; readonly offset: number; readonly size: number }
  | { readonly _tag: "Corrupt"; readonly segment: number; readonly offset: number; readonly reason: string }

/**
 * Called for each good record: its buffer, the body's start and end in it, where the
 * record lives. Returns a reason to stop the scan as corrupt (a record out of order).
 *
 * @internal
 */
export type RecordVisitor = (
  buffer: Buffer,
  bodyStart: number,
  bodyEnd: number,
  segment: number,
  offset: number,
  length: number
) => string | undefined

const chunkBytes = 8 * 1024 * 1024

// Is there any good frame at or after `from`? Only asked about the bytes after a bad
// record in the last segment, which after a crash is at most one group commit's worth.
const goodFrameAfter = (buffer: Buffer, from: number, end: number): number | undefined => {
  for (let offset = from; offset + frameHeaderBytes <= end; offset++) {
    // No frame is shorter than its fixed fields: skip the zeros laid down ahead cheaply.
    if (buffer.readUInt32LE(offset) < fixedBodyBytes) continue
    if (typeof checkFrame(buffer, offset, end) === "number") return offset
  }
  return undefined
}

const pageBytes = 4096

const zeros = Buffer.alloc(64 * 1024)

const isZero = (buffer: Buffer, from: number, to: number): boolean => {
  for (let at = from; at < to; at += zeros.length) {
    const end = Math.min(to, at + zeros.length)
    if (zeros.compare(buffer, at, end, 0, end - at) !== 0) return false
  }
  return true
}

// A power loss keeps or drops each page of a write no sync covered, and a dropped page
// past the file's old end reads as zeros. So when the bytes of a bad record up to the
// next page boundary, or a whole page between it and the next good record, are zeros,
// the good records after it came from the same unsynced writes — a sync would have made
// the dropped page durable too — and none of them was acknowledged: the tail is torn,
// not corrupt. `rest` holds the file from `offset`; `good` is where the good record is.
const tornByPowerLoss = (rest: Buffer, offset: number, good: number): boolean => {
  const firstBoundary = Math.ceil((offset + 1) / pageBytes) * pageBytes - offset
  if (isZero(rest, 0, Math.min(firstBoundary, good))) return true
  for (let page = firstBoundary; page + pageBytes <= good; page += pageBytes) {
    if (isZero(rest, page, page + pageBytes)) return true
  }
  return false
}

/**
 * A window of a segment file in memory, refilled on demand. Each refill reads at least
 * `chunkBytes`, so small records cost one read per chunk; a record larger than a chunk
 * gets a window of its own size.
 */
class SegmentWindow {
  // Sized by the first read: a read-only store scans the few new bytes of each flush.
  private buffer = Buffer.allocUnsafe(0)
  private start = 0 // file offset of buffer[0]
  private end = 0 // bytes of buffer holding file data

  constructor(private readonly handle: FileHandle, readonly size: number) {}

  /**
   * Makes the bytes [offset, offset + bytes) — or up to the end of the file, if that is
   * sooner — sit in the window; returns the buffer, where `offset` is, and how many
   * bytes from there are the file's.
   */
  async cover(offset: number, bytes: number): Promise<{ readonly buffer: Buffer; readonly at: number; readonly available: number }> {
    const want = Math.min(bytes, this.size - offset)
    if (offset < this.start || offset + want > this.start + this.end) {
      const read = Math.min(this.size - offset, Math.max(chunkBytes, want))
      if (read > this.buffer.length) this.buffer = Buffer.allocUnsafe(read)
      const { bytesRead } = await this.handle.read(this.buffer, 0, read, offset)
      this.start = offset
      this.end = bytesRead
    }
    return { buffer: this.buffer, at: offset - this.start, available: this.start + this.end - offset }
  }
}

/**
 * Reads every segment in order in large chunks, checks every frame, and hands each good
 * record to `visit`. Records of any size are read whole: the window is sized from the
 * frame's length once its header is in. Only the last segment may end in a torn tail,
 * and only when `lastMayBeTorn` (false when scanning a sealed segment on its own).
 *
 * @internal
 */
export const scanSegments = async (
  directory: string,
  segments: ReadonlyArray<number>,
  visit: RecordVisitor,
  lastMayBeTorn = true
): Promise<ScanOutcome> => {
  for (const [index, segment] of segments.entries()) {
    const isLast = lastMayBeTorn && index === segments.length - 1
    const handle = await fs.open(path.join(directory, segmentName(segment)), "r")
    try {
      const outcome = await scanSegment(handle, segment, visit, isLast)
      if (outcome._tag !== "Complete") return outcome
    } finally {
      await handle.close()
    }
  }
  return { _tag: "Complete" }
}

/**
 * Scans the bytes [from, size) of one segment as `scanSegments` does: `from` is where a
 * record starts, `size` where the scan stops (the file's size, or a bound a reader was
 * told is durable). A torn tail is reported, never cut: cutting is the opener's job.
 *
 * @internal
 */
export const scanSegmentRange = async (
  directory: string,
  segment: number,
  range: { readonly from: number; readonly size: number },
  visit: RecordVisitor,
  mayBeTorn: boolean
): Promise<ScanOutcome> => {
  const handle = await fs.open(path.join(directory, segmentName(segment)), "r")
  try {
    return await scanSegment(handle, segment, visit, mayBeTorn, range.from, range.size)
  } finally {
    await handle.close()
  }
}

const scanSegment = async (
  handle: FileHandle,
  segment: number,
  visit: RecordVisitor,
  mayBeTorn: boolean,
  from = 0,
  end?: number
): Promise<ScanOutcome> => {
  const size = end ?? (await handle.stat()).size
  const window = new SegmentWindow(handle, size)
  let offset = from
  while (offset < size) {
    let view = await window.cover(offset, frameHeaderBytes)
    if (view.available >= frameHeaderBytes) {
      view = await window.cover(offset, frameHeaderBytes + view.buffer.readUInt32LE(view.at))
    }
    const { buffer, at, available } = view
    const checked = checkFrame(buffer, at, at + available)
    if (typeof checked === "string") {
      if (!mayBeTorn) return { _tag: "Corrupt", segment, offset, reason: `${checked} in a sealed segment` }
      const unread = Buffer.allocUnsafe(size - offset)
      const rest = unread.subarray(0, (await handle.read(unread, 0, unread.length, offset)).bytesRead)
      if (isZero(rest, 0, rest.length)) return { _tag: "Unwritten", segment, offset, size }
      const good = goodFrameAfter(rest, 1, rest.length)
      if (good === undefined || tornByPowerLoss(rest, offset, good)) return { _tag: "TornTail", segment, offset, size }
      return { _tag: "Corrupt", segment, offset, reason: `${checked}, followed by a good record at byte ${offset + good}` }
    }
    const refused = visit(buffer, at + frameHeaderBytes, at + checked, segment, offset, checked)
    if (refused !== undefined) return { _tag: "Corrupt", segment, offset, reason: refused }
    offset += checked
  }
  return { _tag: "Complete" }
}
