/**
 * Where snapshots of long streams are kept: the state a stream had folded into at a
 * version, stored as JSON with the version of the state's schema.
 *
 * A snapshot is a cache. It is keyed by stream and state version, so a new state version
 * never reads an old snapshot — it finds none and replays the stream — and two versions
 * of an application can share a store during a deploy. Saving keeps the snapshot at the
 * higher stream version. Two layers here, and `layerSnapshots` in `es-kernel/postgres`:
 *
 * - `layerMemory`: as long as the layer lives.
 * - `layerFile({ directory })`: a file per stream and state version, named by a hash of
 *   the stream id and replaced atomically (temporary file, fsync, rename, fsync of the
 *   directory). A file that cannot be read is reported as a miss with its reason, never
 *   as an error: the stream is replayed instead. Saves of one stream by one process run
 *   one after another; two processes saving one stream at once may leave the older
 *   snapshot (the file event store has one writing process, which is where saves happen).
 *
 * `Snapshot.load` reads the latest snapshot and only the events after it.
 *
 * @since 0.2.0
 */
import { createHash } from "node:crypto"
import * as fs from "node:fs/promises"
import * as path from "node:path"
import { Context, Data, Effect, Layer } from "effect"
import type { Json } from "./EventStore.js"
import { isObject, parseJson, readIfPresent, writeAtomically } from "./internal/files.js"
import { quote } from "./internal/text.js"

/**
 * A stream's state at `version`, encoded by a state codec of version `stateVersion`.
 *
 * @since 0.2.0
 */
export interface StoredSnapshot {
  readonly streamId: string
  readonly version: number
  readonly stateVersion: number
  readonly state: Json
}

/**
 * What a lookup found: a snapshot, nothing, or a stored snapshot that cannot be used
 * (`reason` says why; the caller replays the stream).
 *
 * @since 0.2.0
 */
export type Lookup =
  | { readonly _tag: "Found"; readonly snapshot: StoredSnapshot }
  | { readonly _tag: "Missing" }
  | { readonly _tag: "Unusable"; readonly reason: string }

/**
 * Saving a snapshot failed (I/O). Nothing else depends on it: the stream is intact.
 *
 * @since 0.2.0
 */
export class SnapshotError extends Data.TaggedError("SnapshotError")<{
  readonly streamId: string
  readonly reason: string
  readonly cause?: unknown
}> {
  override get message(): string {
    return `snapshot of stream ${quote(this.streamId)}: ${this.reason}. The stream itself is intact; loads replay it until a snapshot is saved.`
  }
}

/**
 * The snapshot store.
 *
 * @since 0.2.0
 */
export class SnapshotStore extends Context.Service<SnapshotStore, {
  readonly load: (streamId: string, stateVersion: number) => Effect.Effect<Lookup>
  /** Keeps the stored snapshot if it is at a higher stream version. */
  readonly save: (snapshot: StoredSnapshot) => Effect.Effect<void, SnapshotError>
}>()("es-kernel/SnapshotStore") {}

const missing: Lookup = { _tag: "Missing" }

/**
 * Snapshots in memory.
 *
 * @since 0.2.0
 */
export const layerMemory: Layer.Layer<SnapshotStore> = Layer.sync(SnapshotStore, () => {
  const snapshots = new Map<string, StoredSnapshot>()
  const keyOf = (streamId: string, stateVersion: number) => `${stateVersion}\u0000${streamId}`
  return SnapshotStore.of({
    load: (streamId, stateVersion) =>
      Effect.sync(() => {
        const snapshot = snapshots.get(keyOf(streamId, stateVersion))
        return snapshot === undefined ? missing : { _tag: "Found", snapshot }
      }),
    save: (snapshot) =>
      Effect.sync(() => {
        const key = keyOf(snapshot.streamId, snapshot.stateVersion)
        if ((snapshots.get(key)?.version ?? -1) < snapshot.version) snapshots.set(key, snapshot)
      })
  })
})

/** Reads a snapshot file: its content must name the stream and state version asked for. */
const decodeFile = (text: string, streamId: string, stateVersion: number): Lookup => {
  const parsed = parseJson(text)
  if (parsed === undefined || !isObject(parsed)) return { _tag: "Unusable", reason: "the snapshot file is not JSON" }
  const { state, version } = parsed
  if (parsed.streamId !== streamId || parsed.stateVersion !== stateVersion) {
    return { _tag: "Unusable", reason: "the snapshot file belongs to another stream or state version" }
  }
  if (typeof version !== "number" || !Number.isSafeInteger(version) || version < 1 || state === undefined) {
    return { _tag: "Unusable", reason: "the snapshot file has no version or no state" }
  }
  return { _tag: "Found", snapshot: { streamId, version, stateVersion, state } }
}

/**
 * Snapshots in files under `directory` (created if missing).
 *
 * @since 0.2.0
 */
export const layerFile = (options: { readonly directory: string }): Layer.Layer<SnapshotStore> =>
  Layer.sync(SnapshotStore, () => {
    const fileOf = (streamId: string, stateVersion: number) =>
      path.join(options.directory, `${createHash("sha256").update(streamId).digest("hex").slice(0, 40)}.v${stateVersion}.json`)
    const lookup = async (streamId: string, stateVersion: number): Promise<Lookup> => {
      const text = await readIfPresent(fileOf(streamId, stateVersion))
      return text === undefined ? missing : decodeFile(text, streamId, stateVersion)
    }
    // Saves of one file run one after another, so that comparing with the stored version
    // and replacing the file is one step: a save never replaces a newer one.
    const saving = new Map<string, Promise<void>>()
    const oneAtATime = (file: string, task: () => Promise<void>): Promise<void> => {
      const run = (saving.get(file) ?? Promise.resolve()).then(task)
      const settled = run.catch(() => undefined)
      saving.set(file, settled)
      void settled.then(() => {
        if (saving.get(file) === settled) saving.delete(file)
      })
      return run
    }
    return SnapshotStore.of({
      load: (streamId, stateVersion) =>
        Effect.promise(() =>
          lookup(streamId, stateVersion).catch((error: unknown): Lookup => ({ _tag: "Unusable", reason: `reading it failed (${String(error)})` }))
        ),
      save: (snapshot) =>
        Effect.tryPromise({
          try: () =>
            oneAtATime(fileOf(snapshot.streamId, snapshot.stateVersion), async () => {
              const current = await lookup(snapshot.streamId, snapshot.stateVersion).catch((): Lookup => missing)
              if (current._tag === "Found" && current.snapshot.version >= snapshot.version) return
              await fs.mkdir(options.directory, { recursive: true })
              await writeAtomically(fileOf(snapshot.streamId, snapshot.stateVersion), JSON.stringify(snapshot))
            }),
          catch: (cause) =>
            new SnapshotError({ streamId: snapshot.streamId, reason: `saving failed (${String(cause)}); check the directory's permissions and free space`, cause })
        })
    })
  })
