/**
 * The durable file-backed event store: a single-node, append-only log on local disk.
 *
 * - **Format.** Segment files `segment-NNNNNNNN.log` of length- and CRC-framed records;
 *   one record holds one appended batch, so a batch is atomic on disk (see
 *   `internal/file/frame.ts` for the bytes). A new segment starts once the current one
 *   exceeds `segmentSize`; the directory is synced whenever a file is created, and its
 *   parent when opening creates the directory itself.
 * - **Durability.** An append is acknowledged only after its record was written and
 *   `datasync`ed. Concurrent appends share one `writev` + `datasync` (group commit).
 *   The writer lays zeros down ahead of its appends, 1 MiB at a time, so that most syncs
 *   write data into space the file already has and need not commit a new file size; a
 *   sealed or closed segment is cut back to its records.
 *   A failed write or sync is fatal: that append and every later one fail with
 *   `StorageError`; reopen the store to continue from what reached the disk.
 * - **Open.** Rebuilds the in-memory index (per record its location, per stream its
 *   records, per event id a hash): each sealed segment from its index file
 *   `segment-NNNNNNNN.idx` (the record headers as binary columns, CRC-framed, written
 *   and synced when the segment is sealed; see `internal/file/indexFile.ts`), the last segment
 *   by a header-only scan of every record (CRC checked). A missing, torn or mismatching
 *   index file is rebuilt by scanning its segment. The CRC of a record in a sealed
 *   segment is checked when it is read and by `verify`. Event payloads stay on disk;
 *   reads go to disk in large chunks, scattered records with parallel reads. Records of
 *   any size the contract allows are read whole, by the scan as by reads.
 * - **Descriptors.** Bounded whatever the number of segments: opening reads 16 index
 *   files at a time; reads keep at most 64 segments open, least recently used closed
 *   first. Opening to read needs no free disk space beyond the lock's socket entry.
 * - **Recovery.** A torn tail (an incomplete or bad last record with nothing good after
 *   it, or with only records a power loss tore from it: a page of the bad record reads as
 *   zeros, as a dropped unsynced page does, so nothing after it was ever synced) is
 *   truncated on open, logged as a warning and reported to `onOpen`. Anything else bad —
 *   a bad record followed by a good one, or one in an older segment — fails the open
 *   with `FileStoreCorrupt` naming the segment and byte offset. `verify` checks a store
 *   without opening it. A directory the open creates is synced into its parent.
 * - **Lock.** One writer process per directory: the holder listens on a unix socket
 *   `LOCK.<pid>.<since>.<token>` in the directory, which the operating system closes when
 *   the process exits however it exits; a second opener (another process, or another
 *   layer in this process) gets `FileStoreLocked` naming the holder's pid and since when.
 *   A lock nobody listens on (left by a crash, a power loss, or an older version's `LOCK`
 *   file) is removed by the next open: no lock ever needs deleting by hand. The directory
 *   must be on a file system that holds unix sockets (local ones; not every network
 *   mount). Closing the layer's scope waits for the flush in flight, closes the files and
 *   releases the lock.
 * - **Readers.** Other processes open the store with `layerReadOnly`: they connect to the
 *   lock socket, and the writer sends them how far its log is durable after each sync.
 *
 * @since 0.1.0
 */
import { Effect, Layer } from "effect"
import { EventStore, StorageError } from "./EventStore.js"
import { FileStoreCorrupt, FileStoreLocked, FileStoreReadOnly } from "./internal/file/errors.js"
import { nodeIo } from "./internal/file/io.js"
import { layerReadOnlyWithIo, layerWithIo } from "./internal/file/layer.js"
import { verifyStore } from "./internal/file/verify.js"
import type { VerifyReport as InternalVerifyReport } from "./internal/file/verify.js"

export {
  /**
   * @since 0.1.0
   */
  FileStoreCorrupt,
  /**
   * @since 0.1.0
   */
  FileStoreLocked,
  /**
   * @since 0.2.0
   */
  FileStoreReadOnly
}

/**
 * Options of the file layer.
 *
 * - `directory`: where the log lives; created when missing.
 * - `segmentSize`: bytes after which a new segment file starts (default 16 MiB). A
 *   batch is never split, so a segment may exceed it by one group commit. Opening a
 *   store reads sealed segments through their index files but scans the last segment
 *   record by record, so this bounds the scan part of an open (~70 ms per 16 MiB of
 *   small records, measured).
 * - `sync`: `"durable"` (default) acknowledges an append after `datasync`; `"none"`
 *   skips the sync — appends then survive a process crash but not a power loss.
 * - `onOpen`: called once the store is open, before the layer is built, with what
 *   opening found and repaired (`FileStoreOpenReport`): the torn tail it cut, the index
 *   files it rebuilt. Use it to alert on or record a repair; it is also logged.
 *
 * @since 0.1.0
 */
