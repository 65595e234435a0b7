/**
 * Opening a log: build the in-memory index from idx files and scans, cut a torn or
 * unwritten tail, and rewrite the idx files that were missing or unusable. Runs once,
 * before the writer and the readers exist, so everything here is local to one open.
 *
 * @internal
 */
import type { FileStoreOpenReport } from "../../EventStoreFile.js"
import * as fs from "node:fs/promises"
import * as path from "node:path"
import { countAt, firstPositionAt, firstVersionAt, fixedBodyBytes, frameHeaderBytes, streamNoAt } from "./frame.js"
import type { SegmentIndex } from "./indexFile.js"
import { idxName, readIdx, removeIdx, writeIdx } from "./indexFile.js"
import type { FileIo } from "./io.js"
import { LogIndex } from "./logIndex.js"
import { estimateEvents, listSegments, scanSegments, segmentName } from "./segments.js"
import type { ScanOutcome } from "./segments.js"

/**
 * What opening found and did, beside the store itself.
 *
 * - `truncated`: the torn tail cut from the last segment, if any.
 * - `rebuiltIndexes`: the idx files rewritten from a scan of their segment (missing,
 *   torn, or not matching it).
 * - `indexWriteFailure`: why rewriting them failed, if it did (the store works without
 *   them; the next open scans those segments again).
 *
 * @internal
 */
export type OpenReport = FileStoreOpenReport

/**
 * The index as opening built it, how the scan of the last segment ended, and where the
 * last segment's records and streams begin.
 *
 * @internal
 */
export interface BuiltIndex {
  readonly index: LogIndex
  readonly outcome: ScanOutcome
  readonly toWrite: ReadonlyArray<IdxToWrite>
  readonly lastFirstRecord: number
  readonly lastFirstStreamNo: number
}

/** A sealed segment whose idx file is missing or unusable, to be written after open. */
interface IdxToWrite {
  readonly segment: number
  readonly index: SegmentIndex
}

// Whether an idx file describes the log file as it is: same size, and the last record's
// frame header where the idx says it is. A cheap check (one stat, one 40-byte read)
// against an idx left from another log or a log cut short; `verify` compares in full.
const idxMatchesLog = async (directory: string, segment: number, idx: SegmentIndex): Promise<boolean> => {
  const handle = await fs.open(path.join(directory, segmentName(segment)), "r")
  try {
    if ((await handle.stat()).size !== idx.logBytes) return false
    const last = idx.records - 1
    if (last < 0) return idx.logBytes === 0
    const offset = idx.offset[last]
    const length = idx.length[last]
    if (offset === undefined || length === undefined || offset + length !== idx.logBytes || idx.offset[0] !== 0) return false
    const header = Buffer.alloc(frameHeaderBytes + fixedBodyBytes)
    const { bytesRead } = await handle.read(header, 0, header.length, offset)
    return bytesRead === header.length && header.readUInt32LE(0) + frameHeaderBytes === length &&
      firstPositionAt(header, frameHeaderBytes) === idx.firstPosition[last] &&
      firstVersionAt(header, frameHeaderBytes) === idx.firstVersion[last] &&
      countAt(header, frameHeaderBytes) === idx.count[last] &&
      streamNoAt(header, frameHeaderBytes) === idx.streamNo[last]
  } finally {
    await handle.close()
  }
}

// Idx files read at once when opening: enough to keep the disk busy, few enough that a
// store of thousands of segments opens under a low descriptor limit.
const idxReads = 16

// `items.map(f)` with at most `limit` calls of `f` in flight, results in order.
const mapBounded = async <A, B>(items: ReadonlyArray<A>, limit: number, f: (item: A) => Promise<B>): Promise<Array<B>> => {
  const results = new Array<B>(items.length)
  let next = 0
  const worker = async (): Promise<void> => {
    for (let at = next++; at < items.length; at = next++) {
      const item = items[at]
      if (item !== undefined) results[at] = await f(item)
    }
  }
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker))
  return results
}

/**
 * Builds the index of the log: each sealed segment from its idx file when it has a
 * usable one, by a scan otherwise (recorded in `toWrite`); the last segment always by a
 * scan, which may end in a torn tail, unless `scanLast` is false (a read-only store
 * follows the last segment itself, only as far as it is durable). An idx file that
 * passes its own checks but does not fit the records before it starts the whole build
 * over without idx files. Changes nothing on disk.
 *
 * @internal
 */
