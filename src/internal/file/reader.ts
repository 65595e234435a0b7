/**
 * The record reader: reads records from their segments in large chunks, checks their
 * CRC, and decodes their events. It owns the read descriptors and the decode state; it
 * reads the index but never changes it.
 *
 * @internal
 */
import { read as readCallback } from "node:fs"
import type { FileHandle } from "node:fs/promises"
import { Effect, Option, Stream } from "effect"
import { StorageError } from "../../EventStore.js"
import type { RecordedEvent } from "../../EventStore.js"
import type { EventMatch } from "../contract.js"
import type { KnownRecord } from "./decisions.js"
import { checkFrame, decodeEvents, eventContentsAt, eventIdsAt, frameHeaderBytes, openBatch, recordedAtAt } from "./frame.js"
import type { BatchCursor, EventSink } from "./frame.js"
import type { LogIndex } from "./logIndex.js"
import { DescriptorCache } from "./descriptors.js"
import { segmentName } from "./segments.js"

const readChunkBytes = 4 * 1024 * 1024
// Events per emitted page, small enough that a page's events die young (see `stream`).
// Measured in `npm run bench -- file` (W3…F3 in one process, es-kernel only): with 2,048
// W5 read 775k events/s and F3 727k; with 128, 256 or 512, 1.04–1.22M both.
const pageEvents = 256
// Separate reads per chunk, so that the reads of a scattered stream stay a bounded batch.
const maxChunkReads = 1024
// Segments per chunk, so that one chunk's reads need few descriptors at once (the
// descriptor cache keeps 64 open).
const maxChunkSegments = 32

/**
 * A list of record numbers to read, in delivery order.
 *
 * @internal
 */
export interface RecordList {
  readonly length: number
  readonly at: (index: number) => number
}

/**
 * The records list[from…next) read from disk: record list[i] starts at `buffer[starts[i - from]]`.
 *
 * @internal
 */
export interface Chunk {
  readonly buffer: Buffer
  readonly from: number
  readonly starts: ReadonlyArray<number>
  readonly next: number
}

/**
 * Which events of the records read are delivered: positions after `afterPosition`,
 * versions within [`lowVersion`, `highVersion`], and those `match` accepts (all when
 * undefined). Plain numbers for the ranges so the decode loop tests them before it builds
 * an event it would drop.
 *
 * @internal
 */
export interface Selection {
  readonly afterPosition: number
  readonly lowVersion: number
  readonly highVersion: number
  readonly match: EventMatch | undefined
}

const everything: Selection = { afterPosition: 0, lowVersion: 0, highVersion: Infinity, match: undefined }

interface PageState {
  readonly at: number
  readonly chunk: Chunk | undefined
  // The record list[at], when a page ended inside it (its events go on in the next page).
  readonly pending: BatchCursor | undefined
}

interface Span {
  readonly segment: number
  low: number
  high: number
  useful: number
}

// `fs.read` on the handle's descriptor: for the many small reads of a scattered stream,
// measured 20-40% faster than `FileHandle.read`, whose promise machinery costs more per
// call than a small read from the page cache.
const readAt = (handle: FileHandle, target: Buffer, at: number, length: number, position: number): Promise<number> =>
  new Promise((resolve, reject) => {
    readCallback(handle.fd, target, at, length, position, (error, bytesRead) => error === null ? resolve(bytesRead) : reject(error))
  })

/** @internal */
export const toStorageError = (what: string) => (cause: unknown): StorageError =>
  cause instanceof StorageError ? cause : new StorageError({ reason: `${what}: ${String(cause)}`, cause })

/** @internal */
export class RecordReader {
  private readonly descriptors: DescriptorCache
  // The decode state of the record being decoded: `decodeEvents` hands events to one
  // long-lived sink instead of a closure per record, since with single-event records
  // every per-record allocation is a per-event one. Decoding is synchronous, so one
  // shared state is safe.
  private sinkInto: Array<RecordedEvent> = []
  private sinkSelection: Selection = everything
  private sinkStreamId = ""
  private sinkFirstPosition = 0
  private sinkFirstVersion = 0
  private sinkRecordedAt = 0

