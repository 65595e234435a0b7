/**
 * The read-only side of a file store: an in-memory index of the log that follows what is
 * durable, without ever changing the directory.
 *
 * - **With a writer.** The follower connects to the writer's lock socket and reads the
 *   log up to each durable end the writer sends (`durableFeed.ts`), never further: the
 *   bytes past it may be written but not yet synced.
 * - **Without one.** It reads the complete, checksummed records on disk, and stops before
 *   a torn tail without cutting it. Records a writer wrote but had not synced when it
 *   died are complete on disk too (the next writer keeps them): the follower syncs the
 *   segment's data (`datasync` on a read-only descriptor, which changes no byte) before it
 *   takes them, so a power loss cannot take them back. Every 100 ms it looks for a writer
 *   that started, and for records a short-lived writer left.
 *
 * The order of a round without a writer makes it safe against a writer starting in the
 * middle of it: the end of the complete records is found first, then synced, then the
 * follower checks again that no writer holds the lock, and only then reads up to that
 * end. A writer that opens after that check changes nothing before the end (it cuts only
 * a torn tail, which starts at or after it).
 *
 * Only the sealed segments' index files are read; the last segment is always scanned.
 *
 * @internal
 */
import * as fs from "node:fs/promises"
import type * as net from "node:net"
import * as path from "node:path"
import { StorageError } from "../../EventStore.js"
import { decodeEnd, followRequest } from "./durableFeed.js"
import { frameHeaderBytes } from "./frame.js"
import type { FileIo } from "./io.js"
import { connectToHolder } from "./lock.js"
import type { LockHolder } from "./lock.js"
import type { LogIndex } from "./logIndex.js"
import { listSegments, scanSegmentRange, segmentName } from "./segments.js"
import type { RecordVisitor, ScanOutcome } from "./segments.js"
import { Wakeups } from "./wakeups.js"
import type { DurableEnd } from "./writer.js"

// How often a follower without a writer looks for one, and for new records on disk.
const pollMillis = 100
// Connections one holder closes without a word before the follower gives up on it (a
// writer of a version without the feed). A writer that fails to open closes its
// connections too, but the next attempt is another holder.
const maxSilentCloses = 3

/** A scan that did not end where the log must be complete. */
class LogUnreadable extends Error {
  constructor(readonly reason: string) {
    super(reason)
  }
}

const describeOutcome = (outcome: Exclude<ScanOutcome, { readonly _tag: "Complete" }>): string =>
  outcome._tag === "Corrupt"
    ? `${segmentName(outcome.segment)} at byte ${outcome.offset}: ${outcome.reason}`
    : `${segmentName(outcome.segment)} ends in an incomplete record at byte ${outcome.offset}`

// The bytes of `file` where a record at `offset` would have its header (fewer at the end
// of the file), in hex: zeros while that space is unwritten.
const headerAt = async (file: string, offset: number): Promise<string> => {
  const handle = await fs.open(file, "r")
  try {
    const header = Buffer.alloc(frameHeaderBytes)
    const { bytesRead } = await handle.read(header, 0, header.length, offset)
    return header.toString("hex", 0, bytesRead)
  } finally {
    await handle.close()
  }
}

// A round without a writer that found nothing new: the last segment, its size, and the
// bytes where the next record would start. Appends into the zeros a writer laid down
// ahead leave the size as it was, so the size alone does not say nothing changed.
interface Seen {
  readonly segment: number
  readonly size: number
  readonly header: string
}

const nothingSeen: Seen = { segment: 0, size: -1, header: "" }

/**
 * Follows the log of `directory` in `index` (built from the sealed segments before the
 * last): what the index holds is durable, and readers may read all of it.
 *
 * @internal
 */
export class LogFollower {
  /** Set when the follower cannot follow the log any more; subscriptions fail with it. */
  failure: StorageError | undefined = undefined
  private offset = 0
  private seen: Seen = nothingSeen
  private connection: net.Socket | undefined = undefined
  private target: DurableEnd | undefined = undefined
  private silent = { holder: "", closes: 0 }
  private readonly waiters = new Wakeups()
  private chain: Promise<void> = Promise.resolve()
  private queued = false
  private closed = false
  private timer: NodeJS.Timeout | undefined = undefined
  private readonly ready: Promise<void>
  private settleReady: (failure: StorageError | undefined) => void = () => undefined

