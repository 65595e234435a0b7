// A read-only store in its own process, following a writer in another: the reader sees
// every acknowledged event in order, never one before it is durable, across segment
// rotations, writer restarts and a writer's SIGKILL.
import type { ChildProcess } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { Context, Effect, Layer } from "effect"
import type { Scope } from "effect"
import { describe, expect, it } from "vitest"
import { EventStore } from "../../src/EventStore.js"
import * as EventStoreFile from "../../src/EventStoreFile.js"
import { nodeIo } from "../../src/internal/file/io.js"
import type { FileIo } from "../../src/internal/file/io.js"
import { layerWithIo } from "../../src/internal/file/layer.js"
import * as Tally from "../projector/tally.js"
import { directoriesPerTest, spawnScript, waitForExit, waitForOutput } from "./helpers.js"

const freshDirectory = directoriesPerTest()

const open = <E>(layer: Layer.Layer<EventStore, E>): Effect.Effect<EventStore["Service"], E, Scope.Scope> =>
  Effect.map(Layer.build(layer), (context) => Context.get(context, EventStore))

/** The child's stdout as lines, as they come, with a callback per line. */
const linesOf = (child: ChildProcess, onLine: (line: string) => void = () => undefined): Array<string> => {
  const lines: Array<string> = []
  let pending = ""
  child.stdout?.on("data", (data: Buffer) => {
    pending += data.toString()
    const complete = pending.split("\n")
    pending = complete.pop() ?? ""
    for (const line of complete) {
      lines.push(line)
      onLine(line)
    }
  })
  return lines
}

interface Seen {
  readonly position: number
  readonly streamId: string
  readonly version: number
}

const parseEvents = (lines: ReadonlyArray<string>): Array<Seen> =>
  lines.flatMap((line) => {
    const [position, streamId, version] = line.split(" ")
    return position === undefined || streamId === undefined || version === undefined || !/^\d+$/.test(position)
      ? []
      : [{ position: Number(position), streamId, version: Number(version) }]
  })

// The reader printed every position from 1 to `last`, once each, in order, and each
// stream's versions from 1 on.
const expectEveryEventInOrder = (seen: ReadonlyArray<Seen>, last: number): void => {
  expect(seen.map((event) => event.position)).toEqual(Array.from({ length: last }, (_, index) => index + 1))
  const versions = new Map<string, number>()
  for (const event of seen) {
    expect(event.version).toBe((versions.get(event.streamId) ?? 0) + 1)
    versions.set(event.streamId, event.version)
  }
}

const startReader = async (directory: string, onLine?: (line: string) => void) => {
  const child = spawnScript("test/file/followStore.ts", [directory])
  const lines = linesOf(child, onLine)
  await waitForOutput(child, "ready")
  // Attached now: the reader may print it before the append of "Stop" returns here.
  const stopped = waitForOutput(child, "stopped")
  stopped.catch(() => undefined)
  return { child, lines, stopped }
}

const stop = (store: EventStore["Service"]) => store.append("control", [{ type: "Stop", data: {} }])

// Records appended one per writev buffer: counts the records written and those a
// completed datasync covers, with a slow sync so that written-but-unsynced records sit on
// disk for a while at every flush.
const countingIo = () => {
  const counts = { written: 0, durable: 0, unsyncedSeen: false }
  const io: FileIo = {
    ...nodeIo,
    // Writes then syncs, so that written-but-unsynced records exist (synced writes leave none).
    openSynced: undefined,
    writev: async (handle, buffers, position) => {
      const written = await nodeIo.writev(handle, buffers, position)
      if (written !== buffers.reduce((sum, buffer) => sum + buffer.length, 0)) throw new Error("a short write: the count would be off")
      counts.written += buffers.length
      return written
    },
    datasync: async (handle) => {
      const covered = counts.written
      await new Promise((resolve) => setTimeout(resolve, 15))
      await nodeIo.datasync(handle)
      counts.durable = Math.max(counts.durable, covered)
    }
  }
  return { counts, io }
}

