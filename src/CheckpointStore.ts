/**
 * Where projections keep their progress: a checkpoint per projection key, the claim that
 * makes one runner the only live one, and which version of a projection is active.
 *
 * A checkpoint is the position of the last event a projection has applied, and for a
 * `View` the view's state as of that position, saved together so they can never
 * disagree. Two layers:
 *
 * - `layerMemory`: checkpoints live as long as the layer; claims are exclusive within it.
 * - `layerFile({ directory })`: a directory per key holding `checkpoint.json`, replaced
 *   atomically (write a temporary file, fsync, rename, fsync the directory), so a crash
 *   leaves the old checkpoint or the new one, never a torn one; and the same lock as the
 *   file event store: a unix socket listening in the key's directory, named for its
 *   holder's process id. The kernel closes it when the holder exits, however it exits,
 *   so a dead runner's lock is taken over at once and never needs a person to remove it;
 *   a live holder — this process included, or one that is stopped (SIGSTOP) — refuses
 *   the claim. Keep the directory on a local file system that can hold unix sockets.
 *
 * A third layer, on PostgreSQL, is `layerCheckpoints` in `es-kernel/postgres`: an advisory
 * lock per key, and batches committed in one transaction with the read model's tables.
 *
 * @since 0.2.0
 */
import { Context, Data, Effect, Layer } from "effect"
import type { Scope } from "effect"
import type { Json, Position } from "./EventStore.js"
import * as CheckpointFile from "./internal/checkpoint/file.js"
import { invalidKey } from "./internal/checkpoint/key.js"
import { acquireLock } from "./internal/file/lock.js"
import { quote } from "./internal/text.js"

/**
 * A projection's progress: every event up to `position` has been applied; `state` is the
 * view's state at that point (absent for projections whose read model lives elsewhere).
 *
 * @since 0.2.0
 */
export interface Checkpoint {
  readonly position: Position
  readonly state?: Json
}

/**
 * Saving or loading a checkpoint failed, or a stored one is unreadable. `reason` says
 * which and what to do.
 *
 * @since 0.2.0
 */
export class CheckpointError extends Data.TaggedError("CheckpointError")<{
  readonly key: string
  readonly reason: string
  readonly cause?: unknown
}> {
  override get message(): string {
    return `checkpoint of projection ${quote(this.key)}: ${this.reason}`
  }
}

/**
 * Another runner holds the projection: in this process, or in the process `holderPid`
 * (on the host `holderHost` when that is another machine). `lock` names what it holds
 * when that is not a file lock in this process's checkpoint directory (on PostgreSQL,
 * the advisory lock).
 *
 * @since 0.2.0
 */
export class ProjectionAlreadyRunning extends Data.TaggedError("ProjectionAlreadyRunning")<{
  readonly key: string
  readonly holderPid?: number
  readonly holderHost?: string
  readonly lock?: string
}> {
  override get message(): string {
    const where = this.holderHost !== undefined && this.holderPid !== undefined
      ? `in process ${this.holderPid} on host ${quote(this.holderHost)}`
      : this.holderPid === undefined
      ? this.lock === undefined ? "in this process" : "in another process"
      : this.holderPid === process.pid
      ? "in this process"
      : `in process ${this.holderPid}`
    const held = this.lock === undefined
      ? ""
      : ` (it holds the ${this.lock}, released when that runner stops or its process or database connection ends)`
    return `projection ${quote(this.key)} is already running ${where}${held}. Stop that runner first; one projection has one live runner.`
  }
}

/**
 * The checkpoint store.
 *
 * - `claim(key)`: makes the caller the only runner of `key` until the scope closes.
 * - `load(key)` / `save(key, checkpoint)`: the stored checkpoint; `save` replaces it
 *   atomically and is durable when it returns (on the file layer).
 * - `activate(name, version)` / `active(name)`: which version of a projection readers
 *   should use (`undefined` until one is activated).
 * - `transaction(key, effect)`: runs a batch (the read model's updates, then `save`) as
 *   one unit where the layer can. On PostgreSQL it is one database transaction on the
 *   layer's client, so a handler that writes through that client commits its writes and
 *   the checkpoint together, or neither; a failure anywhere in `effect` rolls both back.
 *   In memory and in files it runs `effect` as it is.
 *
 * Keys and names are 1 to 128 characters of letters, digits, `.`, `_`, `-` and `@`,
 * starting with a letter or digit, so that they are safe as file names.
 *
 * @since 0.2.0
 */
