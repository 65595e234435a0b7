import * as fs from "node:fs"
import * as path from "node:path"
import { Effect, Layer, Stream } from "effect"
import { describe, expect, it } from "vitest"
import { EventStore } from "../../src/EventStore.js"
import type { Metadata, NewEvent } from "../../src/EventStore.js"
import * as EventStoreFile from "../../src/EventStoreFile.js"
import { encodeRecord } from "../../src/internal/file/frame.js"
import { directoriesPerTest } from "./helpers.js"

const freshDirectory = directoriesPerTest()

const run = <A, E>(directory: string, program: Effect.Effect<A, E, EventStore>): Promise<A> =>
  Effect.runPromise(Effect.provide(program, Layer.fresh(EventStoreFile.layer({ directory }))))

// What an untyped JavaScript caller can pass: the types do not stop it.
const untypedEvent = (metadata: string): NewEvent => {
  const event: NewEvent = JSON.parse(`{ "type": "Added", "data": 1, "metadata": ${metadata} }`)
  return event
}

const everything = Effect.gen(function*() {
  const store = yield* EventStore
  const events = yield* Stream.runCollect(store.readAll())
  return events.map((event) => [event.streamId, event.metadata])
})

describe("EventStoreFile metadata from untyped callers", () => {
  it.each(['{ "correlationId": 5 }', '{ "causationId": { "id": "c-1" } }', '{ "correlationId": null }'])(
    "refuses metadata %s with InvalidAppend and writes nothing",
    async (metadata) => {
      const directory = freshDirectory()
      const refused = await run(directory, Effect.gen(function*() {
        const store = yield* EventStore
        return (yield* Effect.flip(store.append("cart-1", [untypedEvent(metadata)])))._tag
      }))
      expect(refused).toBe("InvalidAppend")
      expect(await run(directory, everything)).toEqual([])
    }
  )

  it("reads back, as written, a record whose correlationId is not a string (written before appends refused it)", async () => {
    const directory = freshDirectory()
    await run(directory, Effect.gen(function*() {
      const store = yield* EventStore
      yield* store.append("cart-1", [{ type: "Added", data: 1, metadata: { correlationId: "c-1" } }])
    }))
    const metadata: Metadata = JSON.parse('{ "correlationId": 5, "causationId": [1] }')
    const frame = encodeRecord(
      { streamNo: 1, streamId: "cart-2", firstPosition: 2, firstVersion: 1, recordedAt: 0, eventIds: ["e-legacy"] },
      [{ type: "Added", schemaVersion: 1, data: 2, metadata }]
    )
    fs.appendFileSync(path.join(directory, "segment-00000001.log"), frame)
    expect(await Effect.runPromise(EventStoreFile.verify(directory))).toMatchObject({ _tag: "Intact", events: 2 })
    expect(await run(directory, everything)).toEqual([
      ["cart-1", { correlationId: "c-1" }],
      ["cart-2", { correlationId: 5, causationId: [1] }]
    ])
  })
})
