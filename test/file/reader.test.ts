/**
 * Reads of records larger than a page (`internal/file/reader.ts`): a record of up to
 * 10,000 events is delivered across several pages, and every read gives the same events
 * as if it were decoded whole.
 */
import { Context, Effect, Layer, Stream } from "effect"
import type { Scope } from "effect"
import { describe, expect, it } from "vitest"
import { EventStore } from "../../src/EventStore.js"
import type { RecordedEvent } from "../../src/EventStore.js"
import * as EventStoreFile from "../../src/EventStoreFile.js"
import { directoriesPerTest } from "./helpers.js"

const freshDirectory = directoriesPerTest()

const open = <E>(layer: Layer.Layer<EventStore, E>) => Effect.map(Layer.build(layer), (context) => Context.get(context, EventStore))

const scoped = <A, E>(program: Effect.Effect<A, E, Scope.Scope>) => Effect.runPromise(Effect.scoped(program))

const positions = (events: ReadonlyArray<RecordedEvent>) => events.map((event) => event.position)

const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, index) => from + index)

// Records of 1, 10,000, 3 and 2,500 events: positions 1, 2–10,001, 10,002–10,004, 10,005–12,504.
const sizes = [1, 10_000, 3, 2_500]

const withStore = <A>(use: (store: EventStore["Service"]) => Effect.Effect<A, unknown>) =>
  scoped(Effect.gen(function*() {
    const store = yield* open(EventStoreFile.layer({ directory: freshDirectory() }))
    for (const [record, size] of sizes.entries()) {
      const events = Array.from({ length: size }, (_, index) => ({
        eventId: `e-${record}-${index}`,
        type: index % 1_000 === 0 ? "Milestone" : "Counted",
        data: { record, index, text: `é-${index}` }
      }))
      yield* store.append(record === 2 ? "other" : "big", events)
    }
    return yield* use(store)
  }))

describe("reading records larger than a page", () => {
  it("delivers every event of every record, in order, with its own data", async () => {
    const events = await withStore((store) => Effect.map(Stream.runCollect(store.readAll()), (all) => [...all]))
    expect(positions(events)).toEqual(range(1, 12_504))
    expect(events[5_000]?.data).toEqual({ record: 1, index: 4_999, text: "é-4999" })
    expect(events.map((event) => event.eventId)).toEqual(
      sizes.flatMap((size, record) => Array.from({ length: size }, (_, index) => `e-${record}-${index}`))
    )
    expect(events.filter((event) => event.streamId === "big").map((event) => event.version)).toEqual(range(1, 12_501))
  })

  it("starts and ends inside a large record, forward and backward", async () => {
    const read = await withStore((store) =>
      Effect.all({
        forward: Stream.runCollect(store.readStream("big", { from: 300, to: 9_000 })),
        backward: Stream.runCollect(store.readStream("big", { direction: "backward", from: 9_000, to: 300 })),
        limited: Stream.runCollect(store.readStream("big", { from: 255, limit: 600 })),
        after: Stream.runCollect(store.readAll({ from: 9_999 }))
      })
    )
    expect([...read.forward].map((event) => event.version)).toEqual(range(300, 9_000))
    expect([...read.backward].map((event) => event.version)).toEqual(range(300, 9_000).reverse())
    expect([...read.limited].map((event) => event.version)).toEqual(range(255, 854))
    expect(positions([...read.after])).toEqual(range(10_000, 12_504))
  })

  it("filters inside a large record without losing the events after a page ends", async () => {
    const milestones = await withStore((store) => Stream.runCollect(store.readAll({ filter: { types: ["Milestone"] } })))
    expect([...milestones].map((event) => [event.streamId, event.version])).toEqual([
      ["big", 1],
      ...range(0, 9).map((thousand) => ["big", 2 + thousand * 1_000]),
      ["other", 1],
      ["big", 10_002],
      ["big", 11_002],
      ["big", 12_002]
    ])
  })

  it("delivers a large record to a subscriber that starts inside it", async () => {
    const heard = await withStore((store) => Stream.runCollect(Stream.take(store.subscribe({ from: 4_321 }), 7_000)))
    expect(positions([...heard])).toEqual(range(4_322, 11_321))
  })
})