  constructor(
    private readonly directory: string,
    private readonly io: FileIo,
    readonly index: LogIndex,
    private segment: number
  ) {
    this.ready = new Promise((resolve, reject) => {
      this.settleReady = (failure) => failure === undefined ? resolve() : reject(failure)
    })
  }

  /** Resolves once the follower has read the log as far as it was durable at the start. */
  start(): Promise<void> {
    this.timer = setInterval(() => this.connection === undefined && this.schedule(), pollMillis)
    this.schedule()
    return this.ready
  }

  /** Every record in the index is durable. */
  get durableRecords(): number {
    return this.index.table.size
  }

  readonly readFailure = (): StorageError | undefined => this.failure

  /** Calls `wake` once a position after `position` is readable (or following failed). */
  readonly onBeyond = (position: number, wake: () => void): (() => void) | undefined =>
    this.waiters.add(this.index.nextPosition - 1 > position || this.failure !== undefined, wake)

  /** Stops following: no more reads of the directory, the writer's connection closed. */
  async close(): Promise<void> {
    this.closed = true
    clearInterval(this.timer)
    this.connection?.destroy()
    await this.chain
  }

  private schedule(): void {
    if (this.queued || this.closed) return
    this.queued = true
    this.chain = this.chain.then(async () => {
      this.queued = false
      if (this.closed || this.failure !== undefined) return
      const before = this.index.nextPosition
      try {
        if (await this.step()) this.settleReady(undefined)
      } catch (cause) {
        this.fail(cause)
      }
      if (this.index.nextPosition !== before) this.waiters.wakeAll()
    })
  }

  /** One turn: follow the writer's latest end, or look for a writer and read the disk. Returns whether it caught up. */
  private async step(): Promise<boolean> {
    if (this.connection !== undefined) {
      const target = this.target
      if (target === undefined) return false
      this.target = undefined
      await this.advanceTo(target)
      return true
    }
    if (await this.findWriter()) return false
    await this.diskRound()
    return true
  }

  // Reads up to the writer's end: whole sealed segments, then the end's segment up to its offset.
  private async advanceTo(end: DurableEnd): Promise<void> {
    // An end read already (the index was built from segments sealed since it was sent).
    if (end.position <= this.index.nextPosition - 1 && end.segment <= this.segment) return
    while (this.segment < end.segment) await this.readSealed()
    if (end.segment === this.segment && end.offset > this.offset) await this.scan(end.offset)
    const last = this.index.nextPosition - 1
    if (end.segment !== this.segment || end.offset !== this.offset || last !== end.position) {
      throw new LogUnreadable(
        `the writer reports position ${end.position} durable at byte ${end.offset} of ${segmentName(end.segment)}, ` +
          `but the log read holds position ${last} at byte ${this.offset} of ${segmentName(this.segment)}`
      )
    }
  }

  // A round without a writer: sealed segments whole, then the last one's complete records.
  private async diskRound(): Promise<void> {
    const last = (await listSegments(this.directory)).at(-1)
    if (last === undefined) return
    const file = path.join(this.directory, segmentName(last))
    const size = (await fs.stat(file)).size
    // Where this round starts reading, when that is in the last segment.
    const from = this.segment === last ? this.offset : undefined
    const header = from === undefined ? "" : await headerAt(file, from)
    if (last === this.seen.segment && size === this.seen.size && header === this.seen.header) return
    while (this.segment < last) await this.readSealed()
    const end = await this.completeEnd(last, size)
    if (end > this.offset) {
      await this.syncData(file)
      // A writer that started meanwhile is followed instead (its feed says how far).
      if (await this.findWriter()) return
      await this.scan(end)
    }
    // After records were read, the next round looks again where they end.
    this.seen = this.segment === last && this.offset === from ? { segment: last, size, header } : nothingSeen
  }

