/**
 * The file-backed event store: open (lock, scan, repair), the group-commit writer, and
 * the readers.
 *
 * Appends decide synchronously against the in-memory index, so concurrent appends are
 * serialised by the event loop with no lock: a batch is checked, numbered (versions and
 * global positions), encoded as one record and queued. A single flush loop writes all
 * queued records with one `writev` and one `datasync`, then acknowledges them. While a
 * flush is in flight the next appends queue up: that is the group commit.
 *
 * Reservations run ahead of durability. Readers (`readStream`, `readAll`, `subscribe`,
 * `streamVersion`) see only records whose flush completed, so nothing unsynced is ever
 * visible. Expected-version checks see the reservations too, which is safe because
 * flushes complete in order and a failed write or sync is fatal: every reserved record
 * after it fails with the same `StorageError`, and so does every later append.
 *
 * @internal
 */
import { randomUUID } from "node:crypto"
import { read as readCallback } from "node:fs"
import * as fs from "node:fs/promises"
import type { FileHandle } from "node:fs/promises"
import * as path from "node:path"
import { Effect, Option, Stream } from "effect"
import type { Scope } from "effect"
import {
  categoryOf,
  EventIdConflict,
  EventStore,
  InvalidAppend,
  InvalidRead,
  StorageError,
  WrongExpectedVersion
} from "../../EventStore.js"
import type {
  AppendError,
  AppendResult,
  EventFilter,
  ExpectedVersion,
  NewEvent,
  Position,
  ReadAllOptions,
  ReadError,
  ReadStreamOptions,
  RecordedEvent,
  SubscribeOptions
} from "../../EventStore.js"
import type { FileStoreOpenReport as OpenReport } from "../../EventStoreFile.js"
import { copyJson, copyMetadata, NotJson } from "../json.js"
import * as Subscription from "../subscription.js"
import { FileStoreCorrupt, FileStoreLocked } from "./errors.js"
import {
  checkFrame,
  countAt,
  decodeBatch,
  encodeRecord,
  eventContentsAt,
  eventIdsAt,
  firstPositionAt,
  firstVersionAt,
  fixedBodyBytes,
  frameHeaderBytes,
  hashBytes,
  hashString,
  idsStartAt,
  maxShortString,
  recordedAtAt,
  streamIdAt,
  streamNoAt
} from "./frame.js"
import type { EventContents, EventSink } from "./frame.js"
import { HashLog, IdTable, maxPosition, RecordTable } from "./index.js"
import type { SegmentIndex } from "./idx.js"
import { readIdx, removeIdx, writeIdx } from "./idx.js"
import type { StreamEntry } from "./index.js"
import type { FileIo } from "./io.js"
import { writeFully } from "./io.js"
import { acquireLock } from "./lock.js"
import { estimateEvents, listSegments, scanSegments, segmentName } from "./segments.js"
import type { ScanOutcome } from "./segments.js"

/**
 * How the store is opened.
 *
 * - `sync: "durable"`: `datasync` before acknowledging (the default). `"none"` skips it:
 *   appends survive a process crash but not a power loss.
 *
 * @internal
 */
export interface StoreOptions {
  readonly directory: string
  readonly segmentSize: number
  readonly sync: "durable" | "none"
  readonly io: FileIo
}

const readChunkBytes = 4 * 1024 * 1024
// Events per emitted page: measured (1M ~200-byte events) ~2.5× faster than 16k-event
// pages, and no slower than 256-event pages.
const pageEvents = 2048
// Separate reads per chunk, so that the reads of a scattered stream stay a bounded batch.
const maxChunkReads = 1024

// ---------------------------------------------------------------------------
// The index, as built by the open scan
// ---------------------------------------------------------------------------

/**
 * The whole in-memory index of a log, and the scan visitor that extends it record by
 * record, checking that positions and versions follow on.
 *
 * @internal
 */
