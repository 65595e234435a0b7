/**
 * The file layer's own errors, beside the contract's `StorageError`.
 *
 * They live here rather than in `EventStoreFile.ts` so the internal modules can build
 * them without importing the public module (which imports them): `EventStoreFile.ts`
 * re-exports them.
 *
 * @internal
 */
import { Data } from "effect"

/**
 * Another live process (or another layer in this process) holds the store's writer lock.
 * A lock is held only while its process runs: one left by a process that exited or
 * crashed is taken over by the next open, so there is nothing to delete by hand.
 *
 * @since 0.1.0
 */
export class FileStoreLocked extends Data.TaggedError("FileStoreLocked")<{
  readonly directory: string
  readonly holderPid: number
  readonly heldSince: Date
}> {
  override get message(): string {
    const since = this.heldSince.toISOString()
    return this.holderPid === process.pid
      ? `event store ${this.directory} is already open in this process (pid ${this.holderPid}) since ${since}: ` +
        "use that layer, or close its scope before opening the store again"
      : `event store ${this.directory} is locked by the live process ${this.holderPid} (pid as seen from its own ` +
        `container) since ${since}: to read beside it, open the store with EventStoreFile.layerReadOnly; ` +
        "to write, stop that process or close its store, then open again; " +
        "a lock is released when its process exits, so never delete LOCK files by hand"
  }
}

/**
 * A record that is not the torn tail of the log failed its check: a bad CRC or length
 * followed by valid records, a record in an older segment, or a record out of order.
 * Opening refuses such a store: nothing is repaired automatically in the middle of a log.
 *
 * @since 0.1.0
 */
export class FileStoreCorrupt extends Data.TaggedError("FileStoreCorrupt")<{
  readonly directory: string
  readonly segment: string
  readonly offset: number
  readonly reason: string
}> {
  override get message(): string {
    return `event store ${this.directory} is corrupt: ${this.segment} at byte ${this.offset}: ${this.reason}`
  }
}

/**
 * An append to a store opened read-only (`EventStoreFile.layerReadOnly`). The store's
 * `append` fails with a `StorageError` whose `cause` is this error.
 *
 * @since 0.2.0
 */
export class FileStoreReadOnly extends Data.TaggedError("FileStoreReadOnly")<{
  readonly directory: string
}> {
  override get message(): string {
    return `event store ${this.directory} is open read-only (EventStoreFile.layerReadOnly), so it cannot append: ` +
      "send the command to the process that holds the store with EventStoreFile.layer, " +
      "or open it with EventStoreFile.layer when no process holds it"
  }
}
