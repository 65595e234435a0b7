import * as fs from "node:fs"
import * as path from "node:path"
import { Context, Effect, Exit, Fiber, Layer, Stream } from "effect"
import type { Scope } from "effect"
import { describe, expect, it } from "vitest"
import { EventStore, StorageError } from "../../src/EventStore.js"
import type { RecordedEvent } from "../../src/EventStore.js"
import * as EventStoreFile from "../../src/EventStoreFile.js"
import { layerWithIo } from "../../src/internal/file/layer.js"
import { acquireLock } from "../../src/internal/file/lock.js"
import * as StoreConformance from "../../src/testing/StoreConformance.js"
import { seededRandom } from "../crash/powerLossRounds.js"
import { SimulatedDisk } from "../crash/simulatedDisk.js"
import { directoriesPerTest } from "./helpers.js"

const freshDirectory = directoriesPerTest()

/**
 * The writer's store for appends and a read-only store on the same directory for every
 * read: each append returns once the read-only store has followed it, so the suite's
 * read cases run on what the read-only store sees.
 */
const readThroughReadOnly = (directory: string, segmentSize?: number): Layer.Layer<EventStore, unknown> =>
  Layer.effect(
    EventStore,
    Effect.gen(function*() {
      const writer = Context.get(yield* Layer.build(EventStoreFile.layer(segmentSize === undefined ? { directory } : { directory, segmentSize })), EventStore)
      const reader = Context.get(yield* Layer.build(EventStoreFile.layerReadOnly({ directory })), EventStore)
      const followed = (position: number) =>
        Stream.runDrain(Stream.take(reader.subscribe({ from: position - 1 }), 1)).pipe(Effect.orDie)
      return EventStore.of({
        append: (streamId, events, expected) =>
          Effect.tap(writer.append(streamId, events, expected), (result) => followed(result.position)),
        readStream: reader.readStream,
        readAll: reader.readAll,
        subscribe: reader.subscribe,
        streamVersion: reader.streamVersion
      })
    })
  )

StoreConformance.register({ describe, it }, "file, read through a read-only store", () => readThroughReadOnly(freshDirectory()), { numRuns: 30 })
StoreConformance.register(
  { describe, it },
  "file, small segments, read through a read-only store",
  () => readThroughReadOnly(freshDirectory(), 512),
  { numRuns: 30 }
)

const collect = <E>(stream: Stream.Stream<RecordedEvent, E>) => Stream.runCollect(stream)

const appendMany = (store: EventStore["Service"], count: number, streamId = "counter-a") =>
  Effect.forEach(Array.from({ length: count }, (_, index) => index), (index) => store.append(streamId, [{ type: "Added", data: { index } }]), {
    discard: true
  })

const scoped = <A, E>(program: Effect.Effect<A, E, Scope.Scope>) => Effect.runPromise(Effect.scoped(program))

const open = <E>(layer: Layer.Layer<EventStore, E>) => Effect.map(Layer.build(layer), (context) => Context.get(context, EventStore))

// Every file's name and bytes: what "changes nothing" is checked against.
const snapshot = (directory: string): Record<string, string> =>
  Object.fromEntries(
    fs.readdirSync(directory).filter((name) => !name.startsWith("LOCK")).sort().map((name) => [name, fs.readFileSync(path.join(directory, name)).toString("base64")])
  )

