/**
 * The file-backed event store: opens the log and wires its parts into the `EventStore`
 * service. Each part owns its state:
 *
 * - `recovery.ts` builds the in-memory index (`LogIndex`) and repairs a torn tail, once;
 * - `decisions.ts` decides an append against the index (pure), and `appender.ts` acts
 *   on the decision: it numbers the batch in the index and queues it on the writer;
 * - `writer.ts` (`GroupCommitWriter`) writes and syncs queued records and knows what is
 *   durable;
 * - `reader.ts` (`RecordReader`) reads and decodes records; the reads below choose which;
 * - `durableFeed.ts` tells read-only stores in other processes (`readOnly.ts`) how far
 *   the log is durable, over the lock socket. They read through `makeService` too.
 *
 * Appends decide synchronously against the index, so concurrent appends are serialised
 * by the event loop with no lock.
 *
 * Reservations run ahead of durability. Readers (`readStream`, `readAll`, `subscribe`,
 * `streamVersion`) see only records whose flush completed, so nothing unsynced is ever
 * visible. Expected-version checks see the reservations too, which is safe because
 * flushes complete in order and a failed write or sync is fatal. A conflict with an
 * append still being written waits for that append's flush before it is reported, so
 * its actual version is the one readers then see: a writer that re-reads the version
 * after a conflict can succeed at once instead of spinning until the flush lands.
 *
 * @internal
 */
import { Effect, Stream } from "effect"
import type { Scope } from "effect"
import { EventStore, InvalidRead, StorageError } from "../../EventStore.js"
import type {
  EventFilter,
  Position,
  ReadAllOptions,
  ReadError,
  ReadStreamOptions,
  RecordedEvent,
  SubscribeOptions
} from "../../EventStore.js"
import * as Contract from "../contract.js"
import * as StoreProbe from "../storeProbe.js"
import * as Subscription from "../subscription.js"
import { makeAppend } from "./appender.js"
import { FileStoreCorrupt, FileStoreLocked } from "./errors.js"
import type { FileIo } from "./io.js"
import { makeDirectoryDurably } from "./io.js"
import { DurableFeed } from "./durableFeed.js"
import { acquireLock } from "./lock.js"
import type { LogIndex, StreamEntry } from "./logIndex.js"
import { RecordReader, toStorageError } from "./reader.js"
import type { RecordList, Selection } from "./reader.js"
import { recover } from "./recovery.js"
import type { OpenReport } from "./recovery.js"
import { GroupCommitWriter } from "./writer.js"

export type { OpenReport } from "./recovery.js"

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

/** Takes the lock, recovers the log and opens the writer and the reader, in the scope. */
const openParts = (options: StoreOptions) =>
  Effect.gen(function*() {
    const { directory, io } = options
    yield* Effect.tryPromise({ try: () => makeDirectoryDurably(io, directory), catch: toStorageError(`creating ${directory}`) })
    const feed = new DurableFeed()
    const lock = yield* Effect.acquireRelease(
      Effect.tryPromise({ try: () => acquireLock(directory, feed.accept), catch: toStorageError(`locking ${directory}`) }),
      (lock) => lock._tag === "Acquired" ? Effect.ignore(Effect.tryPromise(lock.release)) : Effect.void
    )
    if (lock._tag === "Held") return yield* new FileStoreLocked({ directory, holderPid: lock.holder.pid, heldSince: lock.holder.since })
    const recovery = yield* Effect.tryPromise({ try: () => recover(directory, io), catch: toStorageError(`reading ${directory}`) })
    if (recovery._tag === "Corrupt") {
      return yield* new FileStoreCorrupt({ directory, segment: recovery.segment, offset: recovery.offset, reason: recovery.reason })
    }
    const { index, segments, lastFirstRecord, lastFirstStreamNo, report } = recovery.recovered
    if (report.truncated !== undefined) {
      const { bytes, segment, offset } = report.truncated
      yield* Effect.logWarning(`event store ${directory}: truncated a torn tail of ${bytes} bytes from ${segment} at byte ${offset}`)
    }
    if (report.indexWriteFailure !== undefined) {
      yield* Effect.logWarning(`event store ${directory}: could not write segment index files: ${report.indexWriteFailure}`)
    }
    const writer = yield* Effect.acquireRelease(
      Effect.tryPromise({
        try: () => GroupCommitWriter.open(options, index, segments, lastFirstRecord, lastFirstStreamNo),
        catch: toStorageError(`opening the last segment of ${directory}`)
      }),
      (writer) => Effect.promise(() => writer.close())
    )
    writer.onDurable = feed.publish
    feed.attach(() => writer.durableEnd())
    const reader = yield* Effect.acquireRelease(
      Effect.sync(() => new RecordReader(directory, index)),
      (reader) => Effect.promise(() => reader.close())
    )
    // Recording times never go backwards, across restarts too: appends start from the
    // last record's time.
    const records = index.table.size
    const lastRecordedAt = records === 0
      ? Number.NEGATIVE_INFINITY
      : yield* Effect.tryPromise({ try: () => reader.recordedAtOf(records - 1), catch: toStorageError(`reading ${directory}`) })
    return { index, writer, reader, report, lastRecordedAt }
  })

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
  Effect.map(openParts(options), ({ index, writer, reader, report, lastRecordedAt }) => {
    const { directory } = options
    const service = makeService({ directory, index, durable: writer, reader, append: makeAppend(directory, index, writer, reader, lastRecordedAt) })
    return { service: StoreProbe.attach(service, writer.probe), report }
  })