  constructor(private readonly directory: string, private readonly index: LogIndex) {
    this.descriptors = new DescriptorCache(directory)
  }

  /**
   * Streams the records of `list`: large reads, small pages. A read brings in up to
   * `readChunkBytes` of records; the events are then emitted `pageEvents` at a time,
   * because a page of decoded events that outlives a young-generation GC gets copied
   * and promoted — with 4 MiB pages that GC work cost more than the decoding itself.
   * A record of more events than a page (up to 10,000) is split across pages: decoded
   * whole, its events outlived the GC, and V8 then allocated the events of every later
   * read in the old generation (allocation-site pretenuring), which cost reads of small
   * records a third of their speed for the rest of the process.
   */
  stream(
    list: RecordList,
    keepRecord: (record: number) => boolean,
    selection: Selection,
    reverse: boolean
  ): Stream.Stream<RecordedEvent, StorageError> {
    if (list.length === 0) return Stream.empty
    return Stream.paginate<PageState, RecordedEvent, StorageError>({ at: 0, chunk: undefined, pending: undefined }, (state) =>
      Effect.tryPromise({
        try: async () => {
          const events: Array<RecordedEvent> = []
          let { at, chunk, pending } = state
          // Skip over records the filter drops until a page has events or the list ends.
          while ((at < list.length || pending !== undefined) && events.length === 0) {
            if (pending === undefined && (chunk === undefined || at >= chunk.next)) {
              chunk = await this.readChunk(list, at, chunk?.buffer ?? Buffer.allocUnsafe(readChunkBytes))
            }
            if (chunk === undefined) break
            const decoded = this.decodePage(list, at, pending, chunk, keepRecord, selection, reverse, events)
            at = decoded.at
            pending = decoded.pending
          }
          const next = at < list.length || pending !== undefined ? Option.some({ at, chunk, pending }) : Option.none()
          return [events, next] as const
        },
        catch: toStorageError(`reading ${this.directory}`)
      }))
  }

  /** Reads one chunk of `list` from its start and decodes the events `selection` takes. */
  async page(list: RecordList, keepRecord: (record: number) => boolean, selection: Selection): Promise<{ readonly items: Array<RecordedEvent>; readonly lastRecord: number }> {
    const chunk = await this.readChunk(list, 0, Buffer.allocUnsafe(0))
    const items: Array<RecordedEvent> = []
    for (let at = 0; at < chunk.next; at++) {
      if (keepRecord(list.at(at))) this.decodeRecord(chunk, at, list.at(at), selection, items)
    }
    return { items, lastRecord: list.at(chunk.next - 1) }
  }

  /** The recording time (epoch milliseconds) of `record`. */
  async recordedAtOf(record: number): Promise<number> {
    const chunk = await this.readChunk({ length: 1, at: () => record }, 0, Buffer.allocUnsafe(0))
    return recordedAtAt(chunk.buffer, listAt(chunk.starts, 0) + frameHeaderBytes)
  }

  /** Reads the ids and contents of `records` into `known`. */
  async fetch(records: ReadonlyArray<number>, known: Map<number, KnownRecord>): Promise<void> {
    const unique = [...new Set(records)].sort((a, b) => a - b)
    const list: RecordList = { length: unique.length, at: (at) => listAt(unique, at) }
    let buffer: Buffer = Buffer.allocUnsafe(64 * 1024)
    for (let at = 0; at < unique.length;) {
      const chunk = await this.readChunk(list, at, buffer)
      for (let index = at; index < chunk.next; index++) known.set(list.at(index), this.knownRecord(chunk, index, list.at(index)))
      buffer = chunk.buffer
      at = chunk.next
    }
  }

  /** Closes every read descriptor. */
  close(): Promise<void> {
    return this.descriptors.close()
  }

