import * as fs from "node:fs"
import * as path from "node:path"
import { Effect, Layer } from "effect"
import { describe, expect, it } from "vitest"
import { EventStore } from "../../src/EventStore.js"
import type { NewEvent } from "../../src/EventStore.js"
import * as EventStoreFile from "../../src/EventStoreFile.js"
import { nodeIo } from "../../src/internal/file/io.js"
import type { FileIo } from "../../src/internal/file/io.js"
import { layerWithIo } from "../../src/internal/file/layer.js"
import { directoriesPerTest } from "./helpers.js"

const freshDirectory = directoriesPerTest()

const run = <A, E>(options: EventStoreFile.FileStoreOptions, program: Effect.Effect<A, E, EventStore>): Promise<A> =>
  Effect.runPromise(Effect.provide(program, Layer.fresh(EventStoreFile.layer(options))))

const original: NewEvent = {
  type: "Added",
  eventId: "e-1",
  data: { sku: "a", quantity: 2 },
  metadata: { correlationId: "c-1", note: "x" }
}

const outcomeOf = (streamId: string, event: NewEvent) =>
  Effect.gen(function*() {
    const store = yield* EventStore
    const result = yield* Effect.result(store.append(streamId, [event], "noStream"))
    return result._tag === "Success" ? "Success" : result.failure._tag
  })

describe("EventStoreFile retries compare content", () => {
  const retries: ReadonlyArray<readonly [string, string, NewEvent, string]> = [
    ["the same event, object keys reordered", "cart-1", { ...original, data: { quantity: 2, sku: "a" } }, "Success"],
    ["other data", "cart-1", { ...original, data: { sku: "a", quantity: 3 } }, "EventIdConflict"],
    ["other metadata", "cart-1", { ...original, metadata: { correlationId: "c-2", note: "x" } }, "EventIdConflict"],
    ["another schema version", "cart-1", { ...original, schemaVersion: 2 }, "EventIdConflict"],
    ["the same event in another stream", "cart-2", original, "EventIdConflict"]
  ]

  it.each(retries)("a retry with %s is answered alike before and after a reopen", async (_, streamId, retry, expected) => {
    const directory = freshDirectory()
    const before = await run({ directory }, Effect.gen(function*() {
      const store = yield* EventStore
      yield* store.append("cart-1", [original], "noStream")
      return yield* outcomeOf(streamId, retry)
    }))
    // After a reopen the recorded events are read back from disk to compare.
    const after = await run({ directory }, outcomeOf(streamId, retry))
    expect([before, after]).toEqual([expected, expected])
  })
})

describe("EventStoreFile open report", () => {
  it("hands the caller what opening repaired: the torn tail cut and the index files rebuilt", async () => {
    const directory = freshDirectory()
    const appendSome = Effect.gen(function*() {
      const store = yield* EventStore
      for (let index = 0; index < 12; index++) yield* store.append("cart-1", [{ type: "Added", data: { index } }])
    })
    await run({ directory, segmentSize: 300 }, appendSome)
    const idx = fs.readdirSync(directory).filter((name) => name.endsWith(".idx")).sort()
    const logs = fs.readdirSync(directory).filter((name) => name.endsWith(".log")).sort()
    const last = logs.at(-1) ?? "missing"
    fs.rmSync(path.join(directory, idx[0] ?? "missing"))
    fs.appendFileSync(path.join(directory, last), Buffer.from([1, 2, 3]))
    const size = fs.statSync(path.join(directory, last)).size
    const reports: Array<EventStoreFile.FileStoreOpenReport> = []
    await run({ directory, segmentSize: 300, onOpen: (report) => reports.push(report) }, Effect.void)
    expect(reports).toEqual([{
      segments: logs.length,
      records: 12,
      events: 12,
      truncated: { segment: last, offset: size - 3, bytes: 3 },
      rebuiltIndexes: [idx[0]],
      indexWriteFailure: undefined
    }])
  })
})

describe("EventStoreFile store directory", () => {
  it("syncs the parent of every directory it creates", async () => {
    const root = freshDirectory()
    const synced: Array<string> = []
    const io: FileIo = { ...nodeIo, syncDirectory: (directory) => (synced.push(path.resolve(directory)), nodeIo.syncDirectory(directory)) }
    const directory = path.join(root, "a", "b")
    await Effect.runPromise(Effect.provide(Effect.void, Layer.fresh(layerWithIo({ directory }, io))))
    expect(synced).toEqual(expect.arrayContaining([path.resolve(root), path.resolve(root, "a")]))
  })
})