export const makeIndex = (expectedEvents = 0) => {
  const table = new RecordTable()
  const ids = new IdTable()
  ids.reserve(expectedEvents)
  const hashLog = new HashLog()
  // Records never outnumber events: reserving for the events up front spares the
  // columns their doublings (and the garbage of each) while a large store loads.
  table.reserve(expectedEvents)
  hashLog.reserve(expectedEvents)
  const streams = new Map<string, StreamEntry>()
  const streamList: Array<StreamEntry> = []
  const index = { table, ids, hashLog, streams, streamList, nextPosition: 1 }

  const addStream = (streamId: string, streamNo: number): StreamEntry | string => {
    if (streams.has(streamId)) return `stream ${streamId} numbered twice`
    const entry: StreamEntry = { streamId, streamNo, category: categoryOf(streamId), version: 0, records: [] }
    streams.set(streamId, entry)
    streamList.push(entry)
    return entry
  }

  const visit = (buffer: Buffer, bodyStart: number, _bodyEnd: number, segment: number, offset: number, length: number): string | undefined => {
    const firstPosition = firstPositionAt(buffer, bodyStart)
    const count = countAt(buffer, bodyStart)
    if (firstPosition !== index.nextPosition) {
      return `record starts at position ${firstPosition}, expected ${index.nextPosition}`
    }
    if (count === 0) return "record holds no events"
    if (firstPosition - 1 + count > maxPosition) return `record holds positions beyond ${maxPosition}`
    const streamNo = streamNoAt(buffer, bodyStart)
    let entry = streamList[streamNo]
    if (entry === undefined) {
      if (streamNo !== streamList.length) return `record names unknown stream number ${streamNo}`
      const added = addStream(streamIdAt(buffer, bodyStart), streamNo)
      if (typeof added === "string") return added
      entry = added
    }
    const firstVersion = firstVersionAt(buffer, bodyStart)
    if (firstVersion !== entry.version + 1) {
      return `record starts stream ${entry.streamId} at version ${firstVersion}, expected ${entry.version + 1}`
    }
    const record = table.push(firstPosition, firstVersion, count, streamNo, length)
    table.locate(record, segment, offset)
    entry.records.push(record)
    entry.version += count
    let at = idsStartAt(buffer, bodyStart)
    for (let event = 0; event < count; event++) {
      const idBytes = buffer.readUInt16LE(at)
      const hash = hashBytes(buffer, at + 2, at + 2 + idBytes)
      ids.insert(hash, firstPosition + event)
      hashLog.push(hash)
      at += 2 + idBytes
    }
    index.nextPosition += count
    return undefined
  }

  /**
   * Adds the records of a sealed segment's idx file, with the checks `visit` makes per
   * record. A refusal may leave the index half-extended: the caller starts over.
   */
  const load = (idx: SegmentIndex, segment: number): string | undefined => {
    if (idx.firstStreamNo !== streamList.length) return `index numbers its streams from ${idx.firstStreamNo}, expected ${streamList.length}`
    for (let stream = 0; stream < idx.streamIds.length; stream++) {
      const added = addStream(idx.streamIds[stream] ?? "", idx.firstStreamNo + stream)
      if (typeof added === "string") return added
    }
    const firstPosition = index.nextPosition
    const firstRecord = table.size
    // Check every record as `visit` would, then take the columns whole.
    for (let at = 0; at < idx.records; at++) {
      const position = idx.firstPosition[at] ?? 0
      const count = idx.count[at] ?? 0
      if (position !== index.nextPosition) return `index record ${at} starts at position ${position}, expected ${index.nextPosition}`
      if (count === 0) return `index record ${at} holds no events`
      const streamNo = idx.streamNo[at] ?? 0
      const entry = streamList[streamNo]
      if (entry === undefined) return `index record ${at} names unknown stream number ${streamNo}`
      const firstVersion = idx.firstVersion[at] ?? 0
      if (firstVersion !== entry.version + 1) return `index record ${at} starts stream ${entry.streamId} at version ${firstVersion}, expected ${entry.version + 1}`
      entry.records.push(firstRecord + at)
      entry.version += count
      index.nextPosition += count
    }
    table.pushColumns(idx, segment)
    if (index.nextPosition - firstPosition !== idx.events) return `index counts ${idx.events} events, its records ${index.nextPosition - firstPosition}`
    if (index.nextPosition - 1 > maxPosition) return `index holds positions beyond ${maxPosition}`
    ids.insertAll(idx.hashes, idx.events, firstPosition)
    hashLog.pushAll(idx.hashes, idx.events)
    return undefined
  }

  /** The idx contents of records [firstRecord, endRecord), all in one segment. */
  const segmentIndex = (firstRecord: number, endRecord: number, firstStreamNo: number, logBytes: number): SegmentIndex => {
    const records = endRecord - firstRecord
    const firstPosition = table.firstPosition[firstRecord] ?? index.nextPosition
    let endStreamNo = firstStreamNo
    for (let record = firstRecord; record < endRecord; record++) endStreamNo = Math.max(endStreamNo, (table.streamNo[record] ?? 0) + 1)
    const last = endRecord - 1
    const events = records === 0 ? 0 : (table.firstPosition[last] ?? 0) + (table.count[last] ?? 0) - firstPosition
    return {
      records,
      events,
      firstStreamNo,
      streamIds: streamList.slice(firstStreamNo, endStreamNo).map((entry) => entry.streamId),
      logBytes,
      firstPosition: table.firstPosition.slice(firstRecord, endRecord),
      offset: table.offset.slice(firstRecord, endRecord),
      firstVersion: table.firstVersion.slice(firstRecord, endRecord),
      count: table.count.slice(firstRecord, endRecord),
      streamNo: table.streamNo.slice(firstRecord, endRecord),
      length: table.length.slice(firstRecord, endRecord),
      hashes: hashLog.hashes.slice(firstPosition - 1, firstPosition - 1 + events)
    }
  }
  return { index, visit, load, segmentIndex }
}

/**
 * The index as opening built it, how the scan of the last segment ended, and where the
 * last segment's records and streams begin.
 *
 * @internal
 */
