/**
 * The zeros a durable writer lays down ahead of its records (`writer.ts`): what the
 * directory holds while it writes, after it closes, after it is killed, on a full disk,
 * and what readers and `verify` make of them.
 */
import * as fs from "node:fs"
import * as path from "node:path"
import { Context, Effect, Layer, Stream } from "effect"
import type { Scope } from "effect"
import { describe, expect, it } from "vitest"
import { EventStore } from "../../src/EventStore.js"
import * as EventStoreFile from "../../src/EventStoreFile.js"
import type { FileIo } from "../../src/internal/file/io.js"
import { nodeIo } from "../../src/internal/file/io.js"
import { layerWithIo } from "../../src/internal/file/layer.js"
import type { OpenReport } from "../../src/internal/file/recovery.js"
import { segmentName } from "../../src/internal/file/segments.js"
import { reserveBytes } from "../../src/internal/file/writer.js"
import { directoriesPerTest, spawnScript, waitForExit, waitForOutput } from "./helpers.js"

const freshDirectory = directoriesPerTest()

const open = <E>(layer: Layer.Layer<EventStore, E>) => Effect.map(Layer.build(layer), (context) => Context.get(context, EventStore))

const scoped = <A, E>(program: Effect.Effect<A, E, Scope.Scope>) => Effect.runPromise(Effect.scoped(program))

const appendMany = (store: EventStore["Service"], count: number, from = 0) =>
  Effect.forEach(Array.from({ length: count }, (_, index) => from + index), (index) =>
    store.append(`order-${index % 7}`, [{ type: "Added", data: { index, note: "é€😀" } }]), { discard: true })

const indexesOf = (store: EventStore["Service"]) =>
  Effect.map(Stream.runCollect(store.readAll()), (events) => events.map((event) => Number(Reflect.get(Object(event.data), "index"))))

const range = (count: number) => Array.from({ length: count }, (_, index) => index)

const segmentFile = (directory: string, segment = 1) => path.join(directory, segmentName(segment))

const reopen = async (directory: string) => {
  const reports: Array<OpenReport> = []
  const indexes = await scoped(Effect.flatMap(open(layerWithIo({ directory }, nodeIo, (report) => reports.push(report))), indexesOf))
  return { indexes, report: reports[0] }
}

