import { describe, expect, it } from "@effect/vitest"
import { Deferred, Effect, Fiber, Layer, Ref } from "effect"
import * as fc from "fast-check"
import { CheckpointStore, EventStore, EventStoreMemory, Projection, Projector } from "es-kernel"
import * as Tally from "./projector/tally.js"

const layer = Layer.mergeAll(EventStoreMemory.layer, CheckpointStore.layerMemory)

const append = Effect.fnUntraced(function*(streamId: string, ...events: ReadonlyArray<EventStore.NewEvent>) {
  const store = yield* EventStore.EventStore
  return yield* store.append(streamId, events)
})

const totalsProjection = (version = 1) =>
  Projector.view({ name: "totals", version, codec: Tally.codec, view: Tally.totals, state: Tally.totalsCodec })

/** A handler projection that records the positions it applied, in order. */
const recording = (name: string, applied: Ref.Ref<ReadonlyArray<number>>, filter?: EventStore.EventFilter) =>
  Projector.handler({
    name,
    codec: Tally.codec,
    ...(filter === undefined ? {} : { filter }),
    handle: (_event, envelope) => Ref.update(applied, (positions) => [...positions, envelope.position])
  })

describe("Projector", () => {
  it.live("a view catches up with the history, then follows live appends", () =>
    Effect.gen(function*() {
      yield* append("counter-a", Tally.added(5), Tally.added(2))
      yield* append("counter-b", Tally.added(1))
      const running = yield* Projector.start(totalsProjection())
      yield* running.waitFor(3)
      expect(yield* running.state).toEqual({ "counter-a": 7, "counter-b": 1 })
      const appended = yield* append("counter-a", Tally.taken(3))
      yield* running.waitFor(appended.position)
      expect(yield* running.state).toEqual({ "counter-a": 4, "counter-b": 1 })
      const status = yield* running.status
      expect(status).toMatchObject({ key: "totals@1", phase: "live", checkpoint: 4, head: 4, behind: 0, lagMs: 0 })
    }).pipe(Effect.provide(layer)))

  it.live("for any history and batch size, the running view equals a one-shot Projection.run", () =>
    Effect.promise(() =>
      fc.assert(
        fc.asyncProperty(
          fc.array(fc.tuple(fc.constantFrom("counter-a", "counter-b", "other-c"), fc.integer({ min: -9, max: 9 })), { maxLength: 40 }),
          fc.integer({ min: 1, max: 7 }),
          fc.nat({ max: 40 }),
          (history, batch, split) =>
            Effect.runPromise(
              Effect.gen(function*() {
                const write = (entries: typeof history) =>
                  Effect.forEach(entries, ([streamId, amount]) => append(streamId, amount >= 0 ? Tally.added(amount) : Tally.taken(-amount)), {
                    discard: true
                  })
                yield* write(history.slice(0, split))
                const running = yield* Projector.start(
                  Projector.view({ name: "totals", codec: Tally.codec, filter: { categories: ["counter"] }, view: Tally.totals, state: Tally.totalsCodec }),
                  { batch }
                )
                const last = yield* Effect.andThen(write(history.slice(split)), append("marker-x", Tally.added(0)))
                yield* running.waitFor(last.position)
                const expected = yield* Projection.run({ codec: Tally.codec, view: Tally.totals, filter: { categories: ["counter"] } })
                expect(yield* running.state).toEqual(expected.state)
              }).pipe(Effect.scoped, Effect.provide(layer))
            )
        ),
        { numRuns: 60 }
      )
    ))

  it.live("a failing handler stops the runner at the last applied event; a restart resumes there without losing one", () =>
    Effect.gen(function*() {
      yield* append("counter-a", Tally.added(1), Tally.added(2), Tally.added(3), Tally.added(4))
      const applied = yield* Ref.make<ReadonlyArray<number>>([])
      const broken = Projector.handler({
        name: "flaky",
        codec: Tally.codec,
        handle: (event, envelope) =>
          event.data.amount === 3 ? Effect.fail("the read model is down") : Ref.update(applied, (positions) => [...positions, envelope.position])
      })
      const first = yield* Projector.start(broken)
      const failure = yield* Effect.flip(first.await)
      expect(failure).toMatchObject({ _tag: "ProjectionFailed", key: "flaky@1", position: 2, cause: "the read model is down" })
      expect(failure.message).toContain("resumes from that position")
      expect(yield* first.status).toMatchObject({ phase: "failed", checkpoint: 2, behind: 2 })
      expect(yield* Effect.flip(first.waitFor(4))).toBe(failure)

      const fixed = yield* Projector.start(recording("flaky", applied))
      yield* fixed.waitFor(4)
      expect(yield* Ref.get(applied)).toEqual([1, 2, 3, 4])
    }).pipe(Effect.provide(layer)))

  it.live("several projections over one store keep their own checkpoints", () =>
    Effect.gen(function*() {
      const counters = yield* Ref.make<ReadonlyArray<number>>([])
      const others = yield* Ref.make<ReadonlyArray<number>>([])
      yield* append("counter-a", Tally.added(1))
      yield* append("other-b", Tally.added(1))
      const a = yield* Projector.start(recording("counters", counters, { categories: ["counter"] }))
      const b = yield* Projector.start(recording("others", others, { categories: ["other"] }))
      const last = yield* append("counter-a", Tally.added(1))
      yield* a.waitFor(last.position)
      yield* b.waitFor(last.position)
      expect(yield* Ref.get(counters)).toEqual([1, 3])
      expect(yield* Ref.get(others)).toEqual([2])
      expect(yield* a.checkpoint).toBe(3)
      expect(yield* b.checkpoint).toBe(2)
      const checkpoints = yield* CheckpointStore.CheckpointStore
      expect(yield* checkpoints.load("counters@1")).toEqual({ position: 3 })
      expect(yield* checkpoints.load("others@1")).toEqual({ position: 2 })
    }).pipe(Effect.provide(layer)))

  it.live("stop drains the batch in flight and stores its checkpoint; a restart applies nothing twice", () =>
    Effect.gen(function*() {
      yield* append("counter-a", ...Array.from({ length: 10 }, () => Tally.added(1)))
      const applied = yield* Ref.make<ReadonlyArray<number>>([])
      const inFlight = yield* Deferred.make<void>()
      const release = yield* Deferred.make<void>()
      const slow = Projector.handler({
        name: "slow",
        codec: Tally.codec,
        handle: (_event, envelope) =>
          Effect.gen(function*() {
            if (envelope.position === 3) {
              yield* Deferred.succeed(inFlight, undefined)
              yield* Deferred.await(release)
            }
            yield* Ref.update(applied, (positions) => [...positions, envelope.position])
          })
      })
      const running = yield* Projector.start(slow, { batch: 4 })
      yield* Deferred.await(inFlight)
      const stopping = yield* Effect.forkChild(running.stop)
      yield* Effect.sleep("20 millis")
      yield* Deferred.succeed(release, undefined)
      yield* Fiber.join(stopping)
      expect(yield* Ref.get(applied)).toEqual([1, 2, 3, 4])
      expect(yield* running.checkpoint).toBe(4)
      expect((yield* running.status).phase).toBe("stopped")

      const again = yield* Projector.start(recording("slow", applied))
      yield* again.waitFor(10)
      expect(yield* Ref.get(applied)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10])
    }).pipe(Effect.provide(layer)))

  it.live("one live runner per projection: a second start is refused until the first stops", () =>
    Effect.gen(function*() {
      const applied = yield* Ref.make<ReadonlyArray<number>>([])
      const first = yield* Projector.start(recording("solo", applied))
      const refused = yield* Effect.flip(Projector.start(recording("solo", applied)))
      expect(refused._tag).toBe("ProjectionAlreadyRunning")
      expect(refused.message).toContain(`"solo@1" is already running in this process`)
      yield* first.stop
      const second = yield* Projector.start(recording("solo", applied))
      expect(second.key).toBe("solo@1")
    }).pipe(Effect.provide(layer)))

  it.live("lag: a held-back runner reports the events and the time it is behind, then catches up", () =>
    Effect.gen(function*() {
      const release = yield* Deferred.make<void>()
      const held = Projector.handler({ name: "held", codec: Tally.codec, handle: () => Deferred.await(release) })
      yield* append("counter-a", Tally.added(1))
      yield* append("other-b", Tally.added(1), Tally.added(1))
      const running = yield* Projector.start(held, { batch: 10 })
      yield* Effect.sleep("30 millis")
      const behind = yield* running.status
      expect(behind).toMatchObject({ phase: "catching-up", checkpoint: 0, head: 3, behind: 3 })
      expect(behind.lagMs).toBeGreaterThanOrEqual(25)
      yield* Deferred.succeed(release, undefined)
      yield* running.waitFor(3)
      expect(yield* running.status).toMatchObject({ phase: "live", checkpoint: 3, head: 3, behind: 0, lagMs: 0 })
    }).pipe(Effect.provide(layer)))

  it.live("rebuild: a new version builds beside the live one and takes over when caught up", () =>
    Effect.gen(function*() {
      yield* append("counter-a", Tally.added(5))
      const v1 = yield* Projector.start(totalsProjection(1))
      yield* v1.waitFor(1)
      yield* append("counter-a", Tally.added(5), Tally.taken(1))
      const v2 = yield* Projector.start(totalsProjection(2), { batch: 1 })
      const checkpoints = yield* CheckpointStore.CheckpointStore
      expect(yield* checkpoints.active("totals")).toBeUndefined()
      const live = yield* Projector.takeOver(v1, v2)
      expect(live.key).toBe("totals@2")
      expect(yield* checkpoints.active("totals")).toBe(2)
      expect(yield* live.state).toEqual({ "counter-a": 9 })
      expect((yield* v1.status).phase).toBe("stopped")
      // v1's claim is released with its stop: it could run again (say, to roll back).
      const back = yield* Projector.start(totalsProjection(1))
      yield* back.waitFor(3)
      expect(yield* back.state).toEqual({ "counter-a": 9 })
    }).pipe(Effect.provide(layer)))

  it.live("a view's state is saved with its checkpoint and comes back at the next start", () =>
    Effect.gen(function*() {
      yield* append("counter-a", Tally.added(5), Tally.added(6))
      const first = yield* Projector.start(totalsProjection())
      yield* first.waitFor(2)
      yield* first.stop
      const checkpoints = yield* CheckpointStore.CheckpointStore
      expect(yield* checkpoints.load("totals@1")).toEqual({ position: 2, state: { "counter-a": 11 } })
      // A projection that re-read the history would double the total.
      const second = yield* Projector.start(totalsProjection())
      yield* append("counter-a", Tally.added(1))
      yield* second.waitFor(3)
      expect(yield* second.state).toEqual({ "counter-a": 12 })
    }).pipe(Effect.provide(layer)))

  it.live("a stored state the view's codec cannot read is a failure that says to rebuild under a new version", () =>
    Effect.gen(function*() {
      const checkpoints = yield* CheckpointStore.CheckpointStore
      yield* checkpoints.save("totals@1", { position: 1, state: "not totals" })
      const failure = yield* Effect.flip(Projector.start(totalsProjection()))
      expect(failure).toMatchObject({ _tag: "ProjectionFailed", position: 1 })
      expect(failure.message).toContain("give the projection a new version")
      // The failed start released its claim.
      yield* checkpoints.save("totals@1", { position: 0, state: {} })
      yield* Projector.start(totalsProjection())
    }).pipe(Effect.provide(layer)))

  it.live("a filtered projection with nothing of its own after the checkpoint moves it to the head, and a restart starts there", () =>
    Effect.gen(function*() {
      const applied = yield* Ref.make<ReadonlyArray<number>>([])
      yield* append("counter-a", Tally.added(1))
      yield* append("other-b", ...Array.from({ length: 5 }, () => Tally.added(1)))
      const first = yield* Projector.start(recording("sparse", applied, { categories: ["counter"] }))
      yield* first.waitFor(6)
      expect(yield* first.checkpoint).toBe(1)
      expect(yield* first.status).toMatchObject({ phase: "live", checkpoint: 6, head: 6, behind: 0 })
      yield* first.stop
      const checkpoints = yield* CheckpointStore.CheckpointStore
      expect(yield* checkpoints.load("sparse@1")).toEqual({ position: 6 })
      const second = yield* Projector.start(recording("sparse", applied, { categories: ["counter"] }))
      const last = yield* append("counter-a", Tally.added(1))
      yield* second.waitFor(last.position)
      expect(yield* Ref.get(applied)).toEqual([1, 7])
    }).pipe(Effect.provide(layer)))

  it.live("a view's idle checkpoint move keeps its state with it", () =>
    Effect.gen(function*() {
      yield* append("counter-a", Tally.added(4))
      yield* append("other-b", Tally.added(1))
      const view = Projector.view({ name: "counters", codec: Tally.codec, filter: { categories: ["counter"] }, view: Tally.totals, state: Tally.totalsCodec })
      const first = yield* Projector.start(view)
      yield* first.waitFor(2)
      expect((yield* first.status).checkpoint).toBe(2)
      yield* first.stop
      const checkpoints = yield* CheckpointStore.CheckpointStore
      expect(yield* checkpoints.load("counters@1")).toEqual({ position: 2, state: { "counter-a": 4 } })
    }).pipe(Effect.provide(layer)))

  it.live("malformed names, versions and batch sizes are refused before anything starts", () =>
    Effect.gen(function*() {
      const applied = yield* Ref.make<ReadonlyArray<number>>([])
      const cases: ReadonlyArray<readonly [string, number | undefined, number | undefined, string]> = [
        ["", undefined, undefined, "the name must be"],
        ["has/slash", undefined, undefined, "the name must be"],
        ["ok", 0, undefined, "the version must be a positive integer"],
        ["ok", 1.5, undefined, "the version must be a positive integer"],
        ["ok", 1, 0, "batch must be a positive integer"],
        ["ok", 1, Number.NaN, "batch must be a positive integer"]
      ]
      for (const [name, version, batch, reason] of cases) {
        const projection = Projector.handler({
          name,
          ...(version === undefined ? {} : { version }),
          codec: Tally.codec,
          handle: (_event, envelope) => Ref.update(applied, (positions) => [...positions, envelope.position])
        })
        const failure = yield* Effect.flip(Projector.start(projection, batch === undefined ? {} : { batch }))
        expect(failure._tag).toBe("InvalidProjection")
        expect(failure.message).toContain(reason)
      }
    }).pipe(Effect.provide(layer)))

  it.live("a view or handler that throws stops the runner with a failure that names it, never a silent stall", () =>
    Effect.gen(function*() {
      yield* append("counter-a", Tally.added(1), Tally.added(2))
      const throwing = Projector.view({
        name: "throwing",
        codec: Tally.codec,
        view: {
          ...Tally.totals,
          evolve: (state, event, envelope) => {
            if (envelope.position === 2) throw new Error("evolve has a bug")
            return Tally.totals.evolve(state, event, envelope)
          }
        },
        state: Tally.totalsCodec
      })
      const running = yield* Projector.start(throwing, { batch: 1 })
      const failure = yield* Effect.flip(running.await)
      expect(failure).toMatchObject({ _tag: "ProjectionFailed", key: "throwing@1", position: 1 })
      expect(failure.message).toContain("evolve has a bug")
      expect(yield* Effect.flip(running.waitFor(2))).toBe(failure)
      expect(yield* running.state).toEqual({ "counter-a": 1 })
    }).pipe(Effect.provide(layer)))

  it.live("closing the scope stops the runner: its status says stopped, and the projection can start again", () =>
    Effect.gen(function*() {
      const applied = yield* Ref.make<ReadonlyArray<number>>([])
      const running = yield* Effect.scoped(Projector.start(recording("scoped", applied)))
      expect((yield* running.status).phase).toBe("stopped")
      yield* Projector.start(recording("scoped", applied))
    }).pipe(Effect.provide(layer)))
})