export class CheckpointStore extends Context.Service<CheckpointStore, {
  readonly claim: (key: string) => Effect.Effect<void, ProjectionAlreadyRunning | CheckpointError, Scope.Scope>
  readonly load: (key: string) => Effect.Effect<Checkpoint | undefined, CheckpointError>
  readonly save: (key: string, checkpoint: Checkpoint) => Effect.Effect<void, CheckpointError>
  readonly activate: (name: string, version: number) => Effect.Effect<void, CheckpointError>
  readonly active: (name: string) => Effect.Effect<number | undefined, CheckpointError>
  readonly transaction: <A, E, R>(key: string, effect: Effect.Effect<A, E, R>) => Effect.Effect<A, E | CheckpointError, R>
}>()("es-kernel/CheckpointStore") {}

const checkKey = (key: string): Effect.Effect<void, CheckpointError> => {
  const reason = invalidKey(key)
  return reason === undefined ? Effect.void : Effect.fail(new CheckpointError({ key, reason }))
}

/** Memory and files have no transactions: a batch is applied, then its checkpoint saved. */
const noTransaction = <A, E, R>(_key: string, effect: Effect.Effect<A, E, R>): Effect.Effect<A, E | CheckpointError, R> => effect

/**
 * Checkpoints in memory, for tests and for projections rebuilt at every start.
 *
 * @since 0.2.0
 */
export const layerMemory: Layer.Layer<CheckpointStore> = Layer.sync(CheckpointStore, () => {
  const checkpoints = new Map<string, Checkpoint>()
  const claimed = new Set<string>()
  const versions = new Map<string, number>()
  return CheckpointStore.of({
    claim: (key) =>
      Effect.andThen(
        checkKey(key),
        Effect.acquireRelease(
          Effect.suspend(() => {
            if (claimed.has(key)) return Effect.fail(new ProjectionAlreadyRunning({ key }))
            claimed.add(key)
            return Effect.void
          }),
          () => Effect.sync(() => claimed.delete(key))
        )
      ),
    load: (key) => Effect.andThen(checkKey(key), Effect.sync(() => checkpoints.get(key))),
    save: (key, checkpoint) => Effect.andThen(checkKey(key), Effect.sync(() => void checkpoints.set(key, checkpoint))),
    activate: (name, version) => Effect.andThen(checkKey(name), Effect.sync(() => void versions.set(name, version))),
    active: (name) => Effect.andThen(checkKey(name), Effect.sync(() => versions.get(name))),
    transaction: noTransaction
  })
})

const io = <A>(key: string, what: string, run: () => Promise<A>): Effect.Effect<A, CheckpointError> =>
  Effect.tryPromise({
    try: run,
    catch: (cause) => new CheckpointError({ key, reason: `${what} failed (${String(cause)}); check the directory's permissions and free space`, cause })
  })

const unreadable = (key: string, file: string, why: string) =>
  new CheckpointError({
    key,
    reason: `${file} is unreadable: ${why}. Remove it to rebuild the projection from the start of the store`
  })

/**
 * Checkpoints in files under `directory` (created if missing), durable across restarts
 * and crashes, with the cross-process lock described above.
 *
 * @since 0.2.0
 */
export const layerFile = (options: { readonly directory: string }): Layer.Layer<CheckpointStore> =>
  Layer.sync(CheckpointStore, () => {
    const root = options.directory
    const directoryOf = (key: string) =>
      Effect.andThen(checkKey(key), io(key, "creating the checkpoint directory", () => CheckpointFile.keyDirectory(root, key)))
    return CheckpointStore.of({
      claim: (key) =>
        Effect.gen(function*() {
          const directory = yield* directoryOf(key)
          const release = yield* Effect.acquireRelease(
            io(key, "taking the projection lock", () => acquireLock(directory)),
            (result) => result._tag === "Acquired" ? Effect.promise(() => result.release().catch(() => undefined)) : Effect.void
          )
          if (release._tag === "Held") return yield* new ProjectionAlreadyRunning({ key, holderPid: release.holder.pid })
        }),
      load: (key) =>
        Effect.gen(function*() {
          const directory = yield* directoryOf(key)
          const stored = yield* io(key, "reading the checkpoint", () => CheckpointFile.readCheckpoint(directory))
          if (stored !== undefined && "unreadable" in stored) return yield* unreadable(key, "checkpoint.json", stored.unreadable)
          return stored
        }),
      save: (key, checkpoint) =>
        Effect.gen(function*() {
          const directory = yield* directoryOf(key)
          yield* io(key, "saving the checkpoint", () => CheckpointFile.writeCheckpoint(directory, checkpoint))
        }),
      activate: (name, version) =>
        Effect.andThen(checkKey(name), io(name, "recording the active version", () => CheckpointFile.writeActive(root, name, version))),
      active: (name) =>
        Effect.gen(function*() {
          yield* checkKey(name)
          const stored = yield* io(name, "reading the active version", () => CheckpointFile.readActive(root, name))
          if (typeof stored === "object") return yield* unreadable(name, "active.json", stored.unreadable)
          return stored
        }),
      transaction: noTransaction
    })
  })
