import * as fs from "node:fs"
import * as path from "node:path"
import { Effect, Exit, Layer, Stream } from "effect"
import { describe, expect, it } from "vitest"
import { EventStore } from "../../src/EventStore.js"
import * as EventStoreFile from "../../src/EventStoreFile.js"
import { nodeIo } from "../../src/internal/file/io.js"
import { layerWithIo } from "../../src/internal/file/layer.js"
import type { OpenReport } from "../../src/internal/file/recovery.js"
import { SimulatedDisk } from "../crash/simulatedDisk.js"
import { directoriesPerTest } from "./helpers.js"

const freshDirectory = directoriesPerTest()

const appendTwo = Effect.gen(function*() {
  const store = yield* EventStore
  // One record of about 5,000 bytes across the segment's first page, one small one after it.
  yield* store.append("order-1", [{ type: "Big", data: { text: "x".repeat(5000) } }], 0)
  yield* store.append("order-1", [{ type: "Small", data: {} }], 1)
})

const readTypes = Effect.gen(function*() {
  const store = yield* EventStore
  return (yield* Stream.runCollect(store.readAll())).map((event) => event.type)
})

const reopen = async (directory: string) => {
  let report: OpenReport | undefined = undefined
  const exit = await Effect.runPromise(Effect.exit(Effect.provide(readTypes, Layer.fresh(layerWithIo({ directory }, nodeIo, (opened) => {
    report = opened
  })))))
  return { exit, report }
}

describe("file store after a power loss", () => {
  it("keeps a new store's directory, and the events acknowledged in it, when its creation was never synced by anything else", async () => {
    const directory = path.join(freshDirectory(), "new", "store")
    const disk = new SimulatedDisk(directory, Number.POSITIVE_INFINITY)
    await Effect.runPromise(Effect.provide(
      Effect.gen(function*() {
        const store = yield* EventStore
        yield* store.append("order-1", [{ type: "Placed", data: {} }], 0)
      }),
      Layer.fresh(layerWithIo({ directory }, disk.io))
    ))
    disk.crash()
    const after = path.join(freshDirectory(), "store")
    fs.mkdirSync(after)
    // Every operation no sync covered is dropped.
    const { storeSurvived } = disk.materialise(after, () => 0.99)
    expect(storeSurvived).toBe(true)
    const { exit } = await reopen(after)
    expect(exit).toEqual(Exit.succeed(["Placed"]))
  })

  it("cuts a tail whose first page a power loss dropped (read as zeros) even though a whole record follows, and reports it", async () => {
    const directory = freshDirectory()
    await Effect.runPromise(Effect.provide(appendTwo, Layer.fresh(EventStoreFile.layer({ directory }))))
    const segment = path.join(directory, "segment-00000001.log")
    const size = fs.statSync(segment).size
    const handle = fs.openSync(segment, "r+")
    fs.writeSync(handle, Buffer.alloc(4096), 0, 4096, 0)
    fs.closeSync(handle)
    const { exit, report } = await reopen(directory)
    expect(exit).toEqual(Exit.succeed([]))
    expect(report).toMatchObject({ truncated: { segment: "segment-00000001.log", offset: 0, bytes: size } })
    expect(await Effect.runPromise(EventStoreFile.verify(directory))).toMatchObject({ _tag: "Intact" })
  })

  it("still refuses as corrupt a bad record followed by a good one when no page of it reads as zeros", async () => {
    const directory = freshDirectory()
    await Effect.runPromise(Effect.provide(appendTwo, Layer.fresh(EventStoreFile.layer({ directory }))))
    const segment = path.join(directory, "segment-00000001.log")
    const handle = fs.openSync(segment, "r+")
    fs.writeSync(handle, Buffer.alloc(4096, 0xa5), 0, 4096, 0)
    fs.closeSync(handle)
    const { exit } = await reopen(directory)
    expect(Exit.isFailure(exit) && String(exit.cause)).toContain("FileStoreCorrupt")
  })
})
