import * as fs from "node:fs"
import * as path from "node:path"
import { Effect, Layer, Stream } from "effect"
import { describe, expect, it } from "vitest"
import { EventStore } from "../../src/EventStore.js"
import * as EventStoreFile from "../../src/EventStoreFile.js"
import { directoriesPerTest } from "./helpers.js"

const freshDirectory = directoriesPerTest()

const MiB = 1024 * 1024

const run = <A, E>(options: EventStoreFile.FileStoreOptions, program: Effect.Effect<A, E, EventStore>): Promise<A> =>
  Effect.runPromise(Effect.provide(program, Layer.fresh(EventStoreFile.layer(options))))

// One event whose record is about `bytes` long (the padding dominates it).
const appendSized = (streamId: string, bytes: number, label: string) =>
  Effect.gen(function*() {
    const store = yield* EventStore
    yield* store.append(streamId, [{ type: "Sized", eventId: label, data: { label, padding: "x".repeat(bytes) } }])
  })

const readBack = Effect.gen(function*() {
  const store = yield* EventStore
  const events = yield* Stream.runCollect(store.readAll())
  return events.map((event) => {
    const padding: unknown = typeof event.data === "object" && event.data !== null ? Reflect.get(event.data, "padding") : undefined
    return `${event.eventId}:${typeof padding === "string" ? padding.length : "?"}`
  })
})

const removeIdxFiles = (directory: string): void => {
  for (const name of fs.readdirSync(directory)) if (name.endsWith(".idx")) fs.rmSync(path.join(directory, name))
}

describe("EventStoreFile with records larger than a scan chunk", () => {
  it("reads back a first batch larger than 8 MiB after reopening", async () => {
    const directory = freshDirectory()
    await run({ directory }, appendSized("big-1", 9 * MiB, "a"))
    expect(await run({ directory }, readBack)).toEqual([`a:${9 * MiB}`])
    expect(await Effect.runPromise(EventStoreFile.verify(directory))).toMatchObject({ _tag: "Intact", events: 1 })
  }, 60_000)

  it("opens a store whose large first record is followed by small ones", async () => {
    const directory = freshDirectory()
    await run({ directory }, Effect.gen(function*() {
      yield* appendSized("big-1", 9 * MiB, "a")
      yield* appendSized("big-1", 10, "b")
    }))
    expect(await run({ directory }, readBack)).toEqual([`a:${9 * MiB}`, "b:10"])
    expect(await Effect.runPromise(EventStoreFile.verify(directory))).toMatchObject({ _tag: "Intact", events: 2 })
  }, 60_000)

  it("rebuilds the missing index of a sealed segment that a large record starts", async () => {
    const directory = freshDirectory()
    const options = { directory, segmentSize: MiB }
    await run(options, Effect.gen(function*() {
      yield* appendSized("big-1", 10, "a")
      yield* appendSized("big-1", 9 * MiB, "b") // rolls: starts segment 2
      yield* appendSized("big-2", 10, "c") // rolls: segment 2 is sealed
    }))
    expect(fs.readdirSync(directory).filter((name) => name.endsWith(".log"))).toHaveLength(3)
    removeIdxFiles(directory)
    expect(await run(options, readBack)).toEqual(["a:10", `b:${9 * MiB}`, "c:10"])
    expect(await Effect.runPromise(EventStoreFile.verify(directory))).toMatchObject({ _tag: "Intact", events: 3 })
    // And once more through the index files the open just rebuilt.
    expect(await run(options, readBack)).toEqual(["a:10", `b:${9 * MiB}`, "c:10"])
  }, 60_000)

  it("keeps records from bytes to tens of MiB around chunk and segment boundaries, with and without index files", async () => {
    const directory = freshDirectory()
    const options = { directory, segmentSize: 16 * MiB }
    const sizes = [100, 8 * MiB - 200, 8 * MiB + 200, 10, 16 * MiB, 30 * MiB, 1000, 8 * MiB]
    await run(options, Effect.forEach(sizes, (size, at) => appendSized(`sized-${at % 3}`, size, `e${at}`), { discard: true }))
    const expected = sizes.map((size, at) => `e${at}:${size}`)
    expect(await run(options, readBack)).toEqual(expected)
    removeIdxFiles(directory)
    expect(await run(options, readBack)).toEqual(expected)
    expect(await Effect.runPromise(EventStoreFile.verify(directory))).toMatchObject({ _tag: "Intact", events: sizes.length })
  }, 120_000)

  it("still cuts a torn large last record, keeping the records before it", async () => {
    const directory = freshDirectory()
    await run({ directory }, Effect.gen(function*() {
      yield* appendSized("big-1", 10, "a")
      yield* appendSized("big-1", 9 * MiB, "b")
    }))
    const file = path.join(directory, "segment-00000001.log")
    fs.truncateSync(file, fs.statSync(file).size - 4 * MiB)
    expect(await Effect.runPromise(EventStoreFile.verify(directory))).toMatchObject({ _tag: "TornTail" })
    expect(await run({ directory }, readBack)).toEqual(["a:10"])
  }, 60_000)
})