export const buildIndex = async (directory: string, segments: ReadonlyArray<number>, scanLast = true, useIdx = true): Promise<BuiltIndex> => {
  const last = segments[segments.length - 1]
  const sealed = segments.slice(0, -1)
  const idxFiles = useIdx ? await mapBounded(sealed, idxReads, (segment) => readIdx(directory, segment)) : []
  // Size the id table once for every event: idx files count theirs, scans are estimated.
  let estimate = 0
  const toScan: Array<number> = last === undefined ? [] : [last]
  for (const [at, segment] of sealed.entries()) {
    const idx = idxFiles[at]
    if (idx !== undefined && typeof idx !== "string") estimate += idx.events
    else toScan.push(segment)
  }
  estimate += await estimateEvents(directory, toScan)
  const index = new LogIndex(estimate)
  const toWrite: Array<IdxToWrite> = []
  for (const [at, segment] of sealed.entries()) {
    const firstRecord = index.table.size
    const firstStreamNo = index.streamList.length
    const idx = idxFiles[at]
    if (idx !== undefined && typeof idx !== "string" && await idxMatchesLog(directory, segment, idx)) {
      if (index.load(idx, segment) === undefined) continue
      return buildIndex(directory, segments, scanLast, false)
    }
    const outcome = await scanSegments(directory, [segment], index.visit, false)
    if (outcome._tag !== "Complete") return { index, outcome, toWrite, lastFirstRecord: 0, lastFirstStreamNo: 0 }
    const logBytes = (await fs.stat(path.join(directory, segmentName(segment)))).size
    toWrite.push({ segment, index: index.segmentIndex(firstRecord, index.table.size, firstStreamNo, logBytes) })
  }
  const lastFirstRecord = index.table.size
  const lastFirstStreamNo = index.streamList.length
  const outcome: ScanOutcome = last === undefined || !scanLast ? { _tag: "Complete" } : await scanSegments(directory, [last], index.visit, true)
  return { index, outcome, toWrite, lastFirstRecord, lastFirstStreamNo }
}

/**
 * The opened log: its index, its segments, and where the last segment's records and
 * streams begin (the writer seals that segment later).
 *
 * @internal
 */
export interface Recovered {
  readonly index: LogIndex
  readonly segments: ReadonlyArray<number>
  readonly lastFirstRecord: number
  readonly lastFirstStreamNo: number
  readonly report: OpenReport
}

/** @internal */
export type RecoveryResult =
  | { readonly _tag: "Recovered"; readonly recovered: Recovered }
  | { readonly _tag: "Corrupt"; readonly segment: string; readonly offset: number; readonly reason: string }

const truncateTail = async (io: FileIo, file: string, offset: number): Promise<void> => {
  const handle = await io.open(file, "r+")
  try {
    await io.truncate(handle, offset)
    await io.datasync(handle)
  } finally {
    await handle.close()
  }
}

/**
 * Builds the index of the log in `directory`, cuts a torn tail, and rewrites missing idx
 * files (a failure to write them is reported, not fatal). Refuses a corrupt log.
 *
 * @internal
 */
export const recover = async (directory: string, io: FileIo): Promise<RecoveryResult> => {
  const segments = await listSegments(directory)
  const last = segments[segments.length - 1]
  // An idx of the last segment was left by a later segment's removal; stale once appended to.
  if (last !== undefined) await removeIdx(io, directory, last)
  const built = await buildIndex(directory, segments)
  const { index, outcome } = built
  if (outcome._tag === "Corrupt") {
    return { _tag: "Corrupt", segment: segmentName(outcome.segment), offset: outcome.offset, reason: outcome.reason }
  }
  let truncated: OpenReport["truncated"] = undefined
  // Zeros a writer laid down ahead are cut too (the writer lays its own), but unreported:
  // nothing was torn.
  if (outcome._tag === "TornTail" || outcome._tag === "Unwritten") {
    await truncateTail(io, path.join(directory, segmentName(outcome.segment)), outcome.offset)
  }
  if (outcome._tag === "TornTail") {
    truncated = { segment: segmentName(outcome.segment), offset: outcome.offset, bytes: outcome.size - outcome.offset }
  }
  // Idx files for the sealed segments that had to be scanned (a store written before
  // idx files existed, or one whose idx was lost): the next open reads them instead.
  let indexWriteFailure: string | undefined = undefined
  if (built.toWrite.length > 0) {
    try {
      for (const { segment, index: idx } of built.toWrite) await writeIdx(io, directory, segment, idx)
      await io.syncDirectory(directory)
    } catch (cause) {
      indexWriteFailure = String(cause)
    }
  }
  const report: OpenReport = {
    segments: segments.length,
    records: index.table.size,
    events: index.nextPosition - 1,
    truncated,
    rebuiltIndexes: built.toWrite.map(({ segment }) => idxName(segment)),
    indexWriteFailure
  }
  return {
    _tag: "Recovered",
    recovered: { index, segments, lastFirstRecord: built.lastFirstRecord, lastFirstStreamNo: built.lastFirstStreamNo, report }
  }
}
