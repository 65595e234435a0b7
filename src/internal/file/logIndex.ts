/**
 * The whole in-memory index of a log: the record table, the event-id hashes, and the
 * streams. Opening builds it record by record (`visit`, from a scan) or segment by
 * segment (`load`, from an idx file), checking that positions and versions follow on;
 * appends extend it with `add`. Only the open scan and the writer's reservations change
 * it; everything else reads it.
 *
 * @internal
 */
import {
  countAt,
  firstPositionAt,
  firstVersionAt,
  hashBytes,
  idsStartAt,
  streamIdAt,
  streamNoAt
} from "./frame.js"
import type { SegmentIndex } from "./indexFile.js"
import { HashLog, IdTable, maxPosition, RecordTable } from "./recordTable.js"

/**
 * What the store knows about one stream. `version` counts the events reserved for it,
 * including those of batches still being written; readers see only durable records.
 *
 * @internal
 */
export interface StreamEntry {
  readonly streamId: string
  readonly streamNo: number
  version: number
  readonly records: Array<number>
}

/** @internal */
export class LogIndex {
  readonly table = new RecordTable()
  readonly ids = new IdTable()
  readonly hashLog = new HashLog()
  readonly streams = new Map<string, StreamEntry>()
  readonly streamList: Array<StreamEntry> = []
  /** The position the next event appended gets. */
  nextPosition = 1

  constructor(expectedEvents = 0) {
    // Records never outnumber events: reserving for the events up front spares the
    // columns their doublings (and the garbage of each) while a large store loads.
    this.ids.reserve(expectedEvents)
    this.table.reserve(expectedEvents)
    this.hashLog.reserve(expectedEvents)
  }

  /** The stream numbered `streamNo`; a number the index never gave out is a bug. */
  stream(streamNo: number): StreamEntry {
    const entry = this.streamList[streamNo]
    if (entry === undefined) throw new RangeError(`stream number ${streamNo} is outside the ${this.streamList.length} streams`)
    return entry
  }

  /** The stream of record `record`. */
  streamOf(record: number): StreamEntry {
    return this.stream(this.table.streamNo(record))
  }

  /**
   * Records a new batch of `hashes.length` events for `streamId` at the next position
   * and the stream's next version, and returns its record number.
   */
  add(streamId: string, hashes: ReadonlyArray<number>, length: number): number {
    const entry = this.streams.get(streamId) ?? this.addStream(streamId, this.streamList.length)
    if (typeof entry === "string") throw new Error(entry)
    const firstPosition = this.nextPosition
    const record = this.table.push(firstPosition, entry.version + 1, hashes.length, entry.streamNo, length)
    entry.records.push(record)
    entry.version += hashes.length
    this.nextPosition += hashes.length
    for (let offset = 0; offset < hashes.length; offset++) {
      const hash = hashes[offset]
      if (hash === undefined) throw new RangeError(`event ${offset} has no id hash`)
      this.ids.insert(hash, firstPosition + offset)
      this.hashLog.push(hash)
    }
    return record
  }

  /** The scan visitor: adds the good record at `offset` of `segment`, or says why it does not follow on. */
  readonly visit = (buffer: Buffer, bodyStart: number, _bodyEnd: number, segment: number, offset: number, length: number): string | undefined => {
    const firstPosition = firstPositionAt(buffer, bodyStart)
    const count = countAt(buffer, bodyStart)
    if (firstPosition !== this.nextPosition) {
      return `record starts at position ${firstPosition}, expected ${this.nextPosition}`
    }
    if (count === 0) return "record holds no events"
    if (firstPosition - 1 + count > maxPosition) return `record holds positions beyond ${maxPosition}`
    const streamNo = streamNoAt(buffer, bodyStart)
    let entry = this.streamList[streamNo]
    if (entry === undefined) {
      if (streamNo !== this.streamList.length) return `record names unknown stream number ${streamNo}`
      const added = this.addStream(streamIdAt(buffer, bodyStart), streamNo)
      if (typeof added === "string") return added
      entry = added
    }
    const firstVersion = firstVersionAt(buffer, bodyStart)
    if (firstVersion !== entry.version + 1) {
      return `record starts stream ${entry.streamId} at version ${firstVersion}, expected ${entry.version + 1}`
    }
    const record = this.table.push(firstPosition, firstVersion, count, streamNo, length)
    this.table.locate(record, segment, offset)
    entry.records.push(record)
    entry.version += count
    let at = idsStartAt(buffer, bodyStart)
    for (let event = 0; event < count; event++) {
      const idBytes = buffer.readUInt16LE(at)
      const hash = hashBytes(buffer, at + 2, at + 2 + idBytes)
      this.ids.insert(hash, firstPosition + event)
      this.hashLog.push(hash)
      at += 2 + idBytes
    }
    this.nextPosition += count
    return undefined
  }

