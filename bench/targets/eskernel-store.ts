/**
 * The workloads every es-kernel store target runs the same way (W1–W5), as a function of
 * how a target runs one Effect program on a fresh store of its layer. Each workload is a
 * loop inside that one program (W3: `Effect.forEach` with `concurrency`), so the timings
 * measure the store, not a `runPromise` per call; events are built before the clock starts.
 */
import { Effect, Stream } from "effect"
import { EventStore, limits } from "../../src/EventStore.js"
import type { Json, NewEvent } from "../../src/EventStore.js"
import { at, eventType, heapAfterGc, now, oneStreamMeasurement, windows } from "../workloads.js"
import type { Measurement, Payload, Target } from "../workloads.js"

export const events = (data: ReadonlyArray<Payload>, n: number, offset = 0): Array<NewEvent> =>
  Array.from({ length: n }, (_, i) => ({ type: eventType, data: at(data, offset + i) }))

/** One event per append, built before timing. */
export const singles = (data: ReadonlyArray<Payload>, n: number): Array<ReadonlyArray<NewEvent>> =>
  events(data, n).map((e) => [e])

/** W5's fold step on a recorded event's JSON data: the payload's `amount`. */
const amountOf = (data: Json): number => {
  if (typeof data !== "object" || data === null || Array.isArray(data)) return Number.NaN
  const amount = "amount" in data ? data["amount"] : undefined
  return typeof amount === "number" ? amount : Number.NaN
}

/**
 * W1–W5 on the store `run` provides: a fresh one per call. With `heapPerEvent`, W1 also
 * reports the heap the store retains per event once its appends are done (a full GC
 * before the store fills and after the clock stops; the difference over the events).
 */
export const storeRunners = (
  run: (program: Effect.Effect<Measurement, unknown, EventStore>) => Promise<Measurement>,
  options: { readonly heapPerEvent?: boolean } = {}
): Target["runners"] => ({
    roundRobin: (spec, data) => {
      const batches = singles(data, spec.events)
      const names = Array.from({ length: spec.streams }, (_, s) => `bench-${s}`)
      return run(Effect.gen(function*() {
        const store = yield* EventStore
        const versions: Array<number> = names.map(() => 0)
        const heapBefore = options.heapPerEvent === true ? heapAfterGc() : 0
        const t0 = now()
        for (let i = 0; i < spec.events; i++) {
          const s = i % spec.streams
          const result = yield* store.append(names[s] ?? "", batches[i] ?? [], versions[s] ?? 0)
          versions[s] = result.nextExpectedVersion
        }
        const seconds = (now() - t0) / 1000
        if (options.heapPerEvent !== true) return { events: spec.events, seconds }
        const bytes = (heapAfterGc() - heapBefore) / spec.events
        return { events: spec.events, seconds, memory: { what: "heap retained per event", bytes } }
      }))
    },

    oneStream: (spec, data) => {
      const batches = singles(data, spec.events)
      const { head, tail } = windows(spec)
      return run(Effect.gen(function*() {
        const store = yield* EventStore
        let version = 0
        let headEnd = 0
        let tailStart = 0
        const t0 = now()
        for (let i = 0; i < spec.events; i++) {
          if (i === head) headEnd = now()
          if (i === tail) tailStart = now()
          const result = yield* store.append("bench-one", batches[i] ?? [], version)
          version = result.nextExpectedVersion
        }
        return oneStreamMeasurement(spec, { t0, headEnd, tailStart, t1: now() })
      }))
    },

    concurrentNewStreams: (spec, data) => {
      const batches = singles(data, spec.events)
      const indices = Array.from({ length: spec.events }, (_, i) => i)
      const names = indices.map((i) => `bench-${i}`)
      return run(Effect.gen(function*() {
        const store = yield* EventStore
        const t0 = now()
        yield* Effect.forEach(
          indices,
          (i) => store.append(names[i] ?? "", batches[i] ?? [], "noStream"),
          { concurrency: spec.concurrency, discard: true }
        )
        return { events: spec.events, seconds: (now() - t0) / 1000 }
      }))
    },

    batches: (spec, data) => {
      const all = events(data, spec.batches * spec.batchSize)
      const writers = spec.concurrency ?? 1
      // Writer w appends batches w, w + writers, … to its own stream.
      const perWriter = Array.from({ length: writers }, (_, w) =>
        Array.from(
          { length: Math.ceil((spec.batches - w) / writers) },
          (_, k) => all.slice((w + k * writers) * spec.batchSize, (w + k * writers + 1) * spec.batchSize)
        ))
      return run(Effect.gen(function*() {
        const store = yield* EventStore
        const t0 = now()
        yield* Effect.forEach(perWriter, (batches, w) =>
          Effect.gen(function*() {
            let version = 0
            for (const batch of batches) {
              const result = yield* store.append(writers === 1 ? "bench-batches" : `bench-batches-${w}`, batch, version)
              version = result.nextExpectedVersion
            }
          }), { concurrency: "unbounded", discard: true })
        return { events: spec.batches * spec.batchSize, seconds: (now() - t0) / 1000 }
      }))
    },

    replayFold: (spec, data) => {
      const seed = events(data, spec.events)
      return run(Effect.gen(function*() {
        const store = yield* EventStore
        // Seeded in batches the contract accepts (it caps a batch's events); not timed.
        for (let from = 0; from < seed.length; from += limits.batchEvents) {
          yield* store.append("bench-replay", seed.slice(from, from + limits.batchEvents), from)
        }
        const t0 = now()
        const [count, sum] = yield* Stream.runFold(
          store.readStream("bench-replay"),
          (): [number, number] => [0, 0],
          (acc, event): [number, number] => {
            acc[0] += 1
            acc[1] += amountOf(event.data)
            return acc
          }
        )
        return { events: count, seconds: (now() - t0) / 1000, check: sum }
      }))
    }
})
