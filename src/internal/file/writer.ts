/**
 * The group-commit writer: owns the segment being written, the queue of encoded records,
 * and what is durable.
 *
 * Records are queued synchronously (already numbered in the index); a single flush loop
 * writes every queued record with one `writev` and one `datasync`, then acknowledges
 * them. While a flush is in flight the next records queue up: that is the group commit.
 * A failed write or sync is fatal: the group being written, every group queued, and
 * every later `enqueue` fail with the same `StorageError`.
 *
 * A durable writer opens its segment with synced writes where the platform has them
 * (`openSynced`: the write returns once durable, one trip to the disk instead of a
 * `writev` and a `datasync`), and `datasync`s after each write where it has not.
 *
 * A durable writer lays zeros down ahead of its records (up to `reserveBytes` at a time,
 * in the same `writev` as a group), so that most syncs write into blocks the file already
 * has and commit no new file size: on ext4 that sync skips a journal commit. A disk too
 * full for the zeros only cuts them short: the records are written all the same. Opening
 * cuts the zeros a killed writer left (`Unwritten` in `segments.ts`); sealing and closing
 * a segment cut them too, so a segment that is not being written holds records only.
 *
 * @internal
 */
import type { FileHandle } from "node:fs/promises"
import * as path from "node:path"
import { StorageError } from "../../EventStore.js"
import * as StoreProbe from "../storeProbe.js"
import type { KnownRecord } from "./decisions.js"
import { writeIdx } from "./indexFile.js"
import type { FileIo } from "./io.js"
import { writeFully } from "./io.js"
import type { LogIndex } from "./logIndex.js"
import { segmentName } from "./segments.js"
import { Wakeups } from "./wakeups.js"

/**
 * A batch of records written and synced together.
 *
 * @internal
 */
export interface Group {
  readonly frames: Array<Buffer>
  readonly records: Array<number>
  bytes: number
  lastPosition: number
  readonly waiters: Array<(failure: StorageError | undefined) => void>
}

/**
 * How far ahead of its records a durable writer lays down zeros.
 *
 * @internal
 */
export const reserveBytes = 1024 * 1024

const reserveZeros = Buffer.alloc(reserveBytes)

// Whether a writer's writes are durable once they return (no `datasync` after them).
const writesSynced = (options: WriterOptions): boolean => options.sync === "durable" && options.io.openSynced !== undefined

const openSegment = (options: WriterOptions, file: string, mode: "r+" | "wx"): Promise<FileHandle> => {
  const { openSynced } = options.io
  return writesSynced(options) && openSynced !== undefined ? openSynced(file, mode) : options.io.open(file, mode)
}

// Starting the next segment failed: which segment, at which step.
class RollFailed {
  constructor(readonly segment: number, readonly step: string, readonly cause: unknown) {}
}

/**
 * The end of the durable part of a log, as the writer tells read-only stores.
 *
 * @internal
 */
export interface DurableEnd {
  readonly segment: number
  readonly offset: number
  readonly position: number
}

/** @internal */
export interface WriterOptions {
  readonly directory: string
  readonly io: FileIo
  readonly segmentSize: number
  readonly sync: "durable" | "none"
}

/** @internal */
export class GroupCommitWriter {
  /** Records [0, durableRecords) are written and synced; readers see only those. */
  durableRecords: number
  /** The last position of the durable records. */
  durablePosition: number
  /** Set by the first failed write or sync; every later append fails with it. */
  failure: StorageError | undefined = undefined
  /** Told about each group commit and each sync, when someone listens. */
  readonly probe: StoreProbe.StoreProbe = StoreProbe.make()
  /** Called after each flush made more records durable (the durable-end feed). */
  onDurable: (() => void) | undefined = undefined
  private collecting: Group | undefined = undefined
  private flushing: Group | undefined = undefined
  private loopRunning = false
  private closed = false
  // The ids and contents of records queued or being written, for retries to compare with.
  private readonly inflight = new Map<number, KnownRecord>()
  private readonly commitWaiters = new Wakeups()
  private readonly drainWaiters: Array<() => void> = []
  // Idx writes of sealed segments run beside the appends; closing waits for them.
  private idxWrites: Promise<void> = Promise.resolve()
  // The bytes of the segment file written: its records, then the zeros laid down ahead.
  private reserved: number
  // Whether each write is durable once it returns; otherwise a durable writer syncs after it.
  private readonly syncedWrites: boolean