  // Makes the bytes of `file` durable. A read-only file system has nothing unsynced to
  // write (and may refuse the call).
  private async syncData(file: string): Promise<void> {
    const handle = await this.io.open(file, "r")
    try {
      await this.io.datasync(handle).catch((cause: unknown) => {
        if (!(cause instanceof Error && Reflect.get(cause, "code") === "EROFS")) throw cause
      })
    } finally {
      await handle.close()
    }
  }

  // Where the complete records of the last segment end (a torn tail is left as it is).
  private async completeEnd(segment: number, size: number): Promise<number> {
    const outcome = await scanSegmentRange(this.directory, segment, { from: this.offset, size }, () => undefined, true)
    if (outcome._tag === "Complete") return size
    if (outcome._tag === "TornTail" || outcome._tag === "Unwritten") return outcome.offset
    throw new LogUnreadable(describeOutcome(outcome))
  }

  // Reads the rest of the current segment, sealed (the next one exists), and moves on.
  private async readSealed(): Promise<void> {
    const size = (await fs.stat(path.join(this.directory, segmentName(this.segment)))).size
    await this.scan(size)
    this.segment++
    this.offset = 0
  }

  // Adds the records of the current segment from `offset` up to byte `size`, all complete.
  private async scan(size: number): Promise<void> {
    const visit: RecordVisitor = (buffer, bodyStart, bodyEnd, segment, offset, length) => {
      const refused = this.index.visit(buffer, bodyStart, bodyEnd, segment, offset, length)
      if (refused === undefined) this.offset = offset + length
      return refused
    }
    const outcome = await scanSegmentRange(this.directory, this.segment, { from: this.offset, size }, visit, false)
    if (outcome._tag !== "Complete") throw new LogUnreadable(describeOutcome(outcome))
  }

  // Connects to a live writer and asks for its feed; whether one was found.
  private async findWriter(): Promise<boolean> {
    const found = await connectToHolder(this.directory)
    if (found === undefined) return false
    if (this.closed) {
      found.connection.destroy()
      return true
    }
    this.follow(found.connection, found.holder)
    return true
  }

  private follow(connection: net.Socket, holder: LockHolder): void {
    this.connection = connection
    this.seen = nothingSeen
    let pending = ""
    let heard = false
    connection.setEncoding("latin1")
    connection.on("data", (data: string) => {
      pending += data
      const lines = pending.split("\n")
      pending = lines.pop() ?? ""
      for (const line of lines) {
        const end = decodeEnd(line)
        if (end === undefined) return this.fail(new LogUnreadable(`the writer (pid ${holder.pid}) sent an unreadable durable end`))
        heard = true
        this.target = end
      }
      this.schedule()
    })
    connection.on("error", () => connection.destroy())
    connection.once("close", () => {
      if (this.connection !== connection) return
      this.connection = undefined
      this.target = undefined
      const name = `${holder.pid}.${holder.since.getTime()}`
      this.silent = heard ? { holder: "", closes: 0 } : { holder: name, closes: this.silent.holder === name ? this.silent.closes + 1 : 1 }
      if (this.silent.closes >= maxSilentCloses) {
        return this.fail(
          new LogUnreadable(
            `the writer holding it (pid ${holder.pid}, since ${holder.since.toISOString()}) does not tell readers how far its log ` +
              "is durable (a version without read-only access): upgrade the writer, or stop it"
          )
        )
      }
      // The writer is gone: what it left on disk is read (and synced) next.
      this.schedule()
    })
    connection.write(followRequest)
  }

  private fail(cause: unknown): void {
    if (this.failure !== undefined || this.closed) return
    const reason = cause instanceof LogUnreadable ? cause.reason : String(cause)
    this.failure = new StorageError({
      reason: `reading the event store ${this.directory} read-only failed, and it follows the log no more ` +
        `(open it again; if the writer refuses to open too, run verify): ${reason}`,
      cause
    })
    clearInterval(this.timer)
    this.connection?.destroy()
    this.settleReady(this.failure)
    this.waiters.wakeAll()
  }
}