export interface FileStoreOptions {
  readonly directory: string
  readonly segmentSize?: number
  readonly sync?: "durable" | "none"
  readonly onOpen?: (report: FileStoreOpenReport) => void
}

/**
 * What opening a store found and did.
 *
 * - `segments`, `records`, `events`: the size of the log as opened.
 * - `truncated`: the torn tail cut from the last segment (its segment file, the byte
 *   offset it was cut at, and how many bytes were cut), or `undefined`. Only a record
 *   never acknowledged can be in a torn tail.
 * - `rebuiltIndexes`: the `.idx` files rewritten from a scan of their segment because
 *   they were missing, torn or did not match it.
 * - `indexWriteFailure`: why rewriting them failed (a full disk, say), or `undefined`;
 *   the store works without them and the next open scans those segments again.
 *
 * @since 0.1.0
 */
export interface FileStoreOpenReport {
  readonly segments: number
  readonly records: number
  readonly events: number
  readonly truncated: { readonly segment: string; readonly offset: number; readonly bytes: number } | undefined
  readonly rebuiltIndexes: ReadonlyArray<string>
  readonly indexWriteFailure: string | undefined
}

/**
 * The file-backed `EventStore`. Building the layer takes the directory's lock and opens
 * the log (repairing a torn tail); closing its scope releases both.
 *
 * @since 0.1.0
 */
export const layer = (
  options: FileStoreOptions
): Layer.Layer<EventStore, StorageError | FileStoreLocked | FileStoreCorrupt> => layerWithIo(options, nodeIo)

/**
 * Options of the read-only file layer: `directory`, where a store lives (it must exist).
 *
 * @since 0.2.0
 */
export interface FileStoreReadOnlyOptions {
  readonly directory: string
}

/**
 * The file-backed `EventStore`, read-only, for a process beside the writer (a projection,
 * a query service, the command line): `readStream`, `readAll`, `streamVersion` and
 * `subscribe` see the writer's appends once they are durable, never further.
 *
 * - **With a writer** (a process holding the store with `layer`), it connects to the
 *   writer's lock socket; the writer sends how far its log is durable after each sync,
 *   and the reader reads exactly that far. Records written but not yet synced are never
 *   seen, so nothing a reader sees can be taken back by a power loss. With no reader
 *   connected this costs the writer nothing.
 * - **Without a writer**, it reads the complete, checksummed records on disk and stops
 *   before a torn tail; records a crashed writer wrote but never synced are synced first
 *   (`datasync` on a read-only descriptor), so they too survive a power loss, as the next
 *   writer will keep them. It looks for a writer every 100 ms, and follows one that starts.
 *   With a writer whose `sync` is `"none"`, the reader sees what that writer wrote.
 * - **Changes nothing**: no file is created, cut or rewritten (a torn tail stays for the
 *   writer to cut), no index file is written, the lock is neither taken nor swept, so a
 *   writer can always open beside it. The directory must exist.
 * - **Descriptors**: one connection to the writer, one file while following, and the
 *   reads' 64 at most, as the writer's.
 * - `append` fails with a `StorageError` whose `cause` is `FileStoreReadOnly` (what to do
 *   instead is in its message).
 * - Opening fails with `FileStoreCorrupt` when a sealed segment is bad; a failure while
 *   following later (a corrupt record, an unreadable file) fails subscriptions with a
 *   `StorageError`, and the store follows the log no more: open it again.
 *
 * Building the layer reads the log as far as it is durable; closing its scope stops
 * following and closes every file.
 *
 * @since 0.2.0
 */
export const layerReadOnly = (options: FileStoreReadOnlyOptions): Layer.Layer<EventStore, StorageError | FileStoreCorrupt> =>
  layerReadOnlyWithIo(options, nodeIo)

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
 * @since 0.1.0
 */
export type VerifyReport = InternalVerifyReport

/**
 * Checks every record of the store in `directory` without opening it for writing (no
 * lock is taken: run it on a store no process is writing, or expect the writer's
 * unfinished tail to show as `TornTail`). Fails only when the files cannot be read.
 *
 * @since 0.1.0
 */
export const verify = (directory: string): Effect.Effect<VerifyReport, StorageError> =>
  Effect.tryPromise({
    try: () => verifyStore(directory),
    catch: (cause) => new StorageError({ reason: `verifying ${directory}: ${String(cause)}`, cause })
  })
