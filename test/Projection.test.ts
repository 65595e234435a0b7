import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import * as t from "io-ts"
import { EventCodec, EventStore, EventStoreMemory, Projection, View } from "es-kernel"
import * as Tally from "./projector/tally.js"

const append = Effect.fnUntraced(function*(streamId: string, ...events: ReadonlyArray<EventStore.NewEvent>) {
  const store = yield* EventStore.EventStore
  return yield* store.append(streamId, events)
})

describe("Projection.run", () => {
  it.effect("folds the events of the codec's types, and resumes from the checkpoint with the state it returned", () =>
    Effect.gen(function*() {
      yield* append("counter-a", Tally.added(5), Tally.taken(1))
      yield* append("counter-b", { type: "Renamed", data: { to: "b" } }, Tally.added(2))
      const first = yield* Projection.run({ codec: Tally.codec, view: Tally.totals })
      expect(first).toEqual({ state: { "counter-a": 4, "counter-b": 2 }, checkpoint: 4, skipped: [] })
      yield* append("counter-a", Tally.added(10))
      const second = yield* Projection.run({ codec: Tally.codec, view: Tally.totals, from: first.checkpoint, state: first.state })
      expect(second).toEqual({ state: { "counter-a": 14, "counter-b": 2 }, checkpoint: 5, skipped: [] })
    }).pipe(Effect.provide(EventStoreMemory.layer)))

  it.effect("a filter narrows the events; from the start is a rebuild", () =>
    Effect.gen(function*() {
      yield* append("counter-a", Tally.added(5))
      yield* append("other-b", Tally.added(7))
      const counters = yield* Projection.run({ codec: Tally.codec, view: Tally.totals, filter: { categories: ["counter"] } })
      expect(counters.state).toEqual({ "counter-a": 5 })
      const all = yield* Projection.run({ codec: Tally.codec, view: Tally.totals, from: EventStore.start })
      expect(all.state).toEqual({ "counter-a": 5, "other-b": 7 })
    }).pipe(Effect.provide(EventStoreMemory.layer)))

  it.effect("events the codec does not know are skipped and reported under the skip policy, and fail under the default", () =>
    Effect.gen(function*() {
      yield* append("counter-a", Tally.added(5), { type: "Renamed", data: {} })
      const lenient = EventCodec.make({ Added: EventCodec.io(t.type({ amount: t.number })) }, { unknownTypes: "skip" })
      const everything = View.make({ initialState: 0, evolve: (n: number, event: EventCodec.Event<typeof lenient>) => n + event.data.amount })
      const skipping = yield* Projection.run({ codec: lenient, view: everything, filter: { types: [] } })
      expect(skipping.state).toBe(5)
      expect(skipping.checkpoint).toBe(2)
      expect(skipping.skipped).toMatchObject([{ _tag: "Skipped", streamId: "counter-a", type: "Renamed", version: 2 }])

      const strict = EventCodec.make({ Added: EventCodec.io(t.type({ amount: t.number })) })
      const failure = yield* Effect.flip(Projection.run({ codec: strict, view: everything, filter: { types: [] } }))
      expect(failure._tag).toBe("UnknownEventType")
    }).pipe(Effect.provide(EventStoreMemory.layer)))
})
