/**
 * The durable file-backed event store: a single-node, append-only log on local disk.
 *
 * - **Format.** Segment files `segment-NNNNNNNN.log` of length- and CRC-framed records;
 *   one record holds one appended batch, so a batch is atomic on disk (see
 *   `internal/file/frame.ts` for the bytes). A new segment starts once the current one
 *   exceeds `segmentSize`; the directory is synced whenever a file is created.
 * - **Durability.** An append is acknowledged only after its record was written and
 *   `datasync`ed. Concurrent appends share one `writev` + `datasync` (group commit).
 *   A failed write or sync is fatal: that append and every later one fail with
 *   `StorageError`; reopen the store to continue from what reached the disk.
 * - **Open.** A header-only scan of every record (CRC checked) rebuilds the in-memory
 *   index: per record its location, per stream its records, per event id a hash. Event
 *   payloads stay on disk; reads go to disk in large sequential chunks.
 * - **Recovery.** A torn tail (an incomplete or bad last record with nothing good after
 *   it) is truncated on open and logged as a warning. Anything else bad — a bad record
 *   followed by a good one, or one in an older segment — fails the open with
 *   `FileStoreCorrupt` naming the segment and byte offset. `verify` checks a store
 *   without opening it.
 * - **Lock.** One writer process per directory: a `LOCK` file holding the pid, created
 *   atomically; a second opener gets `FileStoreLocked`; a lock left by a dead process is
 *   reclaimed. Closing the layer's scope waits for the flush in flight, closes the files
 *   and releases the lock.
 *
 * @since 0.1.0
 */
import { Effect, Layer } from "effect"
import { EventStore, StorageError } from "./EventStore.js"
import { FileStoreCorrupt, FileStoreLocked } from "./internal/file/errors.js"
import { nodeIo } from "./internal/file/io.js"
import type { FileIo } from "./internal/file/io.js"
import { makeIndex, openStore } from "./internal/file/store.js"
import type { OpenReport } from "./internal/file/store.js"
import { countAt, eventContentsAt, eventIdsAt } from "./internal/file/frame.js"
import { listSegments, scanSegments, segmentName } from "./internal/file/segments.js"

export {
  /**
   * @since 0.1.0
   */
  FileStoreCorrupt,
  /**
   * @since 0.1.0
   */
  FileStoreLocked
}

/**
 * Options of the file layer.
 *
 * - `directory`: where the log lives; created when missing.
 * - `segmentSize`: bytes after which a new segment file starts (default 64 MiB). A
 *   batch is never split, so a segment may exceed it by one group commit.
 * - `sync`: `"durable"` (default) acknowledges an append after `datasync`; `"none"`
 *   skips the sync — appends then survive a process crash but not a power loss.
 *
 * @since 0.1.0
 */
export interface FileStoreOptions {
  readonly directory: string
  readonly segmentSize?: number
  readonly sync?: "durable" | "none"
}

/**
 * What opening a store found, as passed to `layerWithReport`'s callback.
 *
 * @since 0.1.0
 */
export type FileStoreOpenReport = OpenReport

const defaultSegmentSize = 64 * 1024 * 1024

const storeOptions = (options: FileStoreOptions, io: FileIo) => ({
  directory: options.directory,
  segmentSize: options.segmentSize ?? defaultSegmentSize,
  sync: options.sync ?? "durable",
  io
})

/**
 * The file-backed `EventStore`. Building the layer takes the directory's lock and opens
 * the log (repairing a torn tail); closing its scope releases both.
 *
 * @since 0.1.0
 */
export const layer = (
  options: FileStoreOptions
): Layer.Layer<EventStore, StorageError | FileStoreLocked | FileStoreCorrupt> =>
  Layer.effect(EventStore, Effect.map(openStore(storeOptions(options, nodeIo)), ({ service }) => service))

/**
 * The file layer over replaceable file operations, for fault-injection tests.
 *
 * @internal
 */
export const layerWithIo = (
  options: FileStoreOptions,
  io: FileIo,
  onOpen: (report: OpenReport) => void = () => undefined
): Layer.Layer<EventStore, StorageError | FileStoreLocked | FileStoreCorrupt> =>
  Layer.effect(
    EventStore,
    Effect.map(openStore(storeOptions(options, io)), ({ report, service }) => {
      onOpen(report)
      return service
    })
  )

/**
 * The outcome of `verify`.
 *
 * - `Intact`: every record is whole, its CRC matches, its events parse, and positions
 *   and versions follow on.
 * - `TornTail`: everything is good up to a torn tail that opening the store would cut.
 * - `Corrupt`: the first bad record, which opening the store would refuse.
 *
 * @since 0.1.0
 */
export type VerifyReport =
  | { readonly _tag: "Intact"; readonly segments: number; readonly records: number; readonly events: number }
  | { readonly _tag: "TornTail"; readonly segment: string; readonly offset: number; readonly bytes: number }
  | { readonly _tag: "Corrupt"; readonly segment: string; readonly offset: number; readonly reason: string }

/**
 * Checks every record of the store in `directory` without opening it for writing (no
 * lock is taken: run it on a store no process is writing, or expect the writer's
 * unfinished tail to show as `TornTail`). Fails only when the files cannot be read.
 *
 * @since 0.1.0
 */
export const verify = (directory: string): Effect.Effect<VerifyReport, StorageError> =>
  Effect.tryPromise({
    try: async (): Promise<VerifyReport> => {
      const segments = await listSegments(directory)
      const { index, visit } = makeIndex()
      const outcome = await scanSegments(directory, segments, (buffer, bodyStart, bodyEnd, segment, offset, length) => {
        const refused = visit(buffer, bodyStart, bodyEnd, segment, offset, length)
        if (refused !== undefined) return refused
        const { jsonStart } = eventIdsAt(buffer, bodyStart)
        const contents = eventContentsAt(buffer, jsonStart, bodyEnd, countAt(buffer, bodyStart))
        return typeof contents === "string" ? contents : undefined
      })
      switch (outcome._tag) {
        case "Complete":
          return { _tag: "Intact", segments: segments.length, records: index.table.size, events: index.nextPosition - 1 }
        case "TornTail":
          return { _tag: "TornTail", segment: segmentName(outcome.segment), offset: outcome.offset, bytes: outcome.size - outcome.offset }
        case "Corrupt":
          return { _tag: "Corrupt", segment: segmentName(outcome.segment), offset: outcome.offset, reason: outcome.reason }
      }
    },
    catch: (cause) => new StorageError({ reason: `verifying ${directory}: ${String(cause)}`, cause })
  })