describe("a read-only store in another process", () => {
  it("sees every event the writer appends, in order, and none before its sync completed", async () => {
    const directory = freshDirectory()
    const { counts, io } = countingIo()
    let ahead: Array<number> = []
    await Effect.runPromise(Effect.scoped(Effect.gen(function*() {
      const writer = yield* open(layerWithIo({ directory }, io))
      yield* writer.append("first", [{ type: "Added", data: {} }])
      const { child, lines, stopped } = yield* Effect.promise(() =>
        startReader(directory, (line) => {
          const position = Number(line.split(" ")[0])
          if (position > counts.durable) ahead = [...ahead, position]
          if (counts.written > counts.durable) counts.unsyncedSeen = true
        })
      )
      // Four writers at once: group commits of several records, each synced slowly.
      yield* Effect.forEach(["a", "b", "c", "d"], (name) =>
        Effect.forEach(Array.from({ length: 60 }, (_, index) => index), (index) => writer.append(`counter-${name}`, [{ type: "Added", data: { index } }]), {
          discard: true
        }), { concurrency: "unbounded", discard: true })
      yield* stop(writer)
      yield* Effect.promise(() => stopped)
      expect(yield* Effect.promise(() => waitForExit(child))).toBe(0)
      expectEveryEventInOrder(parseEvents(lines), 242)
    })))
    expect(ahead).toEqual([])
    expect(counts.unsyncedSeen).toBe(true)
  }, 60_000)

  it("follows across segment rotations and writer restarts, with and without a writer open", async () => {
    const directory = freshDirectory()
    const segmentSize = 1024
    const appendRound = (round: number, last: boolean) =>
      Effect.scoped(Effect.gen(function*() {
        const writer = yield* open(EventStoreFile.layer({ directory, segmentSize }))
        for (let index = 0; index < 40; index++) yield* writer.append(`counter-${index % 3}`, [{ type: "Added", data: { round, index } }])
        if (last) yield* stop(writer)
      }))
    await Effect.runPromise(appendRound(0, false))
    const { child, lines, stopped } = await startReader(directory)
    for (let round = 1; round < 5; round++) {
      // Long enough for the reader to be on its own between two writers.
      await new Promise((resolve) => setTimeout(resolve, 150))
      await Effect.runPromise(appendRound(round, round === 4))
    }
    await stopped
    expect(await waitForExit(child)).toBe(0)
    expectEveryEventInOrder(parseEvents(lines), 201)
  }, 60_000)

  it("a writer killed with SIGKILL while a reader follows: the reader has every acknowledged event, then follows the next writer", async () => {
    const directory = freshDirectory()
    const segmentSize = 2048
    await Effect.runPromise(Effect.scoped(Effect.flatMap(open(EventStoreFile.layer({ directory })), (writer) => writer.append("first", [{ type: "Added", data: {} }]))))
    const { child: reader, lines, stopped } = await startReader(directory)
    const writerChild = spawnScript("test/file/appendForever.ts", [directory, String(segmentSize)])
    const acks: Array<number> = []
    linesOf(writerChild, (line) => line.startsWith("ack ") && acks.push(Number(line.slice(4))))
    await waitForOutput(writerChild, "ack 150")
    writerChild.kill("SIGKILL")
    await waitForExit(writerChild)
    const acknowledged = Math.max(...acks)
    expect(acknowledged).toBeGreaterThanOrEqual(150)
    // Everything acknowledged reaches the reader with no writer alive.
    await expect.poll(() => parseEvents(lines).at(-1)?.position ?? 0, { timeout: 10_000 }).toBeGreaterThanOrEqual(acknowledged)
    const last = await Effect.runPromise(Effect.scoped(Effect.gen(function*() {
      const writer = yield* open(EventStoreFile.layer({ directory, segmentSize }))
      for (let index = 0; index < 20; index++) yield* writer.append("after", [{ type: "Added", data: { index } }])
      return (yield* stop(writer)).position
    })))
    await stopped
    expect(await waitForExit(reader)).toBe(0)
    const seen = parseEvents(lines)
    expectEveryEventInOrder(seen, last)
    expect(seen.filter((event) => event.streamId === "after").length).toBe(20)
  }, 60_000)

  it("a projection in its own process over a read-only store, SIGKILLed and restarted while the writer appends: no event lost, at most one applied twice per kill", async () => {
    const directory = freshDirectory()
    const storeDirectory = path.join(directory, "store")
    const checkpointDirectory = path.join(directory, "checkpoints")
    const readModel = path.join(directory, "positions.txt")
    const lines = () => fs.existsSync(readModel) ? fs.readFileSync(readModel, "utf8").split("\n").filter((line) => line !== "") : []
    const project = (pause: string) =>
      spawnScript("test/projector/projectChild.ts", ["handler", storeDirectory, checkpointDirectory, readModel, pause, "readonly"])
    const outputs: Array<string> = []
    let kills = 0
    await Effect.runPromise(Effect.scoped(Effect.gen(function*() {
      const writer = yield* open(EventStoreFile.layer({ directory: storeDirectory, segmentSize: 4096 }))
      const fill = (events: number) => writer.append("counter-a", Array.from({ length: events }, () => Tally.added(1)))
      yield* fill(100)
      for (let round = 0; round < 4; round++) {
        const child = project("2")
        outputs.push(yield* Effect.promise(() => waitForOutput(child, "started")))
        const before = lines().length
        // The writer goes on appending while the projection runs; the kill comes at a moment that varies.
        yield* fill(50)
        yield* Effect.sleep(`${30 + Math.floor(Math.random() * 120)} millis`)
        child.kill("SIGKILL")
        yield* Effect.promise(() => waitForExit(child))
        if (lines().length > before) kills++
      }
      const last = project("0")
      outputs.push(yield* Effect.promise(() => waitForOutput(last, "done")))
      expect(yield* Effect.promise(() => waitForExit(last))).toBe(0)
    })))
    const applied = lines().map(Number)
    expect([...new Set(applied)].sort((a, b) => a - b), `children printed ${JSON.stringify(outputs)}`).toEqual(
      Array.from({ length: 300 }, (_, index) => index + 1)
    )
    // Every repeat is the event right before a restart: applied, not yet checkpointed.
    const steps = applied.slice(1).map((position, index) => position - (applied[index] ?? 0))
    expect(steps.every((step) => step === 0 || step === 1)).toBe(true)
    expect(steps.filter((step) => step === 0).length).toBeLessThanOrEqual(4)
    expect(kills).toBeGreaterThan(0)
  }, 120_000)
})
