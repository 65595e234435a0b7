import * as fs from "node:fs"
import * as path from "node:path"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Exit, Scope } from "effect"
import { CheckpointStore, EventStore, EventStoreFile } from "es-kernel"
import { cleanup, spawnScript, tempDirectory, waitForExit, waitForOutput } from "./file/helpers.js"
import * as Tally from "./projector/tally.js"

const withDirectory = <A, E, R>(use: (directory: string) => Effect.Effect<A, E, R>) =>
  Effect.acquireUseRelease(Effect.sync(tempDirectory), use, (directory) => Effect.sync(() => cleanup(directory)))

const checkpointsIn = (directory: string) =>
  Effect.provide(CheckpointStore.CheckpointStore.useSync((service) => service), CheckpointStore.layerFile({ directory }))

describe("CheckpointStore", () => {
  it.live("file: a saved checkpoint and its state survive a new layer on the same directory", () =>
    withDirectory((directory) =>
      Effect.gen(function*() {
        const first = yield* checkpointsIn(directory)
        expect(yield* first.load("totals@1")).toBeUndefined()
        yield* first.save("totals@1", { position: 7, state: { "counter-a": 3 } })
        yield* first.save("totals@1", { position: 9, state: { "counter-a": 4 } })
        const second = yield* checkpointsIn(directory)
        expect(yield* second.load("totals@1")).toEqual({ position: 9, state: { "counter-a": 4 } })
        expect(fs.readdirSync(path.join(directory, "totals@1"))).toEqual(["checkpoint.json"])
        yield* second.activate("totals", 2)
        expect(yield* (yield* checkpointsIn(directory)).active("totals")).toBe(2)
      })
    ))

  it.live("file: an unreadable checkpoint is an error that says how to rebuild", () =>
    withDirectory((directory) =>
      Effect.gen(function*() {
        const checkpoints = yield* checkpointsIn(directory)
        yield* checkpoints.save("totals@1", { position: 1 })
        fs.writeFileSync(path.join(directory, "totals@1", "checkpoint.json"), "{\"format\":1,\"posi")
        const failure = yield* Effect.flip(checkpoints.load("totals@1"))
        expect(failure._tag).toBe("CheckpointError")
        expect(failure.message).toContain("checkpoint.json is unreadable: it is not JSON. Remove it to rebuild")
      })
    ))

  it.live("keys that are not safe file names are refused on every layer", () =>
    withDirectory((directory) => Effect.gen(function*() {
      for (const layer of [CheckpointStore.layerMemory, CheckpointStore.layerFile({ directory })]) {
        const checkpoints = yield* Effect.provide(CheckpointStore.CheckpointStore.useSync((service) => service), layer)
        for (const key of ["", "../escape", "a/b", ".hidden", "x".repeat(129)]) {
          const failure = yield* Effect.flip(checkpoints.save(key, { position: 1 }))
          expect(failure.reason).toContain("the key must be 1 to 128 letters")
        }
      }
    })))

  it.live("file: a claim is exclusive in this process and released with its scope", () =>
    withDirectory((directory) =>
      Effect.gen(function*() {
        const checkpoints = yield* checkpointsIn(directory)
        const scope = yield* Scope.make()
        yield* Scope.provide(scope)(checkpoints.claim("solo@1"))
        const refused = yield* Effect.flip(Effect.scoped(checkpoints.claim("solo@1")))
        expect(refused).toMatchObject({ _tag: "ProjectionAlreadyRunning", holderPid: process.pid })
        yield* Scope.close(scope, Exit.void)
        yield* Effect.scoped(checkpoints.claim("solo@1"))
      })
    ))
})

