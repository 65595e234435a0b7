import { describe, expect, it } from "@effect/vitest"
import { Effect, Layer } from "effect"
import { Decider, EventStoreMemory, Snapshot, SnapshotStore } from "es-kernel"
import { append, options, stateCodec, toDomain, total } from "./snapshot/conformance.js"

describe("Snapshot", () => {
  it("every(n) is due once n events were recorded since the last snapshot; never is never due", () => {
    const policy = Snapshot.every(100)
    expect(policy({ version: 99, snapshotVersion: undefined })).toBe(false)
    expect(policy({ version: 100, snapshotVersion: undefined })).toBe(true)
    expect(policy({ version: 150, snapshotVersion: 100 })).toBe(false)
    expect(policy({ version: 200, snapshotVersion: 100 })).toBe(true)
    expect(Snapshot.never({ version: 1_000_000, snapshotVersion: undefined })).toBe(false)
  })

  it.live("a 100,000-event stream: saved on policy, the next load reads only the tail", () =>
    Effect.gen(function*() {
      const amounts = Array.from({ length: 100_000 }, (_, index) => index % 7)
      yield* append("counter-a", amounts)
      const cold = yield* Snapshot.load(options(), "counter-a")
      expect(cold.eventsRead).toBe(100_000)
      expect(yield* Snapshot.saveIfDue(stateCodec(1), Snapshot.every(1000), cold)).toBe(true)
      yield* append("counter-a", [1, 2, 3])
      const warm = yield* Snapshot.load(options(), "counter-a")
      expect(warm).toMatchObject({ version: 100_003, snapshotVersion: 100_000, eventsRead: 3 })
      expect(warm.state).toEqual(Decider.fold(total, [...amounts, 1, 2, 3].map(toDomain)))
      expect(yield* Snapshot.saveIfDue(stateCodec(1), Snapshot.every(1000), warm)).toBe(false)
    }).pipe(Effect.provide(Layer.mergeAll(EventStoreMemory.layer, SnapshotStore.layerMemory))))
})