/**
 * How far a log is readable: the writer's own durable records, or what a read-only store
 * has followed. `failure`, when set, fails subscriptions (a read-only store that can no
 * longer follow the log).
 *
 * @internal
 */
export interface DurableLog {
  readonly durableRecords: number
  readonly onBeyond: (position: number, wake: () => void) => (() => void) | undefined
  readonly readFailure?: () => StorageError | undefined
}

/**
 * The parts the service reads through: the index, what of it is durable, the record
 * reader, and the append (the writer's, or a read-only store's refusal).
 *
 * @internal
 */
export interface ServiceParts {
  readonly directory: string
  readonly index: LogIndex
  readonly durable: DurableLog
  readonly reader: RecordReader
  readonly append: EventStore["Service"]["append"]
}

/**
 * The `EventStore` service over a log's parts: every read sees only the durable records.
 *
 * @internal
 */
export const makeService = ({ directory, index, durable: writer, reader, append }: ServiceParts): EventStore["Service"] => {
  const { table, streams } = index

  // -- reading ------------------------------------------------------------------------------
  const durableVersionOf = (entry: StreamEntry): number => {
    for (let at = entry.records.length - 1; at >= 0; at--) {
      const record = entry.records[at]
      if (record !== undefined && record < writer.durableRecords) return table.lastVersion(record)
    }
    return 0
  }

  const streamVersion = (streamId: string) =>
    Effect.sync(() => {
      const entry = streams.get(streamId)
      return entry === undefined ? 0 : durableVersionOf(entry)
    })

  const streamRecordList = (entry: StreamEntry, low: number, high: number, backward: boolean): RecordList => {
    // Records overlapping [low, high]: binary search for the first, then walk.
    const records = entry.records
    const recordAt = (at: number): number => {
      const record = records[at]
      if (record === undefined) throw new RangeError(`record ${at} is outside stream ${entry.streamId.slice(0, 100)}`)
      return record
    }
    let first = 0
    let end = records.length
    while (first < end) {
      const middle = (first + end) >>> 1
      if (table.lastVersion(recordAt(middle)) < low) first = middle + 1
      else end = middle
    }
    let stop = first
    while (stop < records.length && table.firstVersion(recordAt(stop)) <= high) stop++
    const count = stop - first
    return backward ? { length: count, at: (at) => recordAt(stop - 1 - at) } : { length: count, at: (at) => recordAt(first + at) }
  }

  const readStream = (streamId: string, options: ReadStreamOptions = {}): Stream.Stream<RecordedEvent, InvalidRead | StorageError> =>
    Stream.suspend((): Stream.Stream<RecordedEvent, ReadError> => {
      const problem = Contract.checkReadStream(streamId, options)
      if (problem !== undefined) return Stream.fail(problem)
      const { direction = "forward", from, to, limit } = options
      const entry = streams.get(streamId)
      if (entry === undefined) return Stream.empty
      const last = durableVersionOf(entry)
      const low = direction === "forward" ? Math.max(from ?? 1, 1) : Math.max(to ?? 1, 1)
      const high = direction === "forward" ? Math.min(to ?? last, last) : Math.min(from ?? last, last)
      if (low > high) return Stream.empty
      const list = streamRecordList(entry, low, high, direction === "backward")
      // `asOf` drops the events recorded after it, which since recording times never go
      // backwards are the stream's newest: the records are still read (a scan).
      const asOf = Contract.asOfMillis(options)
      const selection: Selection = {
        afterPosition: 0,
        lowVersion: low,
        highVersion: high,
        match: asOf === undefined ? undefined : (_streamId, _type, _metadata, recordedAt) => recordedAt <= asOf
      }
      const events = reader.stream(list, () => true, selection, direction === "backward")
      return limit === undefined ? events : Stream.take(events, limit)
    })

  // Events by the contract's matcher; whole records skipped first by the category part
  // of the same matcher, so a filtered read decodes only the streams it may deliver.
  const selectionAfter = (after: Position, filter: EventFilter | undefined) => {
    const byStream = Contract.categoryMatcher(filter?.categories)
    const selection: Selection = { afterPosition: after, lowVersion: 0, highVersion: Infinity, match: Contract.matcher(filter) }
    const keepRecord = byStream === undefined ? () => true : (record: number) => byStream(index.streamOf(record).streamId)
    return { selection, keepRecord }
  }

  // The durable records from the one holding position `after + 1` on.
  const recordsAfter = (after: Position): RecordList => {
    const first = table.recordAtOrAfter(after + 1)
    return { length: Math.max(0, writer.durableRecords - first), at: (at) => first + at }
  }

  const readAll = (options: ReadAllOptions = {}): Stream.Stream<RecordedEvent, InvalidRead | StorageError> =>
    Stream.suspend((): Stream.Stream<RecordedEvent, ReadError> => {
      const problem = Contract.checkReadAll(options)
      if (problem !== undefined) return Stream.fail(problem)
      const { from = 0, filter, limit } = options
      const { selection, keepRecord } = selectionAfter(from, filter)
      const events = reader.stream(recordsAfter(from), keepRecord, selection, false)
      return limit === undefined ? events : Stream.take(events, limit)
    })

  // One page for the subscription loop: the durable records of one chunk after `after`.
  const readPage = (after: Position, filter: EventFilter | undefined): Effect.Effect<Subscription.Page<RecordedEvent>, StorageError> =>
    Effect.tryPromise({
      try: async () => {
        const failure = writer.readFailure?.()
        if (failure !== undefined) throw failure
        const list = recordsAfter(after)
        if (list.length === 0) return { items: [], next: after }
        const { selection, keepRecord } = selectionAfter(after, filter)
        const { items, lastRecord } = await reader.page(list, keepRecord, selection)
        return { items, next: table.lastPosition(lastRecord) }
      },
      catch: toStorageError(`reading ${directory}`)
    })

  const awaitBeyond = (position: Position): Effect.Effect<void> =>
    Effect.callback<void>((resume) => {
      const cancel = writer.onBeyond(position, () => resume(Effect.void))
      return cancel === undefined ? undefined : Effect.sync(cancel)
    })

  const subscribe = (options: SubscribeOptions = {}): Stream.Stream<RecordedEvent, InvalidRead | StorageError> =>
    Stream.suspend((): Stream.Stream<RecordedEvent, ReadError> => {
      const problem = Contract.checkSubscribe(options)
      if (problem !== undefined) return Stream.fail(problem)
      const { from = 0, filter } = options
      return Subscription.subscribe(from, { readPage: (after) => readPage(after, filter), awaitBeyond })
    })

  return EventStore.of({ append, readStream, readAll, subscribe, streamVersion })
}
