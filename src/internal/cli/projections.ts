/**
 * `es-kernel projections`: the projections whose checkpoints live in a directory
 * (`CheckpointStore.layerFile`), how far behind the store each is, and `rebuild`, which
 * resets one so that its next start rebuilds it from the beginning of the store.
 *
 * The command line cannot run a projection (that is the application's code), so a
 * rebuild here is a reset: it refuses while a runner holds the projection, and removes
 * its checkpoint (and with it a view's state) under the runner's own lock.
 *
 * @internal
 */
import * as path from "node:path"
import { Effect } from "effect"
import { CheckpointStore, layerFile } from "../../CheckpointStore.js"
import { listKeys, readActive, readCheckpoint, removeCheckpoint } from "../checkpoint/file.js"
import type { Command, Invocation } from "./command.js"
import { CliError, exitCodes, positionals, stringOption, usageError, writeLines } from "./command.js"
import { scanAll } from "./scan.js"
import { count, table, time } from "./table.js"
import { locationHelp, locationOf, locationOptions, openStore } from "./target.js"

interface Row {
  readonly key: string
  readonly position: number
  behind: number
  oldest: Date | undefined
}

const checkpointsOf = (invocation: Invocation): Effect.Effect<string, CliError> => {
  const directory = stringOption(invocation, "checkpoints")
  return directory === undefined
    ? Effect.fail(usageError("missing --checkpoints <directory>: the directory given to CheckpointStore.layerFile"))
    : Effect.succeed(directory)
}

const io = <A>(what: string, run: () => Promise<A>) =>
  Effect.tryPromise({ try: run, catch: (cause) => new CliError({ exitCode: exitCodes.unavailable, reason: `${what}: ${String(cause)}` }) })

const list = (invocation: Invocation) =>
  Effect.gen(function*() {
    const [storeArgument = ""] = yield* positionals(invocation, ["store"])
    const location = yield* locationOf(storeArgument, invocation)
    const root = yield* checkpointsOf(invocation)
    const keys = yield* io(`listing ${root}`, () => listKeys(root))
    const rows: Array<Row> = []
    for (const key of keys) {
      const stored = yield* io(`reading the checkpoint of ${key}`, () => readCheckpoint(path.join(root, key)))
      if (stored === undefined || "unreadable" in stored) {
        yield* Effect.sync(() => console.error(`${key}: checkpoint unreadable, left out`))
        continue
      }
      rows.push({ key, position: stored.position, behind: 0, oldest: undefined })
    }
    if (rows.length === 0) {
      yield* writeLines([`no projection checkpoints in ${root}`])
      return exitCodes.ok
    }
    const store = yield* openStore(location, "read")
    const from = Math.min(...rows.map((row) => row.position))
    let head = from
    yield* scanAll(store, location, { from }, (events) =>
      Effect.sync(() => {
        for (const event of events) {
          head = event.position
          for (const row of rows) {
            if (event.position <= row.position) continue
            row.behind++
            row.oldest ??= event.recordedAt
          }
        }
      }))
    const now = Date.now()
    const active = new Map<string, number | undefined>()
    for (const row of rows) {
      const name = row.key.split("@")[0] ?? row.key
      if (!active.has(name)) {
        const version = yield* io(`reading the active version of ${name}`, () => readActive(root, name))
        active.set(name, typeof version === "number" ? version : undefined)
      }
    }
    yield* writeLines(table(
      ["PROJECTION", "CHECKPOINT", "BEHIND", "LAG", "ACTIVE"],
      rows.map((row) => {
        const [name = row.key, version] = row.key.split("@")
        const activeVersion = active.get(name)
        return [
          row.key,
          String(row.position),
          count(row.behind),
          row.oldest === undefined ? "0 s" : `${((now - row.oldest.getTime()) / 1000).toFixed(1)} s (since ${time(row.oldest)})`,
          activeVersion === undefined ? "-" : String(activeVersion) === version ? "yes" : "no"
        ]
      })
    ))
    yield* writeLines([`store head: position ${head}`])
    return exitCodes.ok
  }).pipe(Effect.scoped)

// `name@version` as given, or the one key of `name`: its active version, or its only one.
const resolveKey = (root: string, given: string) =>
  Effect.gen(function*() {
    if (given.includes("@")) return given
    const keys = (yield* io(`listing ${root}`, () => listKeys(root))).filter((key) => key.startsWith(`${given}@`))
    const active = yield* io(`reading the active version of ${given}`, () => readActive(root, given))
    if (typeof active === "number" && keys.includes(`${given}@${active}`)) return `${given}@${active}`
    const [only, ...others] = keys
    if (only !== undefined && others.length === 0) return only
    return yield* usageError(
      keys.length === 0
        ? `no checkpoint of projection ${JSON.stringify(given.slice(0, 128))} in ${root}`
        : `projection ${JSON.stringify(given.slice(0, 128))} has several versions (${keys.join(", ")}) and none active: name one as <name>@<version>`
    )
  })

const reset = (root: string, key: string) =>
  Effect.gen(function*() {
    const checkpoints = yield* CheckpointStore
    // The runner's own lock: held here, no runner can start while the checkpoint goes.
    yield* checkpoints.claim(key).pipe(
      Effect.mapError((error) =>
        new CliError({
          exitCode: error._tag === "ProjectionAlreadyRunning" ? exitCodes.found : exitCodes.unavailable,
          reason: `${error.message}${error._tag === "ProjectionAlreadyRunning" ? " Then run rebuild again." : ""}`
        })
      )
    )
    return yield* io(`removing the checkpoint of ${key}`, () => removeCheckpoint(path.join(root, key)))
  }).pipe(Effect.scoped, Effect.provide(layerFile({ directory: root })))

const rebuild = (invocation: Invocation) =>
  Effect.gen(function*() {
    const [, given = ""] = yield* positionals(invocation, ["rebuild", "name"])
    const root = yield* checkpointsOf(invocation)
    const key = yield* resolveKey(root, given)
    const removed = yield* reset(root, key)
    yield* writeLines([
      removed
        ? `${key}: checkpoint removed; the projection rebuilds from the start of the store when it next starts`
        : `${key}: no checkpoint; the projection already starts from the start of the store`
    ])
    return exitCodes.ok
  })

/** @internal */
export const projections: Command = {
  name: "projections",
  summary: "list projections with their lag; rebuild one (reset its checkpoint)",
  usage: `usage: es-kernel projections <store> --checkpoints <directory>
       es-kernel projections rebuild <name> --checkpoints <directory>

The projections whose checkpoints are kept in <directory> (CheckpointStore.layerFile).

List: each projection key (name@version) with its checkpoint position, how many events
the store holds after it (of any type: a projection that filters applies fewer), the
age of the oldest of them, and whether its version is the active one.

rebuild <name>: resets the projection so that it rebuilds from the start of the store
the next time your application starts it. The command line cannot run your projection's
code: it removes the checkpoint (and a view's saved state) under the projection's own
lock, and refuses (exit 1) while a runner holds it — stop that runner first. <name> is
name@version, or a name whose active (or only) version is meant. A projection whose read
model lives elsewhere (Projector.handler) applies every event again: clear that read
model, or make its handler idempotent. To rebuild without downtime instead, start a new
version beside the old one and switch with Projector.takeOver.

${locationHelp}
  --checkpoints <directory>  the checkpoint directory (CheckpointStore.layerFile)`,
  options: { ...locationOptions, checkpoints: { type: "string" } },
  run: (invocation) => invocation.positionals[0] === "rebuild" ? rebuild(invocation) : list(invocation)
}
