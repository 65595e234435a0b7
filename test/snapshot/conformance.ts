/**
 * What every snapshot store must do, written once and run on each layer (memory, file,
 * PostgreSQL): for any history and any snapshot point, snapshot + tail = full replay,
 * through `Snapshot.load` and through a command handler made with snapshots; snapshots
 * keyed by state version; the higher version kept, also under racing saves; any JSON
 * state read back as saved; unusable snapshots ignored.
 *
 * One store serves a whole suite (a PostgreSQL layer costs a pool and a migration), so
 * every case and every property run works on streams of its own. The events live in a
 * fresh memory store per run: the law is about the snapshot store.
 */
import { fc, it } from "@fast-check/vitest"
import { Effect, Layer, ManagedRuntime } from "effect"
import * as t from "io-ts"
import { afterAll, beforeAll, describe, expect } from "vitest"
import { CommandHandler, Decider, EventStore, EventStoreMemory, Snapshot, SnapshotStore } from "es-kernel"
import * as Tally from "../projector/tally.js"

// A running total whose state is order-sensitive enough to catch a wrong fold: the
// amounts in order (the last three), and their sum.
export type Total = { readonly sum: number; readonly last: ReadonlyArray<number> }
const zero: Total = { sum: 0, last: [] }
export const total = Decider.make({
  initialState: zero,
  decide: (amount: number) => Decider.accept<Tally.Event>(amount >= 0 ? { type: "Added", data: { amount } } : { type: "Taken", data: { amount: -amount } }),
  evolve: (state: Total, event: Tally.Event): Total => {
    const amount = event.type === "Added" ? event.data.amount : -event.data.amount
    return { sum: state.sum + amount, last: [...state.last.slice(-2), amount] }
  }
})

const TotalJson = t.type({ sum: t.number, last: t.array(t.number) })

export const stateCodec = (version: number): Snapshot.StateCodec<Total> => ({
  version,
  encode: (state) => ({ sum: state.sum, last: [...state.last] }),
  decode: (json) => TotalJson.decode(json)
})

export const options = (version = 1): Snapshot.Options<Total, Tally.Event> => ({ decider: total, codec: Tally.codec, state: stateCodec(version) })

const toEvent = (amount: number) => amount >= 0 ? Tally.added(amount) : Tally.taken(-amount)
export const toDomain = (amount: number): Tally.Event => amount >= 0 ? { type: "Added", data: { amount } } : { type: "Taken", data: { amount: -amount } }

/** Appends `amounts` to `streamId`, a thousand events per append. */
export const append = Effect.fnUntraced(function*(streamId: string, amounts: ReadonlyArray<number>) {
  const store = yield* EventStore.EventStore
  for (let index = 0; index < amounts.length; index += 1000) yield* store.append(streamId, amounts.slice(index, index + 1000).map(toEvent))
})

const handler = (version = 1) =>
  CommandHandler.make({ decider: total, codec: Tally.codec, category: "counter", snapshots: { state: stateCodec(version), policy: Snapshot.never } })

const history = fc.array(fc.integer({ min: -50, max: 50 }), { maxLength: 60 })

/** JSON states: any unicode text (U+0000 too), any finite number, nested arrays and objects. */
const jsonState = fc.letrec<{ readonly value: EventStore.Json }>((tie) => ({
  value: fc.oneof(
    { depthSize: "small", maxDepth: 4 },
    fc.constant(null),
    fc.boolean(),
    fc.double({ noNaN: true, noDefaultInfinity: true }),
    fc.string({ unit: "grapheme" }),
    fc.constant("a\u0000b"),
    fc.array(tie("value"), { maxLength: 5 }),
    fc.dictionary(fc.string({ unit: "grapheme" }), tie("value"), { maxKeys: 5 })
  )
})).value

