/**
 * Opening a file store read-only: the index of the sealed segments (from their index
 * files, or scans), a `LogFollower` for the rest, and the same reads as the writer's
 * store over them. Nothing in the directory is created, cut, rewritten or removed, and
 * the writer lock is neither taken nor swept.
 *
 * @internal
 */
import * as fs from "node:fs/promises"
import { Effect } from "effect"
import type { Scope } from "effect"
import { StorageError } from "../../EventStore.js"
import type { EventStore } from "../../EventStore.js"
import { FileStoreCorrupt, FileStoreReadOnly } from "./errors.js"
import { LogFollower } from "./follower.js"
import type { FileIo } from "./io.js"
import { RecordReader, toStorageError } from "./reader.js"
import { buildIndex } from "./recovery.js"
import { listSegments, segmentName } from "./segments.js"
import { makeService } from "./store.js"

// A missing directory is refused rather than awaited: a mistyped path would otherwise
// read as an empty store forever.
const checkDirectory = async (directory: string): Promise<void> => {
  const stat = await fs.stat(directory).catch((cause: unknown) => {
    throw new StorageError({
      reason: `no event store at ${directory}: ${String(cause)}; a read-only store never creates one, ` +
        "so open the writer (EventStoreFile.layer) first, or check the path",
      cause
    })
  })
  if (!stat.isDirectory()) throw new StorageError({ reason: `no event store at ${directory}: it is not a directory; check the path` })
}

/**
 * Opens the store in `directory` read-only in the current scope; closing the scope stops
 * following the log and closes every file.
 *
 * @internal
 */
export const openReadOnly = (
  directory: string,
  io: FileIo
): Effect.Effect<EventStore["Service"], StorageError | FileStoreCorrupt, Scope.Scope> =>
  Effect.gen(function*() {
    const reading = toStorageError(`reading ${directory}`)
    yield* Effect.tryPromise({ try: () => checkDirectory(directory), catch: reading })
    const segments = yield* Effect.tryPromise({ try: () => listSegments(directory), catch: reading })
    const built = yield* Effect.tryPromise({ try: () => buildIndex(directory, segments, false), catch: reading })
    if (built.outcome._tag !== "Complete") {
      const { outcome } = built
      const reason = outcome._tag === "Corrupt" ? outcome.reason : "an incomplete record in a sealed segment"
      return yield* new FileStoreCorrupt({ directory, segment: segmentName(outcome.segment), offset: outcome.offset, reason })
    }
    const { index } = built
    const follower = yield* Effect.acquireRelease(
      Effect.sync(() => new LogFollower(directory, io, index, segments.at(-1) ?? 1)),
      (follower) => Effect.promise(() => follower.close())
    )
    yield* Effect.tryPromise({ try: () => follower.start(), catch: reading })
    const reader = yield* Effect.acquireRelease(
      Effect.sync(() => new RecordReader(directory, index)),
      (reader) => Effect.promise(() => reader.close())
    )
    const refusal = new FileStoreReadOnly({ directory })
    const append: EventStore["Service"]["append"] = () => Effect.fail(new StorageError({ reason: refusal.message, cause: refusal }))
    return makeService({ directory, index, durable: follower, reader, append })
  })