describe("Projector on the file checkpoint store", () => {
  const fill = (storeDirectory: string, events: number) =>
    Effect.gen(function*() {
      const store = yield* EventStore.EventStore
      for (let index = 0; index < events; index += 50) {
        yield* store.append("counter-a", Array.from({ length: Math.min(50, events - index) }, () => Tally.added(1)))
      }
    }).pipe(Effect.provide(EventStoreFile.layer({ directory: storeDirectory })))

  it.live("a runner in another process holds the projection; once that process dies, this one takes over", () =>
    withDirectory((directory) =>
      Effect.gen(function*() {
        const storeDirectory = path.join(directory, "store")
        const checkpointDirectory = path.join(directory, "checkpoints")
        const readModel = path.join(directory, "positions.txt")
        yield* fill(storeDirectory, 200)
        const child = spawnScript("test/projector/projectChild.ts", ["handler", storeDirectory, checkpointDirectory, readModel, "1000"])
        yield* Effect.promise(() => waitForOutput(child, "started"))
        const checkpoints = yield* checkpointsIn(checkpointDirectory)
        const refused = yield* Effect.flip(Effect.scoped(checkpoints.claim("positions@1")))
        expect(refused).toMatchObject({ _tag: "ProjectionAlreadyRunning", holderPid: child.pid })
        expect(refused.message).toContain(`is already running in process ${child.pid}`)
        child.kill("SIGKILL")
        yield* Effect.promise(() => waitForExit(child))
        yield* Effect.scoped(checkpoints.claim("positions@1"))
      })
    ))

  it.live("SIGKILL mid-way, then restart, several times: no event lost, at most one applied twice per kill", () =>
    withDirectory((directory) =>
      Effect.gen(function*() {
        const events = 300
        const storeDirectory = path.join(directory, "store")
        const checkpointDirectory = path.join(directory, "checkpoints")
        const readModel = path.join(directory, "positions.txt")
        yield* fill(storeDirectory, events)
        const lines = () => fs.existsSync(readModel) ? fs.readFileSync(readModel, "utf8").split("\n").filter((line) => line !== "") : []
        let kills = 0
        // What each child printed, to tell a failure's story.
        const outputs: Array<string> = []
        for (let round = 0; round < 4; round++) {
          const child = spawnScript("test/projector/projectChild.ts", ["handler", storeDirectory, checkpointDirectory, readModel, "2"])
          outputs.push(yield* Effect.promise(() => waitForOutput(child, "started")))
          const before = lines().length
          // Let it apply a few more events, at a moment that varies, then kill it.
          yield* Effect.sleep(`${30 + Math.floor(Math.random() * 120)} millis`)
          child.kill("SIGKILL")
          yield* Effect.promise(() => waitForExit(child))
          if (lines().length > before) kills++
        }
        const last = spawnScript("test/projector/projectChild.ts", ["handler", storeDirectory, checkpointDirectory, readModel, "0"])
        outputs.push(yield* Effect.promise(() => waitForOutput(last, "done")))
        expect(yield* Effect.promise(() => waitForExit(last))).toBe(0)

        const applied = lines().map(Number)
        const distinct = [...new Set(applied)].sort((a, b) => a - b)
        const saved = yield* checkpointsIn(checkpointDirectory).pipe(Effect.flatMap((checkpoints) => checkpoints.load("positions@1")))
        expect(distinct, `children printed ${JSON.stringify(outputs)}; the checkpoint is ${JSON.stringify(saved)}`).toEqual(
          Array.from({ length: events }, (_, index) => index + 1)
        )
        // Every repeat is the event right before a restart: the one applied but not yet checkpointed.
        const repeats = applied.filter((position, index) => index > 0 && position <= (applied[index - 1] ?? 0))
        expect(repeats.length).toBeLessThanOrEqual(4)
        for (const [index, position] of applied.entries()) {
          if (index > 0) expect(position - (applied[index - 1] ?? 0)).toBeGreaterThanOrEqual(0)
          if (index > 0) expect(position - (applied[index - 1] ?? 0)).toBeLessThanOrEqual(1)
        }
        expect(kills).toBeGreaterThan(0)
      })
    ), 120_000)

  it.live("a view killed mid-way and restarted, several times, applies every event exactly once", () =>
    withDirectory((directory) =>
      Effect.gen(function*() {
        const events = 300
        const storeDirectory = path.join(directory, "store")
        const checkpointDirectory = path.join(directory, "checkpoints")
        yield* fill(storeDirectory, events)
        const args = ["view", storeDirectory, checkpointDirectory, "-", "0"]
        const checkpoints = yield* checkpointsIn(checkpointDirectory)
        let interrupted = 0
        for (let round = 0; round < 4; round++) {
          const child = spawnScript("test/projector/projectChild.ts", args)
          yield* Effect.promise(() => waitForOutput(child, "started"))
          yield* Effect.sleep(`${20 + Math.floor(Math.random() * 100)} millis`)
          child.kill("SIGKILL")
          yield* Effect.promise(() => waitForExit(child))
          const saved = yield* checkpoints.load("totals@1")
          // Whatever moment the kill hit, the saved state is exactly the events up to its checkpoint.
          if (saved !== undefined) expect(saved.state).toEqual(saved.position === 0 ? {} : { "counter-a": saved.position })
          if (saved !== undefined && saved.position < events) interrupted++
        }
        const last = spawnScript("test/projector/projectChild.ts", args)
        const output = yield* Effect.promise(() => waitForOutput(last, "done"))
        expect(output).toContain(`done {"counter-a":${events}}`)
        expect(yield* Effect.promise(() => waitForExit(last))).toBe(0)
        expect(interrupted).toBeGreaterThan(0)
      })
    ), 120_000)

  it.live("two processes started at once on one projection: exactly one runs, the other is refused", () =>
    withDirectory((directory) =>
      Effect.gen(function*() {
        const storeDirectory = path.join(directory, "store")
        const checkpointDirectory = path.join(directory, "checkpoints")
        yield* fill(storeDirectory, 10)
        // Two store directories would be two stores: each child opens its own copy of the log.
        fs.cpSync(storeDirectory, `${storeDirectory}-copy`, { recursive: true })
        const readModel = path.join(directory, "positions.txt")
        const children = [storeDirectory, `${storeDirectory}-copy`].map((store) =>
          spawnScript("test/projector/projectChild.ts", ["handler", store, checkpointDirectory, readModel, "500"])
        )
        const outputs = yield* Effect.promise(() => Promise.all(children.map((child) => waitForOutput(child, "\n"))))
        expect(outputs.map((output) => output.trim()).sort()).toEqual(["refused", "started"])
        for (const child of children) child.kill("SIGKILL")
        yield* Effect.promise(() => Promise.all(children.map(waitForExit)))
      })
    ), 60_000)
})