  constructor(
    private readonly options: WriterOptions,
    private readonly index: LogIndex,
    private handle: FileHandle,
    private segment: number,
    private segmentBytes: number,
    private segmentFirstRecord: number,
    private segmentFirstStreamNo: number
  ) {
    this.durableRecords = index.table.size
    this.durablePosition = index.nextPosition - 1
    this.reserved = segmentBytes
    this.syncedWrites = writesSynced(options)
  }

  /**
   * Opens the last segment of a recovered log for appending, or creates the first one.
   */
  static async open(
    options: WriterOptions,
    index: LogIndex,
    segments: ReadonlyArray<number>,
    segmentFirstRecord: number,
    segmentFirstStreamNo: number
  ): Promise<GroupCommitWriter> {
    const { directory, io } = options
    const last = segments[segments.length - 1]
    const segment = last ?? 1
    const handle = await openSegment(options, path.join(directory, segmentName(segment)), last === undefined ? "wx" : "r+")
    // A failure after the open (the directory's sync, the stat) closes the file again:
    // the caller gets no writer to close it with.
    try {
      if (last === undefined) await io.syncDirectory(directory)
      const size = last === undefined ? 0 : (await handle.stat()).size
      return new GroupCommitWriter(options, index, handle, segment, size, segmentFirstRecord, segmentFirstStreamNo)
    } catch (cause) {
      await handle.close().catch(() => undefined)
      throw cause
    }
  }

  /**
   * Where the durable records end: the segment being written, the bytes of it that are
   * durable, and the last durable position. Every earlier segment is durable whole (a
   * segment is started only once its predecessor's last group is synced).
   */
  durableEnd(): DurableEnd {
    return { segment: this.segment, offset: this.segmentBytes, position: this.durablePosition }
  }

  /** Whether the writer takes no more records: closed, or failed. */
  refusal(): StorageError | undefined {
    if (this.failure !== undefined) return this.failure
    if (this.closed) return new StorageError({ reason: `the event store ${this.options.directory} is closed` })
    return undefined
  }

  /** The ids and contents of a record not yet durable. */
  pending(record: number): KnownRecord | undefined {
    return this.inflight.get(record)
  }

  /** Queues the encoded record `record` (already in the index); returns the group it joined. */
  enqueue(record: number, frame: Buffer, known: KnownRecord, lastPosition: number): Group {
    this.inflight.set(record, known)
    let group = this.collecting
    if (group === undefined) {
      group = { frames: [], records: [], bytes: 0, lastPosition: 0, waiters: [] }
      this.collecting = group
    }
    group.frames.push(frame)
    group.records.push(record)
    group.bytes += frame.length
    group.lastPosition = lastPosition
    if (!this.loopRunning) {
      this.loopRunning = true
      // Let the appends of this turn of the event loop join the first group.
      setImmediate(() => void this.flushLoop())
    }
    return group
  }

  /** Calls `done` once `group` is durable, or failed. */
  onSettled(group: Group, done: (failure: StorageError | undefined) => void): void {
    group.waiters.push(done)
  }

  /**
   * The group that will make `position` durable, or `undefined` when it already is (or
   * the writer failed: `failure` then says so).
   */
  groupHolding(position: number): Group | undefined {
    if (this.durablePosition >= position || this.failure !== undefined) return undefined
    return this.flushing !== undefined && this.flushing.lastPosition >= position ? this.flushing : this.collecting
  }

  /** Calls `wake` once a position after `position` is durable; returns how to cancel. */
  onBeyond(position: number, wake: () => void): (() => void) | undefined {
    return this.commitWaiters.add(this.durablePosition > position, wake)
  }

  /** Waits for the flush in flight and the idx writes, then closes the segment. */
  async close(): Promise<void> {
    this.closed = true
    if (this.loopRunning) await new Promise<void>((resolve) => this.drainWaiters.push(resolve))
    await this.idxWrites
    // Unsynced: a power loss brings the zeros back, and opening cuts them again.
    if (this.failure === undefined && this.reserved > this.segmentBytes) {
      await this.options.io.truncate(this.handle, this.segmentBytes).catch(() => undefined)
    }
    await this.handle.close().catch(() => undefined)
  }