describe("the space a durable writer lays down ahead", () => {
  it("is zeros past the records while the store is open, and gone once it is closed", async () => {
    const directory = freshDirectory()
    const sizes = await scoped(Effect.gen(function*() {
      const store = yield* open(EventStoreFile.layer({ directory }))
      yield* appendMany(store, 50)
      const bytes = fs.readFileSync(segmentFile(directory))
      return { size: bytes.length, zerosAtEnd: bytes.subarray(bytes.length - 1024).every((byte) => byte === 0) }
    }))
    expect(sizes).toEqual({ size: reserveBytes, zerosAtEnd: true })
    const closed = fs.statSync(segmentFile(directory)).size
    expect(closed).toBeGreaterThan(0)
    expect(closed).toBeLessThan(reserveBytes)
    expect(await Effect.runPromise(EventStoreFile.verify(directory))).toMatchObject({ _tag: "Intact", events: 50 })
  })

  it("is not laid down without durable syncs", async () => {
    const directory = freshDirectory()
    const size = await scoped(Effect.gen(function*() {
      yield* appendMany(yield* open(EventStoreFile.layer({ directory, sync: "none" })), 50)
      return fs.statSync(segmentFile(directory)).size
    }))
    expect(size).toBeLessThan(reserveBytes)
    expect(fs.statSync(segmentFile(directory)).size).toBe(size)
  })

  it("left by a writer killed with SIGKILL is intact to verify, and cut unreported on open, with every acknowledged event kept", async () => {
    const directory = freshDirectory()
    const child = spawnScript("test/file/appendForever.ts", [directory])
    await waitForOutput(child, "ack 40")
    child.kill("SIGKILL")
    await waitForExit(child)
    const left = fs.readFileSync(segmentFile(directory))
    expect(left.length % reserveBytes).toBe(0)
    expect(left.subarray(left.length - 4096).every((byte) => byte === 0)).toBe(true)
    expect(await Effect.runPromise(EventStoreFile.verify(directory))).toMatchObject({ _tag: "Intact" })
    const reports: Array<OpenReport> = []
    const recorded = await scoped(Effect.gen(function*() {
      const store = yield* open(layerWithIo({ directory }, nodeIo, (report) => reports.push(report)))
      return (yield* Stream.runCollect(store.readAll())).length
    }))
    expect(recorded).toBeGreaterThanOrEqual(40)
    expect(reports[0]?.truncated).toBeUndefined()
    expect(fs.statSync(segmentFile(directory)).size).toBeLessThan(left.length)
  }, 30_000)

  it("cut on open leaves a store that takes appends after its old records, with nothing of the zeros read back", async () => {
    const directory = freshDirectory()
    await scoped(Effect.flatMap(open(EventStoreFile.layer({ directory })), (store) => appendMany(store, 20)))
    // What a killed writer leaves: its records, then zeros up to a whole reserve.
    fs.appendFileSync(segmentFile(directory), Buffer.alloc(reserveBytes - fs.statSync(segmentFile(directory)).size))
    const first = await reopen(directory)
    expect(first.report?.truncated).toBeUndefined()
    expect(first.indexes).toEqual(range(20))
    await scoped(Effect.flatMap(open(EventStoreFile.layer({ directory })), (store) => appendMany(store, 20, 20)))
    expect((await reopen(directory)).indexes).toEqual(range(40))
  })

  it("is not taken for unwritten space when anything but zeros follows: that tail is torn, and reported", async () => {
    const directory = freshDirectory()
    await scoped(Effect.flatMap(open(EventStoreFile.layer({ directory })), (store) => appendMany(store, 20)))
    const records = fs.statSync(segmentFile(directory)).size
    const tail = Buffer.alloc(reserveBytes - records)
    tail[tail.length - 1] = 1
    fs.appendFileSync(segmentFile(directory), tail)
    expect(await Effect.runPromise(EventStoreFile.verify(directory))).toMatchObject({ _tag: "TornTail", offset: records })
    const { indexes, report } = await reopen(directory)
    expect(indexes).toEqual(range(20))
    expect(report?.truncated).toEqual({ segment: segmentName(1), offset: records, bytes: tail.length })
  })

  it("is cut from every sealed segment before the next one starts: their index files match them, and opening rebuilds none", async () => {
    const directory = freshDirectory()
    const segmentSize = 64 * 1024
    await scoped(Effect.flatMap(open(EventStoreFile.layer({ directory, segmentSize })), (store) => appendMany(store, 2_000)))
    const segments = fs.readdirSync(directory).filter((name) => name.endsWith(".log")).sort()
    expect(segments.length).toBeGreaterThan(3)
    for (const name of segments) {
      const bytes = fs.readFileSync(path.join(directory, name))
      expect(bytes.length).toBeLessThanOrEqual(segmentSize + 1024)
      expect(bytes.subarray(bytes.length - 8).every((byte) => byte === 0)).toBe(false)
    }
    expect(await Effect.runPromise(EventStoreFile.verify(directory))).toMatchObject({ _tag: "Intact", events: 2_000 })
    const { indexes, report } = await reopen(directory)
    expect(indexes).toEqual(range(2_000))
    expect(report?.rebuiltIndexes).toEqual([])
  })

  it("on a disk too full for it, takes the appends whose records still fit and fails the first that does not, losing nothing acknowledged", async () => {
    const directory = freshDirectory()
    // A disk with room for a segment of 6,000 bytes: writes past that are cut short, then ENOSPC.
    const limit = 6_000
    const fullDisk: FileIo = {
      ...nodeIo,
      writev: async (handle, buffers, position) => {
        if (position >= limit) throw Object.assign(new Error("ENOSPC: no space left on device, write"), { code: "ENOSPC" })
        return nodeIo.writev(handle, [Buffer.concat(buffers).subarray(0, limit - position)], position)
      }
    }
    const outcome = await scoped(Effect.gen(function*() {
      const store = yield* open(layerWithIo({ directory }, fullDisk))
      let acknowledged = 0
      for (let index = 0; index < 1_000; index++) {
        const exit = yield* Effect.exit(store.append("order-1", [{ type: "Added", data: { index } }]))
        if (exit._tag === "Failure") return { acknowledged, failure: String(exit.cause) }
        acknowledged++
      }
      return { acknowledged, failure: "" }
    }))
    expect(outcome.acknowledged).toBeGreaterThan(20)
    expect(outcome.failure).toContain("ENOSPC")
    expect((await reopen(directory)).indexes).toEqual(range(outcome.acknowledged))
  })
})

describe("a read-only store without a writer", () => {
  it("sees records written into the zeros, though the file's size did not change", async () => {
    // The bytes of three appends, as a writer writes them.
    const source = freshDirectory()
    const ends: Array<number> = []
    await scoped(Effect.gen(function*() {
      const store = yield* open(EventStoreFile.layer({ directory: source, sync: "none" }))
      for (const index of range(3)) {
        yield* store.append("order-1", [{ type: "Added", data: { index } }])
        ends.push(fs.statSync(segmentFile(source)).size)
      }
    }))
    const records = fs.readFileSync(segmentFile(source))
    // A store whose writer wrote the first record into its reserve, then died.
    const directory = freshDirectory()
    const first = ends[0] ?? 0
    fs.writeFileSync(segmentFile(directory), Buffer.concat([records.subarray(0, first), Buffer.alloc(reserveBytes - first)]))
    await scoped(Effect.gen(function*() {
      const reader = yield* open(EventStoreFile.layerReadOnly({ directory }))
      expect(yield* indexesOf(reader)).toEqual([0])
      // Rounds that find nothing new (it looks every 100 ms), then a later writer's two
      // records, written into the zeros and left there: the size stays.
      yield* Effect.sleep("350 millis")
      const file = fs.openSync(segmentFile(directory), "r+")
      fs.writeSync(file, records.subarray(first), 0, records.length - first, first)
      fs.closeSync(file)
      expect(fs.statSync(segmentFile(directory)).size).toBe(reserveBytes)
      const followed = yield* Stream.runCollect(Stream.take(reader.subscribe({ from: 1 }), 2))
      expect(followed.map((event) => event.position)).toEqual([2, 3])
      expect(yield* indexesOf(reader)).toEqual([0, 1, 2])
    }))
  }, 20_000)
})
