/**
 * The file layer over replaceable file operations: `EventStoreFile.layer` is this with
 * Node's own; fault-injection tests and the crash test pass theirs (and read the open
 * report).
 */
import { Effect, Layer } from "effect"
import type { StorageError } from "../../EventStore.js"
import { EventStore } from "../../EventStore.js"
import type { FileStoreOpenReport, FileStoreOptions, FileStoreReadOnlyOptions } from "../../EventStoreFile.js"
import type { FileStoreCorrupt, FileStoreLocked } from "./errors.js"
import type { FileIo } from "./io.js"
import { openReadOnly } from "./readOnly.js"
import { openStore } from "./store.js"

const defaultSegmentSize = 16 * 1024 * 1024

export const layerWithIo = (
  options: FileStoreOptions,
  io: FileIo,
  onOpen: (report: FileStoreOpenReport) => void = options.onOpen ?? (() => undefined)
): Layer.Layer<EventStore, StorageError | FileStoreLocked | FileStoreCorrupt> =>
  Layer.effect(
    EventStore,
    Effect.map(
      openStore({
        directory: options.directory,
        segmentSize: options.segmentSize ?? defaultSegmentSize,
        sync: options.sync ?? "durable",
        io
      }),
      ({ report, service }) => {
        onOpen(report)
        return service
      }
    )
  )

/**
 * The read-only file layer over replaceable file operations (it uses them only to open
 * segments for the `datasync` of records a dead writer left).
 */
export const layerReadOnlyWithIo = (
  options: FileStoreReadOnlyOptions,
  io: FileIo
): Layer.Layer<EventStore, StorageError | FileStoreCorrupt> => Layer.effect(EventStore, openReadOnly(options.directory, io))