describe("EventStoreFile.layerReadOnly", () => {
  it("reads what a writer in this process appended, and follows its later appends", () =>
    scoped(Effect.gen(function*() {
      const directory = freshDirectory()
      const writer = yield* open(EventStoreFile.layer({ directory }))
      yield* appendMany(writer, 5)
      const reader = yield* open(EventStoreFile.layerReadOnly({ directory }))
      expect(yield* reader.streamVersion("counter-a")).toBe(5)
      expect((yield* collect(reader.readAll())).map((event) => event.position)).toEqual([1, 2, 3, 4, 5])
      const live = yield* Effect.forkChild(collect(Stream.take(reader.subscribe(), 12)))
      yield* appendMany(writer, 7)
      const seen = yield* Fiber.join(live)
      expect(seen.map((event) => event.position)).toEqual(Array.from({ length: 12 }, (_, index) => index + 1))
      expect(seen.map((event) => event.version)).toEqual(Array.from({ length: 12 }, (_, index) => index + 1))
    })))

  it("refuses appends with a StorageError caused by FileStoreReadOnly, saying what to do", () =>
    scoped(Effect.gen(function*() {
      const directory = freshDirectory()
      yield* Effect.scoped(Effect.flatMap(open(EventStoreFile.layer({ directory })), (writer) => appendMany(writer, 1)))
      const reader = yield* open(EventStoreFile.layerReadOnly({ directory }))
      const failure = yield* Effect.flip(reader.append("counter-a", [{ type: "Added", data: {} }]))
      expect(failure).toBeInstanceOf(StorageError)
      expect(failure.message).toContain(`event store ${directory} is open read-only`)
      expect(failure.message).toContain("EventStoreFile.layer")
      expect(failure._tag === "StorageError" && failure.cause).toBeInstanceOf(EventStoreFile.FileStoreReadOnly)
      expect(yield* reader.streamVersion("counter-a")).toBe(1)
    })))

  it("refuses a directory that does not exist, and creates nothing", async () => {
    const directory = path.join(freshDirectory(), "missing")
    const exit = await Effect.runPromise(Effect.exit(Effect.scoped(open(EventStoreFile.layerReadOnly({ directory })))))
    expect(Exit.isFailure(exit)).toBe(true)
    expect(String(Exit.isFailure(exit) ? exit.cause : "")).toContain(`no event store at ${directory}`)
    expect(fs.existsSync(directory)).toBe(false)
  })

  it("without a writer: reads the complete records, leaves a torn tail uncut, changes no file, and a writer still opens beside it", () =>
    scoped(Effect.gen(function*() {
      const directory = freshDirectory()
      yield* Effect.scoped(Effect.flatMap(open(EventStoreFile.layer({ directory, segmentSize: 300 })), (writer) => appendMany(writer, 6)))
      // A stale index file of the last segment, and a torn last record: both the writer's to repair.
      const segments = fs.readdirSync(directory).filter((name) => name.endsWith(".log")).sort()
      const last = path.join(directory, segments.at(-1) ?? "")
      fs.appendFileSync(last, Buffer.from([0x40, 0, 0, 0, 1, 2, 3]))
      const before = snapshot(directory)
      const reader = yield* open(EventStoreFile.layerReadOnly({ directory }))
      expect((yield* collect(reader.readAll())).length).toBe(6)
      expect(yield* reader.streamVersion("counter-a")).toBe(6)
      yield* Effect.sleep("300 millis")
      expect(snapshot(directory)).toEqual(before)
      expect(fs.readdirSync(directory).filter((name) => name.startsWith("LOCK"))).toEqual([])

      // A writer opens beside the reader, cuts the tail, appends: the reader follows it.
      const live = yield* Effect.forkChild(collect(Stream.take(reader.subscribe({ from: 6 }), 3)))
      const reports: Array<EventStoreFile.FileStoreOpenReport> = []
      const writer = yield* open(EventStoreFile.layer({ directory, segmentSize: 300, onOpen: (report) => reports.push(report) }))
      expect(reports[0]?.truncated?.bytes).toBe(7)
      yield* appendMany(writer, 3)
      const seen = yield* Fiber.join(live)
      expect(seen.map((event) => event.position)).toEqual([7, 8, 9])
    })))

  it("refuses to open over a bad record in a sealed segment, naming it", () =>
    scoped(Effect.gen(function*() {
      const directory = freshDirectory()
      yield* Effect.scoped(Effect.flatMap(open(EventStoreFile.layer({ directory, segmentSize: 300 })), (writer) => appendMany(writer, 6)))
      for (const name of fs.readdirSync(directory).filter((name) => name.endsWith(".idx"))) fs.rmSync(path.join(directory, name))
      const first = path.join(directory, "segment-00000001.log")
      const bytes = fs.readFileSync(first)
      bytes[bytes.length - 2] = (bytes[bytes.length - 2] ?? 0) ^ 0xff
      fs.writeFileSync(first, bytes)
      const failure = yield* Effect.flip(Effect.scoped(open(EventStoreFile.layerReadOnly({ directory }))))
      expect(failure).toBeInstanceOf(EventStoreFile.FileStoreCorrupt)
      expect(failure.message).toContain("segment-00000001.log at byte")
    })))

  it("refuses to follow a holder of the lock that never says how far its log is durable", () =>
    scoped(Effect.gen(function*() {
      const directory = freshDirectory()
      yield* Effect.scoped(Effect.flatMap(open(EventStoreFile.layer({ directory })), (writer) => appendMany(writer, 1)))
      // A lock held as a writer of a version without read-only access holds it: connections are closed at once.
      const lock = yield* Effect.acquireRelease(
        Effect.promise(() => acquireLock(directory)),
        (lock) => Effect.promise(() => lock._tag === "Acquired" ? lock.release() : Promise.resolve())
      )
      expect(lock._tag).toBe("Acquired")
      const failure = yield* Effect.flip(Effect.scoped(open(EventStoreFile.layerReadOnly({ directory }))))
      expect(failure.message).toContain(`(pid ${process.pid}, since`)
      expect(failure.message).toContain("does not tell readers how far its log is durable")
    })))

  it("never delivers an event a power loss takes back: what a reader saw before the power went is in every disk that can survive it", async () => {
    let delivered = 0
    let unsyncedDropped = 0
    for (let round = 0; round < 12; round++) {
      const random = seededRandom(round + 1)
      const directory = freshDirectory()
      // The power goes at the first sync from a random operation on: a write is waiting for it.
      const disk = new SimulatedDisk(directory, 20 + Math.floor(random() * 150), true)
      const seen: Array<string> = []
      const seenAtPowerLoss = await Effect.runPromise(Effect.scoped(Effect.gen(function*() {
        const writer = yield* open(layerWithIo({ directory, segmentSize: 2048 }, disk.io))
        const reader = yield* open(EventStoreFile.layerReadOnly({ directory }))
        yield* Effect.forkChild(Stream.runForEach(reader.subscribe(), (event) => Effect.sync(() => seen.push(`${event.position} ${event.streamId} ${event.version}`))))
        // Four appenders until the power goes (their appends then fail).
        yield* Effect.forEach(["a", "b", "c", "d"], (name) =>
          Effect.ignore(Effect.forEach(Array.from({ length: 200 }, (_, index) => index), (index) =>
            writer.append(`counter-${name}`, [{ type: "Added", data: { text: "x".repeat(index % 7 === 0 ? 900 : 20) } }]), { discard: true })), {
          concurrency: "unbounded",
          discard: true
        })
        expect(disk.hasCrashed).toBe(true)
        // What the writer told the reader before the power went has arrived by now.
        yield* Effect.sleep("150 millis")
        return [...seen]
      })))
      const after = freshDirectory()
      expect(disk.materialise(after, random).storeSurvived).toBe(true)
      const survived = await Effect.runPromise(Effect.scoped(Effect.gen(function*() {
        const store = yield* open(EventStoreFile.layer({ directory: after }))
        return (yield* Stream.runCollect(store.readAll())).map((event) => `${event.position} ${event.streamId} ${event.version}`)
      })))
      expect(survived.slice(0, seenAtPowerLoss.length), `round ${round}`).toEqual(seenAtPowerLoss)
      delivered += seenAtPowerLoss.length
      if (fs.readdirSync(directory).some((name) => name.endsWith(".log") && fs.statSync(path.join(directory, name)).size > (fs.existsSync(path.join(after, name)) ? fs.statSync(path.join(after, name)).size : 0))) {
        unsyncedDropped++
      }
    }
    expect(delivered).toBeGreaterThan(0)
    // Some rounds lost written records: a reader that read them would have failed the round.
    expect(unsyncedDropped).toBeGreaterThan(0)
  }, 120_000)
})