  // Decodes list[at…] from the chunk in memory, up to `pageEvents` events: first the rest
  // of the record a page ended in, if any. Returns where the next page starts. Reading in
  // reverse decodes each record whole (its last event comes first).
  private decodePage(
    list: RecordList,
    from: number,
    pending: BatchCursor | undefined,
    chunk: Chunk,
    keepRecord: (record: number) => boolean,
    selection: Selection,
    reverse: boolean,
    events: Array<RecordedEvent>
  ): { readonly at: number; readonly pending: BatchCursor | undefined } {
    let at = from
    if (pending !== undefined) {
      const rest = this.decodeRecord(chunk, at, list.at(at), selection, events, pageEvents, pending)
      if (rest !== undefined) return { at, pending: rest }
      at++
    }
    for (; at < chunk.next && events.length < pageEvents; at++) {
      const record = list.at(at)
      if (!keepRecord(record)) continue
      if (reverse) {
        const mine: Array<RecordedEvent> = []
        this.decodeRecord(chunk, at, record, selection, mine)
        for (let back = mine.length - 1; back >= 0; back--) {
          const event = mine[back]
          if (event !== undefined) events.push(event)
        }
      } else {
        const rest = this.decodeRecord(chunk, at, record, selection, events, pageEvents - events.length)
        if (rest !== undefined) return { at, pending: rest }
      }
    }
    return { at, pending: undefined }
  }

  // Groups the records list[from…] that fit in one chunk into reads. Records close
  // together (a stretch of the log, or a stream's records written in a burst) share one
  // read; records far apart (a stream interleaved with many others) get a read each.
  private planSpans(list: RecordList, from: number): { readonly spans: Array<Span>; readonly next: number; readonly total: number } {
    const { table } = this.index
    const spans: Array<Span> = []
    const segments = new Set<number>()
    let total = 0
    let next = from
    for (; next < list.length; next++) {
      const record = list.at(next)
      const segment = table.segment(record)
      const start = table.offset(record)
      const end = start + table.length(record)
      const span = spans[spans.length - 1]
      if (span !== undefined && span.segment === segment) {
        const spanLow = Math.min(span.low, start)
        const spanHigh = Math.max(span.high, end)
        const grown = spanHigh - spanLow - (span.high - span.low)
        // Join the span unless most of it would then be other streams' records.
        if (spanHigh - spanLow <= 4 * (span.useful + end - start) + 65536) {
          if (total + grown > readChunkBytes && next > from) break
          span.low = spanLow
          span.high = spanHigh
          span.useful += end - start
          total += grown
          continue
        }
      }
      const newSegment = !segments.has(segment)
      if ((total + end - start > readChunkBytes || spans.length >= maxChunkReads || (newSegment && segments.size >= maxChunkSegments)) && next > from) break
      segments.add(segment)
      spans.push({ segment, low: start, high: end, useful: end - start })
      total += end - start
    }
    return { spans, next, total }
  }

  // Reads the records list[from…] that fit in one chunk; all of a chunk's reads are
  // issued at once, so reading a stream of n records scattered over a large log costs n
  // small reads in parallel rather than n round trips.
  private async readChunk(list: RecordList, from: number, buffer: Buffer): Promise<Chunk> {
    const { table } = this.index
    const { spans, next, total } = this.planSpans(list, from)
    const target = buffer.length >= total ? buffer : Buffer.allocUnsafe(total)
    const bases = new Array<number>(spans.length) // where each span sits in `target`
    let base = 0
    for (const [at, span] of spans.entries()) {
      bases[at] = base
      base += span.high - span.low
    }
    await Promise.all(spans.map(async (span, at) => {
      const want = span.high - span.low
      const bytesRead = await this.descriptors.use(span.segment, (handle) => readAt(handle, target, listAt(bases, at), want, span.low))
      if (bytesRead !== want) {
        throw new StorageError({ reason: `${this.directory}: ${segmentName(span.segment)} ends before byte ${span.high}` })
      }
    }))
    // Locate each record in `target` (spans were built in list order) and check its CRC.
    const starts = new Array<number>(next - from)
    let spanIndex = 0
    for (let at = from; at < next; at++) {
      const record = list.at(at)
      const segment = table.segment(record)
      const offset = table.offset(record)
      let span = spans[spanIndex]
      while (span !== undefined && !(span.segment === segment && offset >= span.low && offset < span.high)) {
        span = spans[++spanIndex]
      }
      if (span === undefined) throw new StorageError({ reason: `${this.directory}: record ${record} missing from its read` })
      const frameStart = listAt(bases, spanIndex) + offset - span.low
      const checked = checkFrame(target, frameStart, frameStart + table.length(record))
      if (typeof checked === "string") {
        throw new StorageError({ reason: `${this.directory}: ${segmentName(segment)} at byte ${offset}: ${checked}` })
      }
      starts[at - from] = frameStart
    }
    return { buffer: target, from, starts, next }
  }