  /**
   * Adds the records of a sealed segment's idx file, with the checks `visit` makes per
   * record. A refusal may leave the index half-extended: the caller starts over.
   */
  load(idx: SegmentIndex, segment: number): string | undefined {
    if (idx.firstStreamNo !== this.streamList.length) return `index numbers its streams from ${idx.firstStreamNo}, expected ${this.streamList.length}`
    for (const [stream, streamId] of idx.streamIds.entries()) {
      const added = this.addStream(streamId, idx.firstStreamNo + stream)
      if (typeof added === "string") return added
    }
    const firstPosition = this.nextPosition
    const firstRecord = this.table.size
    // Check every record as `visit` would, then take the columns whole.
    for (let at = 0; at < idx.records; at++) {
      const position = columnAt(idx.firstPosition, at)
      const count = columnAt(idx.count, at)
      if (position !== this.nextPosition) return `index record ${at} starts at position ${position}, expected ${this.nextPosition}`
      if (count === 0) return `index record ${at} holds no events`
      const streamNo = columnAt(idx.streamNo, at)
      const entry = this.streamList[streamNo]
      if (entry === undefined) return `index record ${at} names unknown stream number ${streamNo}`
      const firstVersion = columnAt(idx.firstVersion, at)
      if (firstVersion !== entry.version + 1) return `index record ${at} starts stream ${entry.streamId} at version ${firstVersion}, expected ${entry.version + 1}`
      entry.records.push(firstRecord + at)
      entry.version += count
      this.nextPosition += count
    }
    this.table.pushColumns(idx, segment)
    if (this.nextPosition - firstPosition !== idx.events) return `index counts ${idx.events} events, its records ${this.nextPosition - firstPosition}`
    if (this.nextPosition - 1 > maxPosition) return `index holds positions beyond ${maxPosition}`
    this.ids.insertAll(idx.hashes, idx.events, firstPosition)
    this.hashLog.pushAll(idx.hashes, idx.events)
    return undefined
  }

  /** The idx contents of records [firstRecord, endRecord), all in one segment. */
  segmentIndex(firstRecord: number, endRecord: number, firstStreamNo: number, logBytes: number): SegmentIndex {
    const { table } = this
    const records = endRecord - firstRecord
    const firstPosition = records === 0 ? this.nextPosition : table.firstPosition(firstRecord)
    let endStreamNo = firstStreamNo
    for (let record = firstRecord; record < endRecord; record++) endStreamNo = Math.max(endStreamNo, table.streamNo(record) + 1)
    const events = records === 0 ? 0 : table.lastPosition(endRecord - 1) + 1 - firstPosition
    return {
      ...table.columns(firstRecord, endRecord),
      events,
      firstStreamNo,
      streamIds: this.streamList.slice(firstStreamNo, endStreamNo).map((entry) => entry.streamId),
      logBytes,
      hashes: this.hashLog.slice(firstPosition, events)
    }
  }

  private addStream(streamId: string, streamNo: number): StreamEntry | string {
    if (this.streams.has(streamId)) return `stream ${streamId.slice(0, 100)} numbered twice`
    const entry: StreamEntry = { streamId, streamNo, version: 0, records: [] }
    this.streams.set(streamId, entry)
    this.streamList.push(entry)
    return entry
  }
}

// A column of an idx file, read within its `records` (which `decodeIdx` checked fit).
const columnAt = (column: Float64Array | Uint32Array, at: number): number => {
  const value = column[at]
  if (value === undefined) throw new RangeError(`index record ${at} is outside its column of ${column.length}`)
  return value
}