/** How a suite gets its snapshot store: a layer, and what to clean up after the suite. */
export interface SnapshotStoreUnderTest {
  readonly layer: Layer.Layer<SnapshotStore.SnapshotStore, unknown>
  readonly done?: () => Promise<void> | void
}

/**
 * Registers the conformance suite for the snapshot store `make` gives (called once, before
 * the suite's cases).
 */
export const snapshotStoreConformance = (name: string, make: () => SnapshotStoreUnderTest, settings: { readonly numRuns?: number } = {}) =>
  describe(`SnapshotStore conformance: ${name}`, () => {
    let runtime: ManagedRuntime.ManagedRuntime<SnapshotStore.SnapshotStore, unknown> | undefined
    let done: SnapshotStoreUnderTest["done"]
    let streams = 0
    beforeAll(async () => {
      const underTest = make()
      done = underTest.done
      runtime = ManagedRuntime.make(underTest.layer)
      await runtime.runPromise(Effect.void)
    })
    afterAll(async () => {
      await runtime?.dispose()
      await done?.()
    })
    /** Runs `program` with the suite's snapshot store and a fresh memory event store, on a fresh counter id. */
    const run = <A, E>(program: (id: string) => Effect.Effect<A, E, SnapshotStore.SnapshotStore | EventStore.EventStore>): Promise<A> => {
      if (runtime === undefined) throw new Error("the suite's snapshot store was not built")
      const id = `${++streams}-${Math.random().toString(36).slice(2, 8)}`
      return runtime.runPromise(Effect.provide(program(id), EventStoreMemory.layer))
    }
    const saveRaw = (snapshot: SnapshotStore.StoredSnapshot) => SnapshotStore.SnapshotStore.use((snapshots) => snapshots.save(snapshot))
    const loadRaw = (streamId: string, stateVersion: number) => SnapshotStore.SnapshotStore.use((snapshots) => snapshots.load(streamId, stateVersion))

    it.prop([history, fc.nat()], { numRuns: settings.numRuns ?? 100 })(
      "for any history and any snapshot point, snapshot + tail = full replay (Snapshot.load and the handler)",
      (amounts, cut) =>
        run((id) =>
          Effect.gen(function*() {
            const streamId = `counter-${id}`
            const point = cut % (amounts.length + 1)
            yield* append(streamId, amounts)
            if (point > 0) {
              yield* Snapshot.save(stateCodec(1), { streamId, version: point, state: Decider.fold(total, amounts.slice(0, point).map(toDomain)) })
            }
            const replayed = Decider.fold(total, amounts.map(toDomain))
            const restored = yield* Snapshot.load(options(), streamId)
            expect(restored).toEqual({
              streamId,
              state: replayed,
              version: amounts.length,
              snapshotVersion: point === 0 ? undefined : point,
              eventsRead: amounts.length - point
            })
            const loaded = yield* handler().load(id)
            expect(loaded).toEqual({ streamId, state: replayed, version: amounts.length, skipped: [] })
          })
        )
    )

    it.prop([jsonState], { numRuns: Math.min(settings.numRuns ?? 100, 50) })("reads any JSON state back as it was saved", (state) =>
      run((id) =>
        Effect.gen(function*() {
          yield* saveRaw({ streamId: id, version: 1, stateVersion: 1, state })
          const found = yield* loadRaw(id, 1)
          expect(found._tag).toBe("Found")
          if (found._tag === "Found") expect(JSON.stringify(found.snapshot.state)).toBe(JSON.stringify(state))
        })
      ))

    it("keeps one snapshot per stream and state version, at the highest version saved, also when saves race", () =>
      run((id) =>
        Effect.gen(function*() {
          const versions = Array.from({ length: 20 }, (_, index) => ((index * 7) % 20) + 1)
          yield* Effect.forEach(versions, (version) => saveRaw({ streamId: id, version, stateVersion: 1, state: { at: version } }), {
            concurrency: "unbounded"
          })
          yield* saveRaw({ streamId: id, version: 3, stateVersion: 1, state: { at: 3 } })
          yield* saveRaw({ streamId: id, version: 2, stateVersion: 2, state: { at: 2 } })
          expect(yield* loadRaw(id, 1)).toEqual({ _tag: "Found", snapshot: { streamId: id, version: 20, stateVersion: 1, state: { at: 20 } } })
          expect(yield* loadRaw(id, 2)).toEqual({ _tag: "Found", snapshot: { streamId: id, version: 2, stateVersion: 2, state: { at: 2 } } })
          expect(yield* loadRaw(id, 3)).toEqual({ _tag: "Missing" })
          expect(yield* loadRaw(`${id}-other`, 1)).toEqual({ _tag: "Missing" })
        })
      ))

    it("a new state version never reads the old version's snapshots: it replays, and the old version still finds its own", () =>
      run((id) =>
        Effect.gen(function*() {
          const streamId = `counter-${id}`
          yield* append(streamId, [1, 2, 3, 4])
          yield* Snapshot.save(stateCodec(1), { streamId, version: 3, state: { sum: 6, last: [1, 2, 3] } })
          const v2 = yield* Snapshot.load(options(2), streamId)
          expect(v2).toEqual({ streamId, state: { sum: 10, last: [2, 3, 4] }, version: 4, snapshotVersion: undefined, eventsRead: 4 })
          expect(yield* handler(2).load(id)).toMatchObject({ state: { sum: 10, last: [2, 3, 4] }, version: 4 })
          const v1 = yield* Snapshot.load(options(1), streamId)
          expect(v1).toMatchObject({ state: { sum: 10, last: [2, 3, 4] }, snapshotVersion: 3, eventsRead: 1 })
        })
      ))

    it("unusable snapshots are ignored with a reason: ahead of the stream, or a state that does not decode", () =>
      run((id) =>
        Effect.gen(function*() {
          const ahead = `counter-${id}-ahead`
          yield* append(ahead, [5, 5])
          yield* saveRaw({ streamId: ahead, version: 9, stateVersion: 1, state: { sum: 99, last: [] } })
          expect(yield* Snapshot.load(options(), ahead)).toEqual({
            streamId: ahead,
            state: { sum: 10, last: [5, 5] },
            version: 2,
            snapshotVersion: undefined,
            eventsRead: 2,
            ignored: "the snapshot is at version 9, past the stream's version 2"
          })
          const garbage = `counter-${id}-garbage`
          yield* append(garbage, [7])
          yield* saveRaw({ streamId: garbage, version: 1, stateVersion: 1, state: "garbage" })
          expect(yield* Snapshot.load(options(), garbage)).toMatchObject({
            state: { sum: 7, last: [7] },
            snapshotVersion: undefined,
            ignored: "the snapshot's state does not decode (state version 1)"
          })
          expect(yield* handler().load(`${id}-garbage`)).toMatchObject({ state: { sum: 7, last: [7] }, version: 1 })
        })
      ))

    it("a 100,000-event stream loads from its snapshot and a short tail to the state a full replay gives", () =>
      run((id) =>
        Effect.gen(function*() {
          const streamId = `counter-${id}`
          const amounts = Array.from({ length: 100_000 }, (_, index) => (index % 13) - 6)
          yield* append(streamId, amounts)
          const withSnapshots = handler()
          yield* withSnapshots.saveSnapshot(id)
          yield* append(streamId, [1, 2, 3])
          const fromSnapshot = yield* handler().load(id)
          const replayed = yield* CommandHandler.make({ decider: total, codec: Tally.codec, category: "counter" }).load(id)
          expect(fromSnapshot).toEqual(replayed)
          expect(fromSnapshot.state).toEqual(Decider.fold(total, [...amounts, 1, 2, 3].map(toDomain)))
          expect(yield* Snapshot.load(options(), streamId)).toMatchObject({ snapshotVersion: 100_000, eventsRead: 3 })
        })
      ), 60_000)
  })