export type BuiltIndex = ReturnType<typeof makeIndex> & {
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
    const offset = idx.offset[last] ?? 0
    const length = idx.length[last] ?? 0
    if (offset + length !== idx.logBytes || idx.offset[0] !== 0) return false
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

/**
 * Builds the index of the log: each sealed segment from its idx file when it has a
 * usable one, by a scan otherwise (recorded in `toWrite`); the last segment always by a
 * scan, which may end in a torn tail. An idx file that passes its own checks but does not
 * fit the records before it starts the whole build over without idx files.
 *
 * @internal
 */
export const buildIndex = async (directory: string, segments: ReadonlyArray<number>, useIdx = true): Promise<BuiltIndex> => {
  const last = segments[segments.length - 1]
  const sealed = segments.slice(0, -1)
  const idxFiles = useIdx ? await Promise.all(sealed.map((segment) => readIdx(directory, segment))) : []
  // Size the id table once for every event: idx files count theirs, scans are estimated.
  let estimate = 0
  const toScan: Array<number> = last === undefined ? [] : [last]
  for (let at = 0; at < sealed.length; at++) {
    const idx = idxFiles[at]
    if (idx !== undefined && typeof idx !== "string") estimate += idx.events
    else toScan.push(sealed[at] ?? 0)
  }
  estimate += await estimateEvents(directory, toScan)
  const built = makeIndex(estimate)
  const { index, visit, load } = built
  const toWrite: Array<IdxToWrite> = []
  for (let at = 0; at < sealed.length; at++) {
    const segment = sealed[at] ?? 0
    const firstRecord = index.table.size
    const firstStreamNo = index.streamList.length
    const idx = idxFiles[at]
    if (idx !== undefined && typeof idx !== "string" && await idxMatchesLog(directory, segment, idx)) {
      if (load(idx, segment) === undefined) continue
      return buildIndex(directory, segments, false)
    }
    const outcome = await scanSegments(directory, [segment], visit, false)
    if (outcome._tag !== "Complete") return { ...built, outcome, toWrite, lastFirstRecord: 0, lastFirstStreamNo: 0 }
    const logBytes = (await fs.stat(path.join(directory, segmentName(segment)))).size
    toWrite.push({ segment, index: built.segmentIndex(firstRecord, index.table.size, firstStreamNo, logBytes) })
  }
  const lastFirstRecord = index.table.size
  const lastFirstStreamNo = index.streamList.length
  if (last !== undefined) await removeIdx(directory, last) // left by a later segment's removal; stale once appended to
  const outcome: ScanOutcome = last === undefined ? { _tag: "Complete" } : await scanSegments(directory, [last], visit, true)
  return { ...built, outcome, toWrite, lastFirstRecord, lastFirstStreamNo }
}

// ---------------------------------------------------------------------------
// Validation
// ---------------------------------------------------------------------------

interface PreparedAppend {
  readonly streamId: string
  readonly expected: ExpectedVersion
  readonly ids: ReadonlyArray<string>
  readonly hashes: ReadonlyArray<number>
  readonly contents: ReadonlyArray<EventContents>
}

const isExpectedVersion = (expected: unknown): expected is ExpectedVersion =>
  expected === "any" || expected === "noStream" || expected === "streamExists" ||
  (typeof expected === "number" && Number.isSafeInteger(expected) && expected >= 0)

const prepareAppend = (
  streamId: string,
  events: ReadonlyArray<NewEvent>,
  expected: ExpectedVersion
): PreparedAppend | InvalidAppend => {
  const invalid = (reason: string) => new InvalidAppend({ streamId: String(streamId), reason })
  if (typeof streamId !== "string" || streamId.length === 0) return invalid("the stream id is empty")
  if (Buffer.byteLength(streamId) > maxShortString) return invalid(`the stream id is longer than ${maxShortString} bytes`)
  if (!Array.isArray(events) || events.length === 0) return invalid("the batch is empty")
  if (!isExpectedVersion(expected)) return invalid(`${String(expected)} is not an expected version`)
  const ids = new Array<string>(events.length)
  const hashes = new Array<number>(events.length)
  const contents = new Array<EventContents>(events.length)
  const seen = new Set<string>()
  for (let index = 0; index < events.length; index++) {
    const event = events[index]
    if (typeof event !== "object" || event === null) return invalid(`event ${index} is not an object`)
    if (typeof event.type !== "string" || event.type.length === 0) return invalid(`event ${index} has an empty type`)
    const eventId = event.eventId ?? randomUUID()
    if (typeof eventId !== "string" || eventId.length === 0) return invalid(`event ${index} has an empty event id`)
    if (Buffer.byteLength(eventId) > maxShortString) return invalid(`event ${index} has an event id longer than ${maxShortString} bytes`)
    if (seen.has(eventId)) return invalid(`event id ${eventId} appears twice in the batch`)
    seen.add(eventId)
    const schemaVersion = event.schemaVersion ?? 1
    if (!Number.isSafeInteger(schemaVersion) || schemaVersion < 1) {
      return invalid(`event ${index} has schema version ${String(schemaVersion)}, not a positive integer`)
    }
    const data = copyJson(event.data, `events[${index}].data`)
    if (data instanceof NotJson) return invalid(data.message)
    const metadata = copyMetadata(event.metadata, `events[${index}].metadata`)
    if (metadata instanceof NotJson) return invalid(metadata.message)
    ids[index] = eventId
    hashes[index] = hashString(eventId)
    contents[index] = { type: event.type, schemaVersion, data, metadata }
  }
  return { streamId, expected, ids, hashes, contents }
}

const satisfies = (expected: ExpectedVersion, current: number): boolean =>
  expected === "any" ||
  (expected === "noStream" ? current === 0 : expected === "streamExists" ? current > 0 : expected === current)

// A retry matches when the ids and types sit in the same order at the same place, as in
// the memory layer (the model every layer is tested against); data is not compared.
const sameContents = (a: EventContents, b: EventContents): boolean => a.type === b.type

const isNonNegativeInteger = (value: unknown): boolean => typeof value === "number" && Number.isSafeInteger(value) && value >= 0
const isPositiveInteger = (value: unknown): boolean => typeof value === "number" && Number.isSafeInteger(value) && value > 0

const checkFilter = (filter: EventFilter | undefined): InvalidRead | undefined => {
  if (filter === undefined) return undefined
  const strings = (list: unknown) => list === undefined || (Array.isArray(list) && list.every((item) => typeof item === "string"))
  if (!strings(filter.categories)) return new InvalidRead({ reason: "filter.categories must be a list of strings" })
  if (!strings(filter.types)) return new InvalidRead({ reason: "filter.types must be a list of strings" })
  return undefined
}

// ---------------------------------------------------------------------------
// The store
// ---------------------------------------------------------------------------

interface Group {
  readonly frames: Array<Buffer>
  readonly records: Array<number>
  bytes: number
  lastPosition: number
  readonly waiters: Array<(failure: StorageError | undefined) => void>
}

interface KnownRecord {
  readonly ids: ReadonlyArray<string>
  readonly contents: ReadonlyArray<EventContents>
}

type Decision =
  | { readonly _tag: "Append" }
  | { readonly _tag: "Recorded"; readonly result: AppendResult }
  | { readonly _tag: "Need"; readonly records: ReadonlyArray<number> }
  | WrongExpectedVersion
  | EventIdConflict

interface PageState {
  readonly at: number
  readonly chunk: Chunk | undefined
}

/** The records list[from…next) read from disk: record list[i] starts at `buffer[starts[i - from]]`. */
interface Chunk {
  readonly buffer: Buffer
  readonly from: number
  readonly starts: ReadonlyArray<number>
  readonly next: number
}

/**
 * Which events of the records read are delivered: positions after `afterPosition`,
 * versions within [`lowVersion`, `highVersion`], types in `types` (all when undefined).
 * Plain numbers rather than a predicate so the decode loop tests them before it builds
 * an event it would drop.
 */
interface Selection {
  readonly afterPosition: number
  readonly lowVersion: number
  readonly highVersion: number
  readonly types: ReadonlySet<string> | undefined
}

const everything: Selection = { afterPosition: 0, lowVersion: 0, highVersion: Infinity, types: undefined }

/** A list of record numbers to read, in delivery order. */
interface RecordList {
  readonly length: number
  readonly at: (index: number) => number
}

// `fs.read` on the handle's descriptor: for the many small reads of a scattered stream,
// measured 20-40% faster than `FileHandle.read`, whose promise machinery costs more per
// call than a small read from the page cache.
const readAt = (handle: FileHandle, target: Buffer, at: number, length: number, position: number): Promise<number> =>
  new Promise((resolve, reject) => {
    readCallback(handle.fd, target, at, length, position, (error, bytesRead) => error === null ? resolve(bytesRead) : reject(error))
  })

const toStorageError = (what: string) => (cause: unknown): StorageError =>
  cause instanceof StorageError ? cause : new StorageError({ reason: `${what}: ${String(cause)}`, cause })

/**
 * Opens the store in `options.directory` in the current scope: takes the lock, scans the
 * log (truncating a torn tail), and returns the service. Closing the scope waits for the
 * flush in flight, closes every file and releases the lock.
 *
 * @internal
 */
export const openStore = (
  options: StoreOptions
): Effect.Effect<
  { readonly service: EventStore["Service"]; readonly report: OpenReport },
  StorageError | FileStoreLocked | FileStoreCorrupt,
  Scope.Scope
> =>
  Effect.gen(function*() {
    const { directory, io, segmentSize } = options
    yield* Effect.tryPromise({
      try: () => fs.mkdir(directory, { recursive: true }),
      catch: toStorageError(`creating ${directory}`)
    })
    const lock = yield* Effect.acquireRelease(
      Effect.tryPromise({ try: () => acquireLock(directory), catch: toStorageError(`locking ${directory}`) }),
      (lock) => lock._tag === "Acquired" ? Effect.ignore(Effect.tryPromise(lock.release)) : Effect.void
    )
    if (lock._tag === "Held") return yield* new FileStoreLocked({ directory, holderPid: lock.holderPid })

    // -- scan and repair ----------------------------------------------------------
    const segments = yield* Effect.tryPromise({ try: () => listSegments(directory), catch: toStorageError(`listing ${directory}`) })
    const built = yield* Effect.tryPromise({
      try: () => buildIndex(directory, segments),
      catch: toStorageError(`reading ${directory}`)
    })
    const { index, outcome } = built
    let truncated: OpenReport["truncated"] = undefined
    if (outcome._tag === "Corrupt") {
      return yield* new FileStoreCorrupt({
        directory,
        segment: segmentName(outcome.segment),
        offset: outcome.offset,
        reason: outcome.reason
      })
    }
    if (outcome._tag === "TornTail") {
      const file = path.join(directory, segmentName(outcome.segment))
      yield* Effect.tryPromise({
        try: async () => {
          const handle = await fs.open(file, "r+")
          try {
            await handle.truncate(outcome.offset)
            await handle.sync()
          } finally {
            await handle.close()
          }
        },
        catch: toStorageError(`truncating the torn tail of ${file}`)
      })
      truncated = { segment: segmentName(outcome.segment), offset: outcome.offset, bytes: outcome.size - outcome.offset }
      yield* Effect.logWarning(
        `event store ${directory}: truncated a torn tail of ${truncated.bytes} bytes from ${truncated.segment} at byte ${truncated.offset}`
      )
    }

    // Idx files for the sealed segments that had to be scanned (a store written before
    // idx files existed, or one whose idx was lost): the next open reads them instead.
    if (built.toWrite.length > 0) {
      yield* Effect.tryPromise({
        try: async () => {
          for (const { segment, index: idx } of built.toWrite) await writeIdx(directory, segment, idx)
          await io.syncDirectory(directory)
        },
        catch: (cause) => cause
      }).pipe(Effect.catch((cause) => Effect.logWarning(`event store ${directory}: could not write segment index files: ${String(cause)}`)))
    }

    // -- the segment being written --------------------------------------------------
    const { table, ids, hashLog, streams, streamList } = index
    const { segmentIndex } = built
    let segmentFirstRecord = built.lastFirstRecord
    let segmentFirstStreamNo = built.lastFirstStreamNo
    // Idx writes of sealed segments run beside the appends; closing waits for them.
    let idxWrites: Promise<void> = Promise.resolve()
    let currentSegment = segments[segments.length - 1] ?? 1
    const opened = yield* Effect.acquireRelease(
      Effect.tryPromise({
        try: async () => {
          if (segments.length === 0) {
            const created = await fs.open(path.join(directory, segmentName(currentSegment)), "wx")
            await io.syncDirectory(directory)
            return { handle: created, size: 0 }
          }
          const handle = await fs.open(path.join(directory, segmentName(currentSegment)), "r+")
          return { handle, size: (await handle.stat()).size }
        },
        catch: toStorageError(`opening the last segment of ${directory}`)
      }),
      () => Effect.promise(() => closeAll())
    )
    let writeHandle: FileHandle = opened.handle
    let segmentBytes = opened.size

    // -- state ----------------------------------------------------------------------
    let durableRecords = table.size
    let durablePosition = index.nextPosition - 1
    let failure: StorageError | undefined = undefined
    let closed = false
    let collecting: Group | undefined = undefined
    let flushing: Group | undefined = undefined
    let flushLoopRunning = false
    const inflight = new Map<number, KnownRecord>()
    const commitWaiters = new Set<() => void>()
    const drainWaiters: Array<() => void> = []
    const readHandles = new Map<number, Promise<FileHandle>>()

    const closeAll = async (): Promise<void> => {
      closed = true
      if (flushLoopRunning) await new Promise<void>((resolve) => drainWaiters.push(resolve))
      await idxWrites
      await writeHandle.close().catch(() => undefined)
      for (const handle of readHandles.values()) await (await handle.catch(() => undefined))?.close().catch(() => undefined)
      readHandles.clear()
    }

    // -- the group-commit writer ------------------------------------------------------
    const settle = (group: Group, outcome: StorageError | undefined) => {
      for (const waiter of group.waiters) waiter(outcome)
    }

    // Seals the current segment (all of whose records are durable: `endRecord` is the
    // first record of the group about to be written) and starts the next.
    const roll = async (endRecord: number): Promise<void> => {
      const sealed = currentSegment
      const idx = segmentIndex(segmentFirstRecord, endRecord, segmentFirstStreamNo, segmentBytes)
      segmentFirstRecord = endRecord
      segmentFirstStreamNo += idx.streamIds.length
      // Written in the background: an idx only speeds up the next open, which rebuilds a
      // missing or torn one, so appends need not wait for it and its failure is harmless.
      idxWrites = idxWrites.then(() => writeIdx(directory, sealed, idx)).then(() => io.syncDirectory(directory)).catch(() => undefined)
      const next = currentSegment + 1
      const handle = await fs.open(path.join(directory, segmentName(next)), "wx")
      await io.syncDirectory(directory)
      const previous = writeHandle
      writeHandle = handle
      currentSegment = next
      segmentBytes = 0
      await previous.close()
    }

    const flushLoop = async (): Promise<void> => {
      while (collecting !== undefined && failure === undefined) {
        const group: Group = collecting
        collecting = undefined
        flushing = group
        try {
          if (segmentBytes > 0 && segmentBytes + group.bytes > segmentSize) await roll(group.records[0] ?? table.size)
          let offset = segmentBytes
          for (const record of group.records) {
            table.locate(record, currentSegment, offset)
            offset += table.length[record] ?? 0
          }
          await writeFully(io, writeHandle, group.frames, segmentBytes)
          if (options.sync === "durable") await io.datasync(writeHandle)
          segmentBytes = offset
        } catch (cause) {
          failure = new StorageError({
            reason: `writing ${segmentName(currentSegment)} in ${directory} failed; the store refuses every later append: ${String(cause)}`,
            cause
          })
          flushing = undefined
          settle(group, failure)
          const queued: Group | undefined = collecting
          collecting = undefined
          if (queued !== undefined) settle(queued, failure)
          break
        }
        const lastRecord = group.records[group.records.length - 1] ?? durableRecords - 1
        durableRecords = lastRecord + 1
        durablePosition = group.lastPosition
        for (const record of group.records) inflight.delete(record)
        flushing = undefined
        settle(group, undefined)
        for (const wake of commitWaiters) wake()
        commitWaiters.clear()
      }
      flushLoopRunning = false
      for (const drained of drainWaiters.splice(0)) drained()
    }

    // -- reading records ---------------------------------------------------------------
    const readHandle = (segment: number): Promise<FileHandle> => {
      let handle = readHandles.get(segment)
      if (handle === undefined) {
        handle = fs.open(path.join(directory, segmentName(segment)), "r")
        readHandles.set(segment, handle)
      }
      return handle
    }

    // Reads the records list[from…] that fit in one chunk. Records close together (a
    // stretch of the log, or a stream's records written in a burst) share one read;
    // records far apart (a stream interleaved with many others) get a read each, and all
    // of a chunk's reads are issued at once, so reading a stream of n records scattered
    // over a large log costs n small reads in parallel rather than n round trips.
    const readChunk = async (list: RecordList, from: number, buffer: Buffer): Promise<Chunk> => {
      const spans: Array<{ segment: number; low: number; high: number; useful: number }> = []
      let total = 0
      let next = from
      for (; next < list.length; next++) {
        const record = list.at(next)
        const segment = table.segment[record] ?? 0
        const start = table.offset[record] ?? 0
        const end = start + (table.length[record] ?? 0)
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
        if ((total + end - start > readChunkBytes || spans.length >= maxChunkReads) && next > from) break
        spans.push({ segment, low: start, high: end, useful: end - start })
        total += end - start
      }
      const target = buffer.length >= total ? buffer : Buffer.allocUnsafe(total)
      const bases = new Array<number>(spans.length) // where each span sits in `target`
      let at = 0
      for (let index = 0; index < spans.length; index++) {
        bases[index] = at
        at += (spans[index]?.high ?? 0) - (spans[index]?.low ?? 0)
      }
      await Promise.all(spans.map(async (span, index) => {
        const handle = await readHandle(span.segment)
        const want = span.high - span.low
        const bytesRead = await readAt(handle, target, bases[index] ?? 0, want, span.low)
        if (bytesRead !== want) {
          throw new StorageError({ reason: `${directory}: ${segmentName(span.segment)} ends before byte ${span.high}` })
        }
      }))
      // Locate each record in `target` (spans were built in list order) and check its CRC.
      const starts = new Array<number>(next - from)
      let spanIndex = 0
      for (let index = from; index < next; index++) {
        const record = list.at(index)
        const segment = table.segment[record] ?? 0
        const offset = table.offset[record] ?? 0
        let span = spans[spanIndex]
        while (span !== undefined && !(span.segment === segment && offset >= span.low && offset < span.high)) {
          span = spans[++spanIndex]
        }
        if (span === undefined) throw new StorageError({ reason: `${directory}: record ${record} missing from its read` })
        const frameStart = (bases[spanIndex] ?? 0) + offset - span.low
        const checked = checkFrame(target, frameStart, frameStart + (table.length[record] ?? 0))
        if (typeof checked === "string") {
          throw new StorageError({ reason: `${directory}: ${segmentName(segment)} at byte ${offset}: ${checked}` })
        }
        starts[index - from] = frameStart
      }
      return { buffer: target, from, starts, next }
    }

    // The decode state of the record being decoded: `decodeBatch` hands events to one
    // long-lived sink instead of a closure per record, since with single-event records
    // every per-record allocation is a per-event one. Decoding is synchronous, so one
    // shared state is safe.
    let sinkInto: Array<RecordedEvent> = []
    let sinkSelection: Selection = everything
    let sinkStreamId = ""
    let sinkFirstPosition = 0
    let sinkFirstVersion = 0
    let sinkRecordedAt = 0
    const sink: EventSink = (index, eventId, type, schemaVersion, data, metadata) => {
      const position = sinkFirstPosition + index
      const version = sinkFirstVersion + index
      const selection = sinkSelection
      if (
        position <= selection.afterPosition || version < selection.lowVersion || version > selection.highVersion ||
        (selection.types !== undefined && !selection.types.has(type))
      ) return
      sinkInto.push({
        eventId,
        streamId: sinkStreamId,
        type,
        data,
        metadata,
        version,
        position,
        schemaVersion,
        recordedAt: new Date(sinkRecordedAt)
      })
    }

    const decodeRecord = (chunk: Chunk, at: number, record: number, selection: Selection, into: Array<RecordedEvent>): void => {
      const offset = table.offset[record] ?? 0
      const bodyStart = (chunk.starts[at - chunk.from] ?? 0) + frameHeaderBytes
      const bodyEnd = bodyStart + (table.length[record] ?? 0) - frameHeaderBytes
      const { buffer } = chunk
      sinkInto = into
      sinkSelection = selection
      sinkStreamId = streamList[table.streamNo[record] ?? 0]?.streamId ?? ""
      sinkFirstPosition = table.firstPosition[record] ?? 0
      sinkFirstVersion = table.firstVersion[record] ?? 0
      sinkRecordedAt = recordedAtAt(buffer, bodyStart)
      const refused = decodeBatch(buffer, bodyStart, bodyEnd, sink)
      sinkInto = []
      if (refused !== undefined) {
        throw new StorageError({ reason: `${directory}: ${segmentName(table.segment[record] ?? 0)} at byte ${offset}: ${refused}` })
      }
    }

    const knownRecord = (chunk: Chunk, at: number, record: number): KnownRecord => {
      const bodyStart = (chunk.starts[at - chunk.from] ?? 0) + frameHeaderBytes
      const bodyEnd = bodyStart + (table.length[record] ?? 0) - frameHeaderBytes
      const { ids: eventIds, jsonStart } = eventIdsAt(chunk.buffer, bodyStart)
      const contents = eventContentsAt(chunk.buffer, jsonStart, bodyEnd, eventIds.length)
      if (typeof contents === "string") throw new StorageError({ reason: `${directory}: record ${record}: ${contents}` })
      return { ids: eventIds, contents }
    }

    // -- appending -------------------------------------------------------------------------
    const decide = (prepared: PreparedAppend, known: ReadonlyMap<number, KnownRecord>): Decision => {
      const found = new Array<number | undefined>(prepared.ids.length)
      let foundCount = 0
      const need: Array<number> = []
      for (let index = 0; index < prepared.ids.length; index++) {
        for (const position of ids.candidates(prepared.hashes[index] ?? 0)) {
          const record = table.recordAtOrAfter(position)
          const contents = inflight.get(record) ?? known.get(record)
          if (contents === undefined) {
            need.push(record)
          } else if (contents.ids[position - (table.firstPosition[record] ?? 0)] === prepared.ids[index]) {
            found[index] = position
            foundCount++
          }
        }
      }
      if (need.length > 0) return { _tag: "Need", records: need }
      const entry = streams.get(prepared.streamId)
      const current = entry?.version ?? 0
      if (foundCount === 0) {
        return satisfies(prepared.expected, current)
          ? { _tag: "Append" }
          : new WrongExpectedVersion({ streamId: prepared.streamId, expected: prepared.expected, actual: current })
      }
      // A retry: every id recorded, in order, in this stream, with the same contents.
      const conflict = () =>
        new EventIdConflict({ streamId: prepared.streamId, eventIds: prepared.ids.filter((_, index) => found[index] !== undefined) })
      if (foundCount !== prepared.ids.length || entry === undefined) return conflict()
      let firstVersion = 0
      for (let index = 0; index < prepared.ids.length; index++) {
        const position = found[index] ?? 0
        const record = table.recordAtOrAfter(position)
        const offsetInRecord = position - (table.firstPosition[record] ?? 0)
        const version = (table.firstVersion[record] ?? 0) + offsetInRecord
        if (index === 0) firstVersion = version
        const stored = (inflight.get(record) ?? known.get(record))?.contents[offsetInRecord]
        const proposed = prepared.contents[index]
        if (
          table.streamNo[record] !== entry.streamNo || version !== firstVersion + index ||
          stored === undefined || proposed === undefined || !sameContents(stored, proposed)
        ) return conflict()
      }
      // The expected version must have held where the events sit, as on their first append.
      const before = firstVersion - 1
      if (!satisfies(prepared.expected, before)) return conflict()
      return {
        _tag: "Recorded",
        result: {
          streamId: prepared.streamId,
          nextExpectedVersion: before + prepared.ids.length,
          position: found[prepared.ids.length - 1] ?? 0
        }
      }
    }

    const reserve = (prepared: PreparedAppend, now: number): { readonly group: Group; readonly result: AppendResult } => {
      const existing = streams.get(prepared.streamId)
      const streamNo = existing?.streamNo ?? streamList.length
      const firstVersion = (existing?.version ?? 0) + 1
      const firstPosition = index.nextPosition
      const count = prepared.ids.length
      const frame = encodeRecord({
        streamNo,
        streamId: prepared.streamId,
        firstPosition,
        firstVersion,
        recordedAt: now,
        eventIds: prepared.ids
      }, prepared.contents)
      let entry = existing
      if (entry === undefined) {
        entry = { streamId: prepared.streamId, streamNo, category: categoryOf(prepared.streamId), version: 0, records: [] }
        streams.set(prepared.streamId, entry)
        streamList.push(entry)
      }
      const record = table.push(firstPosition, firstVersion, count, streamNo, frame.length)
      entry.records.push(record)
      entry.version += count
      index.nextPosition += count
      for (let offset = 0; offset < count; offset++) {
        ids.insert(prepared.hashes[offset] ?? 0, firstPosition + offset)
        hashLog.push(prepared.hashes[offset] ?? 0)
      }
      inflight.set(record, { ids: prepared.ids, contents: prepared.contents })
      let group = collecting
      if (group === undefined) {
        group = { frames: [], records: [], bytes: 0, lastPosition: 0, waiters: [] }
        collecting = group
      }
      group.frames.push(frame)
      group.records.push(record)
      group.bytes += frame.length
      group.lastPosition = firstPosition + count - 1
      if (!flushLoopRunning) {
        flushLoopRunning = true
        // Let the appends of this turn of the event loop join the first group.
        setImmediate(() => void flushLoop())
      }
      return { group, result: { streamId: prepared.streamId, nextExpectedVersion: entry.version, position: firstPosition + count - 1 } }
    }

    const awaitGroup = (group: Group, result: AppendResult): Effect.Effect<AppendResult, StorageError> =>
      Effect.callback<AppendResult, StorageError>((resume) => {
        group.waiters.push((failed) => resume(failed === undefined ? Effect.succeed(result) : Effect.fail(failed)))
      })

    const awaitDurable = (result: AppendResult): Effect.Effect<AppendResult, StorageError> => {
      if (durablePosition >= result.position) return Effect.succeed(result)
      if (failure !== undefined) return Effect.fail(failure)
      const group = flushing !== undefined && flushing.lastPosition >= result.position ? flushing : collecting
      return group === undefined ? Effect.succeed(result) : awaitGroup(group, result)
    }

    const fetchRecords = (records: ReadonlyArray<number>, known: Map<number, KnownRecord>) =>
      Effect.tryPromise({
        try: async () => {
          const unique = [...new Set(records)].sort((a, b) => a - b)
          const list: RecordList = { length: unique.length, at: (at) => unique[at] ?? 0 }
          let buffer: Buffer = Buffer.allocUnsafe(64 * 1024)
          for (let at = 0; at < unique.length;) {
            const chunk = await readChunk(list, at, buffer)
            for (let index = at; index < chunk.next; index++) known.set(list.at(index), knownRecord(chunk, index, list.at(index)))
            buffer = chunk.buffer
            at = chunk.next
          }
        },
        catch: toStorageError(`reading recorded events of ${directory}`)
      })

    const attempt = (prepared: PreparedAppend, known: Map<number, KnownRecord>, now: number): Effect.Effect<AppendResult, StorageError | WrongExpectedVersion | EventIdConflict> => {
      if (failure !== undefined) return Effect.fail(failure)
      if (closed) return Effect.fail(new StorageError({ reason: `the event store ${directory} is closed` }))
      const decision = decide(prepared, known)
      switch (decision._tag) {
        case "Need":
          return Effect.flatMap(fetchRecords(decision.records, known), () => attempt(prepared, known, now))
        case "Append": {
          if (index.nextPosition - 1 + prepared.ids.length > maxPosition) {
            return Effect.fail(new StorageError({ reason: `the event store ${directory} is full: it holds at most ${maxPosition} events` }))
          }
          const { group, result } = reserve(prepared, now)
          return awaitGroup(group, result)
        }
        case "Recorded":
          return awaitDurable(decision.result)
        default:
          return Effect.fail(decision)
      }
    }

    // The recording time comes from Effect's Clock, as in the memory layer, so a test's
    // TestClock decides `recordedAt`.
    const append = (streamId: string, events: ReadonlyArray<NewEvent>, expected: ExpectedVersion = "any") =>
      Effect.clockWith((clock): Effect.Effect<AppendResult, AppendError> => {
        const prepared = prepareAppend(streamId, events, expected)
        if (prepared instanceof InvalidAppend) return Effect.fail(prepared)
        return attempt(prepared, new Map(), clock.currentTimeMillisUnsafe())
      })

    // -- reading ------------------------------------------------------------------------------
    const durableVersionOf = (entry: StreamEntry): number => {
      for (let at = entry.records.length - 1; at >= 0; at--) {
        const record = entry.records[at] ?? 0
        if (record < durableRecords) return (table.firstVersion[record] ?? 0) + (table.count[record] ?? 0) - 1
      }
      return 0
    }

    const streamVersion = (streamId: string) =>
      Effect.sync(() => {
        const entry = streams.get(streamId)
        return entry === undefined ? 0 : durableVersionOf(entry)
      })

    // Streams the records of `list` in chunks, decoding the events `keep` accepts.
    // Decodes list[state.at…] from the chunk in memory, up to `pageEvents` events.
    const decodePage = (
      list: RecordList,
      state: PageState,
      chunk: Chunk,
      keepRecord: (record: number) => boolean,
      selection: Selection,
      reverse: boolean,
      events: Array<RecordedEvent>
    ): number => {
      let at = state.at
      for (; at < chunk.next && events.length < pageEvents; at++) {
        const record = list.at(at)
        if (!keepRecord(record)) continue
        if (reverse) {
          const mine: Array<RecordedEvent> = []
          decodeRecord(chunk, at, record, selection, mine)
          for (let back = mine.length - 1; back >= 0; back--) {
            const event = mine[back]
            if (event !== undefined) events.push(event)
          }
        } else {
          decodeRecord(chunk, at, record, selection, events)
        }
      }
      return at
    }

    // Streams the records of `list`: large reads, small pages. A read brings in up to
    // `readChunkBytes` of records; the events are then emitted `pageEvents` at a time,
    // because a page of decoded events that outlives a young-generation GC gets copied
    // and promoted — with 4 MiB pages that GC work cost more than the decoding itself.
    const streamRecords = (
      list: RecordList,
      keepRecord: (record: number) => boolean,
      selection: Selection,
      reverse: boolean
    ): Stream.Stream<RecordedEvent, StorageError> =>
      list.length === 0 ? Stream.empty : Stream.paginate<PageState, RecordedEvent, StorageError>({ at: 0, chunk: undefined }, (state) =>
        Effect.tryPromise({
          try: async () => {
            const events: Array<RecordedEvent> = []
            let at = state.at
            let chunk = state.chunk
            // Skip over records the filter drops until a page has events or the list ends.
            while (at < list.length && events.length === 0) {
              if (chunk === undefined || at >= chunk.next) {
                chunk = await readChunk(list, at, chunk?.buffer ?? Buffer.allocUnsafe(readChunkBytes))
              }
              at = decodePage(list, { at, chunk }, chunk, keepRecord, selection, reverse, events)
            }
            const next = at < list.length ? Option.some({ at, chunk }) : Option.none()
            return [events, next] as const
          },
          catch: toStorageError(`reading ${directory}`)
        }))

    const readStream = (streamId: string, options: ReadStreamOptions = {}): Stream.Stream<RecordedEvent, InvalidRead | StorageError> =>
      Stream.suspend((): Stream.Stream<RecordedEvent, ReadError> => {
        const { direction = "forward", from, to, limit } = options
        if (typeof streamId !== "string" || streamId.length === 0) {
          return Stream.fail(new InvalidRead({ reason: "the stream id must be a non-empty string" }))
        }
        if (direction !== "forward" && direction !== "backward") {
          return Stream.fail(new InvalidRead({ reason: `direction must be "forward" or "backward", got ${String(direction)}` }))
        }
        if (from !== undefined && !isNonNegativeInteger(from)) return Stream.fail(new InvalidRead({ reason: `from must be a non-negative integer, got ${String(from)}` }))
        if (to !== undefined && !isNonNegativeInteger(to)) return Stream.fail(new InvalidRead({ reason: `to must be a non-negative integer, got ${String(to)}` }))
        if (limit !== undefined && !isPositiveInteger(limit)) return Stream.fail(new InvalidRead({ reason: `limit must be a positive integer, got ${String(limit)}` }))
        const entry = streams.get(streamId)
        if (entry === undefined) return Stream.empty
        const last = durableVersionOf(entry)
        const low = direction === "forward" ? Math.max(from ?? 1, 1) : Math.max(to ?? 1, 1)
        const high = direction === "forward" ? Math.min(to ?? last, last) : Math.min(from ?? last, last)
        if (low > high) return Stream.empty
        // Records overlapping [low, high]: binary search for the first, then walk.
        const records = entry.records
        let first = 0
        let end = records.length
        while (first < end) {
          const middle = (first + end) >>> 1
          const record = records[middle] ?? 0
          if ((table.firstVersion[record] ?? 0) + (table.count[record] ?? 0) - 1 < low) first = middle + 1
          else end = middle
        }
        let stop = first
        while (stop < records.length && (table.firstVersion[records[stop] ?? 0] ?? 0) <= high) stop++
        const count = stop - first
        const list: RecordList = direction === "forward"
          ? { length: count, at: (at) => records[first + at] ?? 0 }
          : { length: count, at: (at) => records[stop - 1 - at] ?? 0 }
        const selection: Selection = { afterPosition: 0, lowVersion: low, highVersion: high, types: undefined }
        const events = streamRecords(list, () => true, selection, direction === "backward")
        return limit === undefined ? events : Stream.take(events, limit)
      })

    const matcher = (filter: EventFilter | undefined) => {
      const categories = filter?.categories !== undefined && filter.categories.length > 0 ? new Set(filter.categories) : undefined
      const types = filter?.types !== undefined && filter.types.length > 0 ? new Set(filter.types) : undefined
      return {
        keepRecord: (record: number) => categories === undefined || categories.has(streamList[table.streamNo[record] ?? 0]?.category ?? ""),
        types
      }
    }

    const readAllAfter = (after: Position, recordLimit: number, filter: EventFilter | undefined): Stream.Stream<RecordedEvent, StorageError> => {
      const first = table.recordAtOrAfter(after + 1)
      const { keepRecord, types } = matcher(filter)
      const list: RecordList = { length: Math.max(0, recordLimit - first), at: (at) => first + at }
      return streamRecords(list, keepRecord, { afterPosition: after, lowVersion: 0, highVersion: Infinity, types }, false)
    }

    const readAll = (options: ReadAllOptions = {}): Stream.Stream<RecordedEvent, InvalidRead | StorageError> =>
      Stream.suspend((): Stream.Stream<RecordedEvent, ReadError> => {
        const { from = 0, filter, limit } = options
        if (!isNonNegativeInteger(from)) return Stream.fail(new InvalidRead({ reason: `from must be a non-negative integer, got ${String(from)}` }))
        if (limit !== undefined && !isPositiveInteger(limit)) return Stream.fail(new InvalidRead({ reason: `limit must be a positive integer, got ${String(limit)}` }))
        const badFilter = checkFilter(filter)
        if (badFilter !== undefined) return Stream.fail(badFilter)
        const events = readAllAfter(from, durableRecords, filter)
        return limit === undefined ? events : Stream.take(events, limit)
      })

    // One page for the subscription loop: the durable records of one chunk after `after`.
    const readPage = (after: Position, filter: EventFilter | undefined): Effect.Effect<Subscription.Page<RecordedEvent>, StorageError> =>
      Effect.tryPromise({
        try: async () => {
          const first = table.recordAtOrAfter(after + 1)
          if (first >= durableRecords) return { items: [], next: after }
          const { keepRecord, types } = matcher(filter)
          const list: RecordList = { length: durableRecords - first, at: (at) => first + at }
          const chunk = await readChunk(list, 0, Buffer.allocUnsafe(0))
          const items: Array<RecordedEvent> = []
          const selection: Selection = { afterPosition: after, lowVersion: 0, highVersion: Infinity, types }
          for (let at = 0; at < chunk.next; at++) {
            if (keepRecord(list.at(at))) decodeRecord(chunk, at, list.at(at), selection, items)
          }
          const last = list.at(chunk.next - 1)
          return { items, next: (table.firstPosition[last] ?? 0) + (table.count[last] ?? 0) - 1 }
        },
        catch: toStorageError(`reading ${directory}`)
      })

    const awaitBeyond = (position: Position): Effect.Effect<void> =>
      Effect.callback<void>((resume) => {
        if (durablePosition > position) return resume(Effect.void)
        const wake = () => resume(Effect.void)
        commitWaiters.add(wake)
        return Effect.sync(() => commitWaiters.delete(wake))
      })

    const subscribe = (options: SubscribeOptions = {}): Stream.Stream<RecordedEvent, InvalidRead | StorageError> =>
      Stream.suspend((): Stream.Stream<RecordedEvent, ReadError> => {
        const { from = 0, filter } = options
        if (!isNonNegativeInteger(from)) return Stream.fail(new InvalidRead({ reason: `from must be a non-negative integer, got ${String(from)}` }))
        const badFilter = checkFilter(filter)
        if (badFilter !== undefined) return Stream.fail(badFilter)
        return Subscription.subscribe(from, { readPage: (after) => readPage(after, filter), awaitBeyond })
      })

    const service = EventStore.of({ append, readStream, readAll, subscribe, streamVersion })
    const report: OpenReport = { segments: segments.length, records: table.size, events: index.nextPosition - 1, truncated }
    return { service, report }
  })
