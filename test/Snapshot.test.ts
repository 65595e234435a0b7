import * as fs from "node:fs"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Layer } from "effect"
import * as fc from "fast-check"
import * as t from "io-ts"
import { Decider, EventStore, EventStoreMemory, Snapshot, SnapshotStore } from "es-kernel"
import { cleanup, tempDirectory } from "./file/helpers.js"
import * as Tally from "./projector/tally.js"

// A running total whose state is order-sensitive enough to catch a wrong fold: the
// amounts in order, and their sum.
type Total = { readonly sum: number; readonly last: ReadonlyArray<number> }
const zero: Total = { sum: 0, last: [] }
const total = Decider.make({
  initialState: zero,
  decide: () => Decider.accept<Tally.Event>(),
  evolve: (state: Total, event: Tally.Event): Total => {
    const amount = event.type === "Added" ? event.data.amount : -event.data.amount
    return { sum: state.sum + amount, last: [...state.last.slice(-2), amount] }
  }
})

const TotalJson = t.type({ sum: t.number, last: t.array(t.number) })

const stateCodec = (version: number): Snapshot.StateCodec<Total> => ({
  version,
  encode: (state) => ({ sum: state.sum, last: [...state.last] }),
  decode: (json) => TotalJson.decode(json)
})

const options = (version = 1): Snapshot.Options<Total, Tally.Event> => ({ decider: total, codec: Tally.codec, state: stateCodec(version) })

const history = fc.array(fc.integer({ min: -50, max: 50 }), { maxLength: 60 })
const toEvent = (amount: number) => amount >= 0 ? Tally.added(amount) : Tally.taken(-amount)
const toDomain = (amount: number): Tally.Event => amount >= 0 ? { type: "Added", data: { amount } } : { type: "Taken", data: { amount: -amount } }

const append = Effect.fnUntraced(function*(streamId: string, amounts: ReadonlyArray<number>) {
  const store = yield* EventStore.EventStore
  for (let index = 0; index < amounts.length; index += 1000) yield* store.append(streamId, amounts.slice(index, index + 1000).map(toEvent))
})

const layers = {
  memory: () => ({ layer: SnapshotStore.layerMemory, done: () => undefined }),
  file: () => {
    const directory = tempDirectory()
    return { layer: SnapshotStore.layerFile({ directory }), done: () => cleanup(directory) }
  }
}

describe.each(["memory", "file"] as const)("Snapshot on the %s snapshot store", (kind) => {
  it.live("for any history and any snapshot point, snapshot + tail = full replay", () =>
    Effect.promise(() =>
      fc.assert(
        fc.asyncProperty(history, fc.nat(), async (amounts, cut) => {
          const point = cut % (amounts.length + 1)
          const { done, layer } = layers[kind]()
          try {
            await Effect.runPromise(
              Effect.gen(function*() {
                yield* append("counter-a", amounts)
                if (point > 0) {
                  yield* Snapshot.save(stateCodec(1), {
                    streamId: "counter-a",
                    version: point,
                    state: Decider.fold(total, amounts.slice(0, point).map(toDomain))
                  })
                }
                const restored = yield* Snapshot.load(options(), "counter-a")
                expect(restored.state).toEqual(Decider.fold(total, amounts.map(toDomain)))
                expect(restored.version).toBe(amounts.length)
                expect(restored.snapshotVersion).toBe(point === 0 ? undefined : point)
                expect(restored.eventsRead).toBe(amounts.length - point)
              }).pipe(Effect.provide(Layer.mergeAll(EventStoreMemory.layer, layer)))
            )
          } finally {
            done()
          }
        }),
        { numRuns: kind === "file" ? 25 : 100 }
      )
    ))

  it.live("a new state version never reads the old version's snapshots: it replays, and the old version still finds its own", () => {
    const { done, layer } = layers[kind]()
    return Effect.gen(function*() {
      yield* append("counter-a", [1, 2, 3, 4])
      yield* Snapshot.save(stateCodec(1), { streamId: "counter-a", version: 3, state: { sum: 6, last: [1, 2, 3] } })
      const v2 = yield* Snapshot.load(options(2), "counter-a")
      expect(v2).toEqual({ streamId: "counter-a", state: { sum: 10, last: [2, 3, 4] }, version: 4, snapshotVersion: undefined, eventsRead: 4 })
      const v1 = yield* Snapshot.load(options(1), "counter-a")
      expect(v1).toMatchObject({ state: { sum: 10, last: [2, 3, 4] }, snapshotVersion: 3, eventsRead: 1 })
    }).pipe(Effect.provide(Layer.mergeAll(EventStoreMemory.layer, layer)), Effect.ensuring(Effect.sync(done)))
  })

  it.live("unusable snapshots are ignored with a reason: ahead of the stream, or a state that does not decode", () => {
    const { done, layer } = layers[kind]()
    return Effect.gen(function*() {
      yield* append("counter-a", [5, 5])
      const snapshots = yield* SnapshotStore.SnapshotStore
      yield* snapshots.save({ streamId: "counter-a", version: 9, stateVersion: 1, state: { sum: 99, last: [] } })
      const ahead = yield* Snapshot.load(options(), "counter-a")
      expect(ahead).toMatchObject({ state: { sum: 10 }, snapshotVersion: undefined, eventsRead: 2 })
      expect(ahead.ignored).toBe("the snapshot is at version 9, past the stream's version 2")

      yield* snapshots.save({ streamId: "counter-b", version: 1, stateVersion: 1, state: "garbage" })
      yield* append("counter-b", [7])
      const garbage = yield* Snapshot.load(options(), "counter-b")
      expect(garbage).toMatchObject({ state: { sum: 7 }, snapshotVersion: undefined, ignored: "the snapshot's state does not decode (state version 1)" })
    }).pipe(Effect.provide(Layer.mergeAll(EventStoreMemory.layer, layer)), Effect.ensuring(Effect.sync(done)))
  })

  it.live("saving keeps the snapshot at the higher version", () => {
    const { done, layer } = layers[kind]()
    return Effect.gen(function*() {
      const snapshots = yield* SnapshotStore.SnapshotStore
      yield* snapshots.save({ streamId: "counter-a", version: 5, stateVersion: 1, state: 5 })
      yield* snapshots.save({ streamId: "counter-a", version: 3, stateVersion: 1, state: 3 })
      expect(yield* snapshots.load("counter-a", 1)).toEqual({ _tag: "Found", snapshot: { streamId: "counter-a", version: 5, stateVersion: 1, state: 5 } })
      expect(yield* snapshots.load("counter-a", 2)).toEqual({ _tag: "Missing" })
    }).pipe(Effect.provide(layer), Effect.ensuring(Effect.sync(done)))
  })
})

describe("Snapshot", () => {
  it.live("file: a damaged snapshot file is a miss with a reason, never an error", () =>
    Effect.gen(function*() {
      const directory = tempDirectory()
      const snapshots = yield* Effect.provide(SnapshotStore.SnapshotStore.useSync((service) => service), SnapshotStore.layerFile({ directory }))
      yield* snapshots.save({ streamId: "counter-a", version: 2, stateVersion: 1, state: 2 })
      const [file] = fs.readdirSync(directory)
      fs.writeFileSync(`${directory}/${file ?? ""}`, "{\"streamId\":\"count")
      expect(yield* snapshots.load("counter-a", 1)).toEqual({ _tag: "Unusable", reason: "the snapshot file is not JSON" })
      cleanup(directory)
    }))

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
