/**
 * `verify`: a full check of a store's files without opening it for writing — every
 * record's frame, CRC and events, positions and versions following on, and every idx
 * file compared with its segment record by record.
 *
 * @internal
 */
import * as fs from "node:fs/promises"
import * as path from "node:path"
import { countAt, eventContentsAt, eventIdsAt } from "./frame.js"
import { compareIdx, idxName, readIdx } from "./indexFile.js"
import { LogIndex } from "./logIndex.js"
import { listSegments, scanSegments, segmentName } from "./segments.js"

/**
 * The outcome of `verify`.
 *
 * - `Intact`: every record is whole, its CRC matches, its events parse, and positions
 *   and versions follow on (zeros after the last record are space a writer laid down
 *   ahead of its appends, not damage).
 * - `TornTail`: everything is good up to a torn tail that opening the store would cut.
 * - `Corrupt`: the first bad record, which opening the store would refuse; or an index
 *   file (`segment` then names the `.idx` file) whose records disagree with its segment.
 *
 * @internal
 */
export type VerifyReport =
  | { readonly _tag: "Intact"; readonly segments: number; readonly records: number; readonly events: number }
  | { readonly _tag: "TornTail"; readonly segment: string; readonly offset: number; readonly bytes: number }
  | { readonly _tag: "Corrupt"; readonly segment: string; readonly offset: number; readonly reason: string }

interface SegmentStart {
  readonly record: number
  readonly streamNo: number
}

// An idx file is trusted by open after a spot check, so check each here in full. One
// that is unreadable or torn is not corruption: open rebuilds it.
const checkIdxFiles = async (
  directory: string,
  segments: ReadonlyArray<number>,
  index: LogIndex,
  starts: ReadonlyMap<number, SegmentStart>
): Promise<VerifyReport | undefined> => {
  for (const [at, segment] of segments.slice(0, -1).entries()) {
    const idx = await readIdx(directory, segment)
    if (idx === undefined || typeof idx === "string") continue
    const start = starts.get(segment) ?? { record: index.table.size, streamNo: index.streamList.length }
    const next = segments[at + 1]
    const end = (next === undefined ? undefined : starts.get(next)?.record) ?? index.table.size
    const size = (await fs.stat(path.join(directory, segmentName(segment)))).size
    const disagreement = compareIdx(idx, index.segmentIndex(start.record, end, start.streamNo, size))
    if (disagreement !== undefined) {
      return { _tag: "Corrupt", segment: idxName(segment), offset: 0, reason: `the index disagrees with ${segmentName(segment)}: ${disagreement}` }
    }
  }
  return undefined
}

/**
 * Checks every record of the store in `directory`. Rejects only when the files cannot
 * be read. `onRecord` hears of each record checked: its segment and the byte it ends at
 * (for a progress report).
 *
 * @internal
 */
export const verifyStore = async (
  directory: string,
  onRecord: (segment: number, end: number) => void = () => undefined
): Promise<VerifyReport> => {
  const segments = await listSegments(directory)
  const index = new LogIndex()
  // Where each segment's records and streams begin, to compare idx files with.
  const starts = new Map<number, SegmentStart>()
  const outcome = await scanSegments(directory, segments, (buffer, bodyStart, bodyEnd, segment, offset, length) => {
    if (!starts.has(segment)) starts.set(segment, { record: index.table.size, streamNo: index.streamList.length })
    const refused = index.visit(buffer, bodyStart, bodyEnd, segment, offset, length)
    if (refused !== undefined) return refused
    onRecord(segment, offset + length)
    const { jsonStart } = eventIdsAt(buffer, bodyStart)
    const contents = eventContentsAt(buffer, jsonStart, bodyEnd, countAt(buffer, bodyStart))
    return typeof contents === "string" ? contents : undefined
  })
  switch (outcome._tag) {
    case "Complete":
    case "Unwritten":
      return await checkIdxFiles(directory, segments, index, starts) ??
        { _tag: "Intact", segments: segments.length, records: index.table.size, events: index.nextPosition - 1 }
    case "TornTail":
      return { _tag: "TornTail", segment: segmentName(outcome.segment), offset: outcome.offset, bytes: outcome.size - outcome.offset }
    case "Corrupt":
      return { _tag: "Corrupt", segment: segmentName(outcome.segment), offset: outcome.offset, reason: outcome.reason }
  }
}
