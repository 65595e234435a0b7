import * as fs from "node:fs"
import * as path from "node:path"
import { Effect, Exit, Layer, Stream } from "effect"
import { TestClock } from "effect/testing"
import { describe, expect, it } from "vitest"
import { EventStore } from "../src/EventStore.js"
import type { NewEvent } from "../src/EventStore.js"
import * as EventStoreFile from "../src/EventStoreFile.js"
import { decodeIdx, encodeIdx } from "../src/internal/file/indexFile.js"
import { nodeIo } from "../src/internal/file/io.js"
import { layerWithIo } from "../src/internal/file/layer.js"
import type { FileIo } from "../src/internal/file/io.js"
import * as StoreConformance from "../src/testing/StoreConformance.js"
import { directoriesPerTest, spawnScript, waitForExit, waitForOutput } from "./file/helpers.js"

const freshDirectory = directoriesPerTest()

StoreConformance.register({ describe, it }, "file", () => EventStoreFile.layer({ directory: freshDirectory() }), { numRuns: 50 })
StoreConformance.register(
  { describe, it },
  "file, small segments",
  () => EventStoreFile.layer({ directory: freshDirectory(), segmentSize: 512 }),
  { numRuns: 50 }
)

type StoreLayer = Layer.Layer<EventStore, unknown>

const run = <A, E>(layer: StoreLayer, program: Effect.Effect<A, E, EventStore>): Promise<A> =>
  Effect.runPromise(Effect.provide(program, Layer.fresh(layer)))

const runExit = <A, E>(layer: StoreLayer, program: Effect.Effect<A, E, EventStore>) =>
  Effect.runPromise(Effect.exit(Effect.provide(program, Layer.fresh(layer))))

const event = (type: string, data: unknown, eventId?: string): NewEvent =>
  eventId === undefined ? { type, data } : { type, data, eventId }

const appendBatches = (count: number, streamId = "order-1") =>
  Effect.gen(function*() {
    const store = yield* EventStore
    for (let index = 0; index < count; index++) {
      yield* store.append(streamId, [event("Added", { index }, `${streamId}-e${index}`)], index)
    }
  })

const readAllTypes = Effect.gen(function*() {
  const store = yield* EventStore
  const events = yield* Stream.runCollect(store.readAll())
  return events.map((recorded) => `${recorded.streamId}@${recorded.version}`)
})

const segmentFiles = (directory: string): Array<string> =>
  fs.readdirSync(directory).filter((name) => name.startsWith("segment-") && name.endsWith(".log")).sort()

const lastSegment = (directory: string): string => path.join(directory, segmentFiles(directory).at(-1) ?? "missing")

const failureOf = <A, E>(exit: Exit.Exit<A, E>): unknown =>
  Exit.isFailure(exit) ? exit.cause.reasons.map((reason) => reason._tag === "Fail" ? reason.error : reason)[0] : undefined