  private async flushLoop(): Promise<void> {
    const { table } = this.index
    while (this.collecting !== undefined && this.failure === undefined) {
      const group: Group = this.collecting
      this.collecting = undefined
      this.flushing = group
      try {
        const first = group.records[0]
        if (first !== undefined && this.segmentBytes > 0 && this.segmentBytes + group.bytes > this.options.segmentSize) {
          await this.roll(first)
        }
        let offset = this.segmentBytes
        for (const record of group.records) {
          table.locate(record, this.segment, offset)
          offset += table.length(record)
        }
        const spare = this.reserveAfter(offset)
        const write = () => writeFully(this.options.io, this.handle, group.frames, this.segmentBytes, spare)
        const laid = await (this.syncedWrites ? this.timedSync(write) : write())
        this.reserved = Math.max(this.reserved, offset + laid)
        if (this.options.sync === "durable" && !this.syncedWrites) await this.timedSync(() => this.options.io.datasync(this.handle))
        this.segmentBytes = offset
      } catch (cause) {
        this.fail(group, cause)
        break
      }
      this.probe.groupCommitted?.(group.records.length, group.lastPosition - this.durablePosition)
      this.durableRecords += group.records.length
      this.durablePosition = group.lastPosition
      for (const record of group.records) this.inflight.delete(record)
      this.flushing = undefined
      for (const waiter of group.waiters) waiter(undefined)
      this.commitWaiters.wakeAll()
      this.onDurable?.()
    }
    this.loopRunning = false
    for (const drained of this.drainWaiters.splice(0)) drained()
  }

  // The zeros to write after a group ending at `end` when it runs past what is laid down:
  // up to the next multiple of `reserveBytes`, within the segment's size.
  private reserveAfter(end: number): Buffer | undefined {
    if (this.options.sync !== "durable" || end <= this.reserved) return undefined
    const target = Math.min(this.options.segmentSize, Math.ceil(end / reserveBytes) * reserveBytes)
    return target > end ? reserveZeros.subarray(0, target - end) : undefined
  }

  // A sync (or a synced write), timed only while someone listens: otherwise not even a
  // clock read.
  private async timedSync<A>(sync: () => Promise<A>): Promise<A> {
    const { synced } = this.probe
    if (synced === undefined) return sync()
    const began = performance.now()
    const result = await sync()
    synced(performance.now() - began)
    return result
  }

  private fail(group: Group, cause: unknown): void {
    const what = cause instanceof RollFailed ? `${cause.step} ${segmentName(cause.segment)}` : `writing ${segmentName(this.segment)}`
    const reason = cause instanceof RollFailed ? String(cause.cause) : String(cause)
    const failure = new StorageError({
      reason: `${what} in ${this.options.directory} failed; the store refuses every later append (reopen it to continue): ${reason}`,
      cause: cause instanceof RollFailed ? cause.cause : cause
    })
    this.failure = failure
    this.flushing = undefined
    for (const waiter of group.waiters) waiter(failure)
    const queued = this.collecting
    this.collecting = undefined
    if (queued !== undefined) for (const waiter of queued.waiters) waiter(failure)
  }

  // Seals the current segment (all of whose records are durable: `endRecord` is the
  // first record of the group about to be written) and starts the next.
  private async roll(endRecord: number): Promise<void> {
    const { directory, io } = this.options
    const sealed = this.segment
    // Cut to its records, durably, before the next segment exists: only the last segment
    // may hold zeros (a sealed segment's size is where its records end).
    if (this.reserved > this.segmentBytes) {
      try {
        await io.truncate(this.handle, this.segmentBytes)
        await io.datasync(this.handle)
      } catch (cause) {
        throw new RollFailed(sealed, "cutting the unwritten tail of", cause)
      }
    }
    const idx = this.index.segmentIndex(this.segmentFirstRecord, endRecord, this.segmentFirstStreamNo, this.segmentBytes)
    this.segmentFirstRecord = endRecord
    this.segmentFirstStreamNo += idx.streamIds.length
    // Written in the background: an idx only speeds up the next open, which rebuilds a
    // missing or torn one, so appends need not wait for it and its failure is harmless.
    this.idxWrites = this.idxWrites.then(() => writeIdx(io, directory, sealed, idx)).then(() => io.syncDirectory(directory)).catch(() => undefined)
    const next = sealed + 1
    const handle = await openSegment(this.options, path.join(directory, segmentName(next)), "wx").catch((cause: unknown) => {
      throw new RollFailed(next, "creating", cause)
    })
    try {
      await io.syncDirectory(directory)
    } catch (cause) {
      await handle.close().catch(() => undefined)
      throw new RollFailed(next, "syncing the directory entry of", cause)
    }
    const previous = this.handle
    this.handle = handle
    this.segment = next
    this.segmentBytes = 0
    this.reserved = 0
    await previous.close()
  }
}