  private readonly sink: EventSink = (index, eventId, type, schemaVersion, data, metadata) => {
    const position = this.sinkFirstPosition + index
    const version = this.sinkFirstVersion + index
    const selection = this.sinkSelection
    if (
      position <= selection.afterPosition || version < selection.lowVersion || version > selection.highVersion ||
      (selection.match !== undefined && !selection.match(this.sinkStreamId, type, metadata, this.sinkRecordedAt))
    ) return
    this.sinkInto.push({
      eventId,
      streamId: this.sinkStreamId,
      type,
      data,
      metadata,
      version,
      position,
      schemaVersion,
      recordedAt: new Date(this.sinkRecordedAt)
    })
  }

  private bodyOf(chunk: Chunk, at: number, record: number): { readonly bodyStart: number; readonly bodyEnd: number } {
    const bodyStart = listAt(chunk.starts, at - chunk.from) + frameHeaderBytes
    return { bodyStart, bodyEnd: bodyStart + this.index.table.length(record) - frameHeaderBytes }
  }

  // Decodes up to `limit` events of list[at] (from where `started` left off, if given)
  // into `into`; returns the cursor when events are left.
  private decodeRecord(
    chunk: Chunk,
    at: number,
    record: number,
    selection: Selection,
    into: Array<RecordedEvent>,
    limit = Number.POSITIVE_INFINITY,
    started?: BatchCursor
  ): BatchCursor | undefined {
    const { table } = this.index
    const { bodyStart, bodyEnd } = this.bodyOf(chunk, at, record)
    const { buffer } = chunk
    const cursor = started ?? openBatch(buffer, bodyStart, bodyEnd)
    this.sinkInto = into
    this.sinkSelection = selection
    this.sinkStreamId = this.index.streamOf(record).streamId
    this.sinkFirstPosition = table.firstPosition(record)
    this.sinkFirstVersion = table.firstVersion(record)
    this.sinkRecordedAt = recordedAtAt(buffer, bodyStart)
    const refused = typeof cursor === "string" ? cursor : decodeEvents(buffer, cursor, limit, this.sink)
    this.sinkInto = []
    if (refused !== undefined) {
      throw new StorageError({ reason: `${this.directory}: ${segmentName(table.segment(record))} at byte ${table.offset(record)}: ${refused}` })
    }
    return typeof cursor !== "string" && cursor.index < cursor.count ? cursor : undefined
  }

  private knownRecord(chunk: Chunk, at: number, record: number): KnownRecord {
    const { bodyStart, bodyEnd } = this.bodyOf(chunk, at, record)
    const { ids, jsonStart } = eventIdsAt(chunk.buffer, bodyStart)
    const contents = eventContentsAt(chunk.buffer, jsonStart, bodyEnd, ids.length)
    if (typeof contents === "string") throw new StorageError({ reason: `${this.directory}: record ${record}: ${contents}` })
    return { ids, contents }
  }
}

// An entry of a list built alongside the one indexing it, so always present.
const listAt = (list: ReadonlyArray<number>, at: number): number => {
  const value = list[at]
  if (value === undefined) throw new RangeError(`entry ${at} is outside the list of ${list.length}`)
  return value
}