describe("EventStoreFile", () => {
  describe("durability", () => {
    it("keeps appended events across a close and reopen", async () => {
      const directory = freshDirectory()
      const layer = EventStoreFile.layer({ directory })
      await run(layer, appendBatches(3))
      const events = await run(layer, Effect.gen(function*() {
        const store = yield* EventStore
        return {
          all: yield* Stream.runCollect(store.readAll()),
          version: yield* store.streamVersion("order-1")
        }
      }))
      expect(events.version).toBe(3)
      expect(events.all.map((recorded) => [recorded.eventId, recorded.version, recorded.position, recorded.data])).toEqual([
        ["order-1-e0", 1, 1, { index: 0 }],
        ["order-1-e1", 2, 2, { index: 1 }],
        ["order-1-e2", 3, 3, { index: 2 }]
      ])
    })

    it("treats a retry of durable events after reopen as idempotent, and a partial overlap as a conflict", async () => {
      const directory = freshDirectory()
      const layer = EventStoreFile.layer({ directory })
      await run(layer, Effect.gen(function*() {
        const store = yield* EventStore
        yield* store.append("order-1", [event("A", 1, "a"), event("B", 2, "b")], "noStream")
      }))
      const outcome = await run(layer, Effect.gen(function*() {
        const store = yield* EventStore
        const retried = yield* store.append("order-1", [event("A", 1, "a"), event("B", 2, "b")], "noStream")
        const overlap = yield* Effect.flip(store.append("order-1", [event("B", 2, "b"), event("C", 3, "c")], 2))
        const version = yield* store.streamVersion("order-1")
        return { retried, overlap: overlap._tag, version }
      }))
      expect(outcome).toEqual({
        retried: { streamId: "order-1", nextExpectedVersion: 2, position: 2 },
        overlap: "EventIdConflict",
        version: 2
      })
    })

    it("rolls to a new segment past segmentSize and reads across segments in order", async () => {
      const directory = freshDirectory()
      const layer = EventStoreFile.layer({ directory, segmentSize: 300 })
      await run(layer, appendBatches(20))
      expect(segmentFiles(directory).length).toBeGreaterThan(3)
      const reopened = await run(layer, Effect.gen(function*() {
        const store = yield* EventStore
        const forward = yield* Stream.runCollect(store.readStream("order-1", { from: 5, limit: 3 }))
        const backward = yield* Stream.runCollect(store.readStream("order-1", { direction: "backward", limit: 2 }))
        const tail = yield* Stream.runCollect(store.readAll({ from: 18 }))
        return { forward: forward.map((e) => e.version), backward: backward.map((e) => e.version), tail: tail.map((e) => e.position) }
      }))
      expect(reopened).toEqual({ forward: [5, 6, 7], backward: [20, 19], tail: [19, 20] })
      expect(await Effect.runPromise(EventStoreFile.verify(directory))).toMatchObject({ _tag: "Intact", events: 20 })
    })

    it("stamps recordedAt from Effect's Clock, so a TestClock decides it", async () => {
      const directory = freshDirectory()
      const recorded = await Effect.runPromise(Effect.provide(
        Effect.gen(function*() {
          yield* TestClock.setTime(Date.UTC(2030, 0, 2, 3, 4, 5))
          const store = yield* EventStore
          yield* store.append("order-1", [event("Added", 1)])
          const events = yield* Stream.runCollect(store.readAll())
          return events.map((event) => event.recordedAt.toISOString())
        }),
        Layer.merge(Layer.fresh(EventStoreFile.layer({ directory })), TestClock.layer())
      ))
      expect(recorded).toEqual(["2030-01-02T03:04:05.000Z"])
    })

    it("never records a time before the last one, when the clock steps back and across a reopen", async () => {
      const directory = freshDirectory()
      const appendAt = (time: number, streamId: string) =>
        Effect.runPromise(Effect.provide(
          Effect.gen(function*() {
            yield* TestClock.setTime(time)
            const store = yield* EventStore
            yield* store.append(streamId, [event("Added", 1)])
            yield* TestClock.setTime(time - 3_600_000)
            yield* store.append(streamId, [event("Added", 2)])
          }),
          Layer.merge(Layer.fresh(EventStoreFile.layer({ directory })), TestClock.layer())
        ))
      await appendAt(Date.UTC(2030, 0, 2), "order-1")
      // Reopened with a clock an hour behind the last record.
      await appendAt(Date.UTC(2030, 0, 1, 23), "order-2")
      const recorded = await run(EventStoreFile.layer({ directory }), EventStore.use((store) => Stream.runCollect(store.readAll())))
      expect(recorded.map((e) => e.recordedAt.toISOString())).toEqual(Array(4).fill("2030-01-02T00:00:00.000Z"))
    })

    // With synced writes (O_DSYNC) each write is a sync; without, each write is followed by one.
    it.each([
      ["one synced write", true],
      ["one write and one datasync", false]
    ])("shares %s among concurrent appends (group commit)", async (_, synced) => {
      const directory = freshDirectory()
      const calls = { writes: 0, syncs: 0 }
      const counting: FileIo = {
        ...nodeIo,
        openSynced: synced ? nodeIo.openSynced : undefined,
        writev: (handle, buffers, position) => (calls.writes++, nodeIo.writev(handle, buffers, position)),
        datasync: (handle) => (calls.syncs++, nodeIo.datasync(handle))
      }
      const results = await run(
        layerWithIo({ directory }, counting),
        Effect.gen(function*() {
          const store = yield* EventStore
          return yield* Effect.all(
            Array.from({ length: 200 }, (_, index) => store.append(`order-${index % 10}`, [event("Added", index)])),
            { concurrency: "unbounded" }
          )
        })
      )
      expect(results).toHaveLength(200)
      expect(new Set(results.map((result) => result.position)).size).toBe(200)
      expect(calls.writes).toBeGreaterThan(0)
      expect(calls.writes).toBeLessThan(20)
      expect(calls.syncs).toBe(synced ? 0 : calls.writes)
    })
  })

  describe("recovery", () => {
    it("truncates a torn last record on open and keeps every complete one", async () => {
      const directory = freshDirectory()
      const layer = EventStoreFile.layer({ directory })
      await run(layer, appendBatches(3))
      const file = lastSegment(directory)
      const size = fs.statSync(file).size
      fs.truncateSync(file, size - 5)
      expect(await Effect.runPromise(EventStoreFile.verify(directory))).toMatchObject({ _tag: "TornTail" })
      expect(await run(layer, readAllTypes)).toEqual(["order-1@1", "order-1@2"])
      expect(await Effect.runPromise(EventStoreFile.verify(directory))).toMatchObject({ _tag: "Intact", events: 2 })
      // The store continues after the repaired tail.
      await run(layer, Effect.gen(function*() {
        const store = yield* EventStore
        yield* store.append("order-1", [event("Added", "again")], 2)
      }))
      expect(await run(layer, readAllTypes)).toEqual(["order-1@1", "order-1@2", "order-1@3"])
    })

    it("truncates garbage after the last complete record on open", async () => {
      const directory = freshDirectory()
      const layer = EventStoreFile.layer({ directory })
      await run(layer, appendBatches(2))
      const file = lastSegment(directory)
      const size = fs.statSync(file).size
      fs.appendFileSync(file, Buffer.from([0, 0, 0, 0, 0, 0, 0, 0, 0xde, 0xad, 0xbe, 0xef, 1, 2, 3]))
      expect(await run(layer, readAllTypes)).toEqual(["order-1@1", "order-1@2"])
      expect(fs.statSync(file).size).toBe(size)
    })

    it("refuses to open a log with a bad record followed by good ones, naming segment and offset", async () => {
      const directory = freshDirectory()
      const layer = EventStoreFile.layer({ directory })
      await run(layer, appendBatches(3))
      const file = lastSegment(directory)
      const bytes = fs.readFileSync(file)
      const secondRecord = 8 + bytes.readUInt32LE(0)
      bytes[secondRecord + 40] = (bytes[secondRecord + 40] ?? 0) ^ 0xff
      fs.writeFileSync(file, bytes)

      const failure = failureOf(await runExit(layer, readAllTypes))
      expect(failure).toBeInstanceOf(EventStoreFile.FileStoreCorrupt)
      expect(failure).toMatchObject({ segment: path.basename(file), offset: secondRecord })
      expect(await Effect.runPromise(EventStoreFile.verify(directory))).toMatchObject({
        _tag: "Corrupt",
        segment: path.basename(file),
        offset: secondRecord
      })
      // Nothing was cut: the corrupt store is left for a human to inspect.
      expect(fs.statSync(file).size).toBe(bytes.length)
    })

    it("treats a bad record in an older segment as corruption, not a torn tail", async () => {
      const directory = freshDirectory()
      const layer = EventStoreFile.layer({ directory, segmentSize: 200 })
      await run(layer, appendBatches(6))
      const first = path.join(directory, segmentFiles(directory)[0] ?? "missing")
      fs.truncateSync(first, fs.statSync(first).size - 3)
      const failure = failureOf(await runExit(layer, readAllTypes))
      expect(failure).toMatchObject({ _tag: "FileStoreCorrupt", segment: path.basename(first) })
    })
  })

  describe("segment index files", () => {
    const idxFiles = (directory: string): Array<string> =>
      fs.readdirSync(directory).filter((name) => name.endsWith(".idx")).sort()
    const idxOf = (directory: string, log: string): string => path.join(directory, log.replace(/\.log$/, ".idx"))
    const allEvents = Effect.gen(function*() {
      const store = yield* EventStore
      const events = yield* Stream.runCollect(store.readAll())
      return events.map((recorded) => [recorded.eventId, recorded.streamId, recorded.version, recorded.position])
    })

    it("writes an index for every sealed segment, and opens and reads through them", async () => {
      const directory = freshDirectory()
      const layer = EventStoreFile.layer({ directory, segmentSize: 300 })
      await run(layer, appendBatches(20))
      const logs = segmentFiles(directory)
      expect(idxFiles(directory)).toEqual(logs.slice(0, -1).map((log) => log.replace(/\.log$/, ".idx")))
      const reopened = await run(layer, Effect.gen(function*() {
        const store = yield* EventStore
        const retried = yield* store.append("order-1", [event("Added", { index: 3 }, "order-1-e3")], 3)
        const all = yield* allEvents
        return { retried, all }
      }))
      // The retry of an event in a sealed segment was found through the index's id hashes.
      expect(reopened.retried).toEqual({ streamId: "order-1", nextExpectedVersion: 4, position: 4 })
      expect(reopened.all.map(([, , version]) => version)).toEqual(Array.from({ length: 20 }, (_, index) => index + 1))
      expect(await Effect.runPromise(EventStoreFile.verify(directory))).toMatchObject({ _tag: "Intact", events: 20 })
    })

    it("rebuilds a missing or torn index file from its segment, byte for byte", async () => {
      const directory = freshDirectory()
      const layer = EventStoreFile.layer({ directory, segmentSize: 300 })
      await run(layer, Effect.all([appendBatches(12, "order-1"), appendBatches(12, "order-2")]))
      const expected = await run(layer, allEvents)
      const [first, second] = idxFiles(directory)
      if (first === undefined || second === undefined) throw new Error("expected two index files")
      const originals = new Map(idxFiles(directory).map((name) => [name, fs.readFileSync(path.join(directory, name))]))
      fs.rmSync(path.join(directory, first))
      const torn = originals.get(second) ?? Buffer.alloc(0)
      fs.writeFileSync(path.join(directory, second), torn.subarray(0, torn.length - 7))
      expect(await run(layer, allEvents)).toEqual(expected)
      for (const [name, bytes] of originals) expect(fs.readFileSync(path.join(directory, name))).toEqual(bytes)
    })

    it("falls back to scanning a segment whose index does not match it, and verify reports the mismatch", async () => {
      const directory = freshDirectory()
      const layer = EventStoreFile.layer({ directory, segmentSize: 300 })
      await run(layer, appendBatches(12))
      const expected = await run(layer, allEvents)
      const log = segmentFiles(directory)[1] ?? "missing"
      // A well-formed index with one event id hash changed: open's spot check passes it,
      // so only verify's full comparison can tell.
      const idx = decodeIdx(fs.readFileSync(idxOf(directory, log)))
      if (typeof idx === "string") throw new Error(idx)
      const hashes = idx.hashes.slice()
      hashes[0] = (hashes[0] ?? 0) ^ 1
      fs.writeFileSync(idxOf(directory, log), encodeIdx({ ...idx, hashes }))
      expect(await Effect.runPromise(EventStoreFile.verify(directory))).toMatchObject({
        _tag: "Corrupt",
        segment: log.replace(/\.log$/, ".idx"),
        offset: 0
      })
      // An index of another size than its log: open does not trust it and rescans.
      const other = idxOf(directory, segmentFiles(directory)[2] ?? "missing")
      fs.copyFileSync(other, idxOf(directory, log))
      expect(await run(layer, allEvents)).toEqual(expected)
      expect(await Effect.runPromise(EventStoreFile.verify(directory))).toMatchObject({ _tag: "Intact", events: 12 })
    })

    it("fails a read of a damaged record in an indexed segment with its segment and offset, and verify finds it", async () => {
      const directory = freshDirectory()
      const layer = EventStoreFile.layer({ directory, segmentSize: 300 })
      await run(layer, appendBatches(12))
      const log = segmentFiles(directory)[0] ?? "missing"
      const file = path.join(directory, log)
      const bytes = fs.readFileSync(file)
      const second = 8 + bytes.readUInt32LE(0)
      bytes[second + 60] = (bytes[second + 60] ?? 0) ^ 0xff
      fs.writeFileSync(file, bytes)
      const failure = failureOf(await runExit(layer, readAllTypes))
      expect(failure).toMatchObject({ _tag: "StorageError" })
      expect(String(Reflect.get(Object(failure), "reason"))).toContain(`${log} at byte ${second}: CRC mismatch`)
      expect(await Effect.runPromise(EventStoreFile.verify(directory))).toMatchObject({ _tag: "Corrupt", segment: log, offset: second })
    })
  })

  describe("failures", () => {
    // The sync that fails: the fdatasync after a write, or the synced (O_DSYNC) write itself.
    const failingOnce = (what: "datasync" | "synced write") => {
      const state = { failNext: false }
      const injected = () => {
        state.failNext = false
        return Promise.reject(new Error(`EIO: injected ${what} failure`))
      }
      const io: FileIo = what === "datasync"
        ? { ...nodeIo, openSynced: undefined, datasync: (handle) => state.failNext ? injected() : nodeIo.datasync(handle) }
        : { ...nodeIo, writev: (handle, buffers, position) => state.failNext ? injected() : nodeIo.writev(handle, buffers, position) }
      return { state, io }
    }

    it.each(["datasync", "synced write"] as const)("fails the append whose %s failed and every later append, even once it works again", async (what) => {
      const directory = freshDirectory()
      const { state, io } = failingOnce(what)
      const outcome = await run(layerWithIo({ directory }, io), Effect.gen(function*() {
        const store = yield* EventStore
        yield* store.append("order-1", [event("Added", 1)])
        state.failNext = true
        const failed = yield* Effect.flip(store.append("order-1", [event("Added", 2)]))
        const later = yield* Effect.flip(store.append("order-2", [event("Added", 3)]))
        const version = yield* store.streamVersion("order-1")
        const visible = yield* Stream.runCollect(store.readAll())
        return { failed: [failed._tag, failed.message], later: later._tag, version, visible: visible.length }
      }))
      expect(outcome).toEqual({
        failed: ["StorageError", expect.stringContaining(`EIO: injected ${what} failure`)],
        later: "StorageError",
        version: 1,
        visible: 1
      })
    })

    it("rejects an invalid append with nothing written", async () => {
      const directory = freshDirectory()
      const layer = EventStoreFile.layer({ directory })
      const outcome = await run(layer, Effect.gen(function*() {
        const store = yield* EventStore
        const notJson = yield* Effect.flip(store.append("order-1", [event("Added", { at: new Date() })]))
        const empty = yield* Effect.flip(store.append("order-1", []))
        return [notJson._tag, empty._tag]
      }))
      expect(outcome).toEqual(["InvalidAppend", "InvalidAppend"])
      expect(fs.statSync(lastSegment(directory)).size).toBe(0)
    })
  })

  describe("lock", () => {
    it("refuses a second store on the same directory in the same process", async () => {
      const directory = freshDirectory()
      const layer = EventStoreFile.layer({ directory })
      const failure = await run(layer, Effect.gen(function*() {
        return failureOf(yield* Effect.exit(Effect.provide(readAllTypes, Layer.fresh(layer))))
      }))
      expect(failure).toMatchObject({ _tag: "FileStoreLocked", holderPid: process.pid })
    })

    it("refuses a writer while another live process holds the store, naming its pid", async () => {
      const directory = freshDirectory()
      const child = spawnScript("test/file/holdStore.ts", [directory])
      try {
        await waitForOutput(child, "ready")
        const failure = failureOf(await runExit(EventStoreFile.layer({ directory }), readAllTypes))
        expect(failure).toBeInstanceOf(EventStoreFile.FileStoreLocked)
        expect(failure).toMatchObject({ holderPid: child.pid })
      } finally {
        child.stdin?.end()
        await waitForExit(child)
      }
      // Once the holder closed the store, the lock is free again.
      expect(await run(EventStoreFile.layer({ directory }), readAllTypes)).toEqual([])
    })

    it("reclaims a lock left behind by a process that died", async () => {
      const directory = freshDirectory()
      const child = spawnScript("test/file/holdStore.ts", [directory])
      await waitForOutput(child, "ready")
      child.kill("SIGKILL")
      await waitForExit(child)
      expect(fs.readdirSync(directory).filter((name) => name.startsWith("LOCK"))).toEqual([
        expect.stringMatching(new RegExp(`^LOCK\\.${child.pid}\\.`))
      ])
      expect(await run(EventStoreFile.layer({ directory }), readAllTypes)).toEqual([])
    })

    it("releases the lock when the layer's scope closes", async () => {
      const directory = freshDirectory()
      await run(EventStoreFile.layer({ directory }), readAllTypes)
      expect(fs.readdirSync(directory).filter((name) => name.startsWith("LOCK"))).toEqual([])
    })
  })
})
