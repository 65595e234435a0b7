/**
 * The peer: Emmett 0.42's in-memory event store (`getInMemoryEventStore()`).
 *
 * Each run gets a fresh store. Events are built before timing; versions are bigints, as
 * Emmett wants them. W3 keeps `concurrency` async loops in flight, each awaiting its
 * appends in turn; W5 folds with `aggregateStream`, Emmett's own read-and-fold.
 */
import { getInMemoryEventStore, STREAM_DOES_NOT_EXIST } from "@event-driven-io/emmett"
import type { Event } from "@event-driven-io/emmett"
import { at, eventType, foldAmount, now, oneStreamMeasurement, windows } from "../workloads.js"
import type { Payload, Target } from "../workloads.js"

type ItemAdded = Event<typeof eventType, Payload>

const events = (data: ReadonlyArray<Payload>, n: number): Array<ItemAdded> =>
  Array.from({ length: n }, (_, i) => ({ type: eventType, data: at(data, i) }))

/** One event per append, built before timing. */
const singles = (data: ReadonlyArray<Payload>, n: number): Array<Array<ItemAdded>> =>
  events(data, n).map((e) => [e])

export const emmettMemory: Target = {
  name: "Emmett memory",
  role: "peer",
  // Emmett's store copies the whole stream on every append and counts every stream's
  // events to assign a global position, so W2 and W3 grow quadratically: a single
  // 100k run of either takes many minutes (measured: the 10k→20k slice of W2 at
  // ~700 events/s). They run at 10% of the size, which flatters Emmett.
  caps: { W2: 10_000, W3: 10_000 },
  runners: {
    roundRobin: async (spec, data) => {
      const store = getInMemoryEventStore()
      const batches = singles(data, spec.events)
      const names = Array.from({ length: spec.streams }, (_, s) => `bench-${s}`)
      const versions: Array<bigint> = names.map(() => 0n)
      const t0 = now()
      for (let i = 0; i < spec.events; i++) {
        const s = i % spec.streams
        const result = await store.appendToStream(names[s] ?? "", batches[i] ?? [], {
          expectedStreamVersion: versions[s] ?? 0n
        })
        versions[s] = result.nextExpectedStreamVersion
      }
      return { events: spec.events, seconds: (now() - t0) / 1000 }
    },

    oneStream: async (spec, data) => {
      const store = getInMemoryEventStore()
      const batches = singles(data, spec.events)
      const { head, tail } = windows(spec)
      let version = 0n
      let headEnd = 0
      let tailStart = 0
      const t0 = now()
      for (let i = 0; i < spec.events; i++) {
        if (i === head) headEnd = now()
        if (i === tail) tailStart = now()
        const result = await store.appendToStream("bench-one", batches[i] ?? [], { expectedStreamVersion: version })
        version = result.nextExpectedStreamVersion
      }
      return oneStreamMeasurement(spec, { t0, headEnd, tailStart, t1: now() })
    },

    concurrentNewStreams: async (spec, data) => {
      const store = getInMemoryEventStore()
      const batches = singles(data, spec.events)
      const names = Array.from({ length: spec.events }, (_, i) => `bench-${i}`)
      let next = 0
      const worker = async (): Promise<void> => {
        while (next < spec.events) {
          const i = next++
          await store.appendToStream(names[i] ?? "", batches[i] ?? [], { expectedStreamVersion: STREAM_DOES_NOT_EXIST })
        }
      }
      const t0 = now()
      await Promise.all(Array.from({ length: spec.concurrency }, worker))
      return { events: spec.events, seconds: (now() - t0) / 1000 }
    },

    batches: async (spec, data) => {
      const store = getInMemoryEventStore()
      const all = events(data, spec.batches * spec.batchSize)
      const batches = Array.from(
        { length: spec.batches },
        (_, b) => all.slice(b * spec.batchSize, (b + 1) * spec.batchSize)
      )
      let version = 0n
      const t0 = now()
      for (const batch of batches) {
        const result = await store.appendToStream("bench-batches", batch, { expectedStreamVersion: version })
        version = result.nextExpectedStreamVersion
      }
      return { events: spec.batches * spec.batchSize, seconds: (now() - t0) / 1000 }
    },

    replayFold: async (spec, data) => {
      const store = getInMemoryEventStore()
      await store.appendToStream("bench-replay", events(data, spec.events), {
        expectedStreamVersion: STREAM_DOES_NOT_EXIST
      })
      const t0 = now()
      const result = await store.aggregateStream<number, ItemAdded>("bench-replay", {
        initialState: () => 0,
        evolve: (sum: number, event: ItemAdded) => foldAmount(sum, event.data)
      })
      const seconds = (now() - t0) / 1000
      return { events: Number(result.currentStreamVersion), seconds, check: result.state }
    }
  }
}
