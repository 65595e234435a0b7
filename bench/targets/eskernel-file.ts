/**
 * The subject of the `file` suite: es-kernel's durable file layer (`src/EventStoreFile.ts`,
 * `layer({ directory })` with the default `sync: "durable"`), through its public API only.
 *
 * Each run gets a fresh directory under `os.tmpdir()`, removed afterwards, and provides
 * the layer to one Effect program (as the memory target does): the layer is opened before
 * the clock starts and closed after it stops. F2 and F3 share one 1,000,000-event store,
 * built once per process in 1,000-event batches and removed by `dispose`.
 */
import { mkdtemp, rm } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Effect, Stream } from "effect"
import { EventStore } from "../../src/EventStore.js"
import { layer } from "../../src/EventStoreFile.js"
import { now, watchRss } from "../workloads.js"
import type { Measurement, Payload, Target } from "../workloads.js"
import { events, singles, storeRunners } from "./eskernel-store.js"

export const freshDirectory = (prefix: string): Promise<string> => mkdtemp(join(tmpdir(), `es-bench-${prefix}-`))

export const removeDirectory = (directory: string): Promise<void> => rm(directory, { recursive: true, force: true })

/** Runs `program` on the file layer over `directory` (opened before, closed after). */
const runOn = <A>(directory: string, program: Effect.Effect<A, unknown, EventStore>): Promise<A> =>
  Effect.runPromise(program.pipe(Effect.provide(layer({ directory }))))

/** Runs `program` on a fresh store in a fresh directory, then removes it. */
const run = async (program: Effect.Effect<Measurement, unknown, EventStore>): Promise<Measurement> => {
  const directory = await freshDirectory("file")
  try {
    return await runOn(directory, program)
  } finally {
    await removeDirectory(directory)
  }
}

// ---------------------------------------------------------------------------
// F2/F3: one big store per process
// ---------------------------------------------------------------------------

const bigBatch = 1_000
const bigStreams = 1_000
let big: { readonly events: number; readonly directory: string } | undefined

/** The version of stream `big-0` in the prebuilt store of `n` events (it gets batches 0, 1,000, 2,000, …). */
export const firstStreamVersion = (n: number): number => {
  let version = 0
  for (let b = 0; b * bigBatch < n; b += bigStreams) version += Math.min(bigBatch, n - b * bigBatch)
  return version
}

/** The prebuilt store of `n` events: 1,000-event batches round-robin over 1,000 streams. */
const bigStore = async (n: number, data: ReadonlyArray<Payload>): Promise<string> => {
  if (big !== undefined && big.events === n) return big.directory
  if (big !== undefined) await removeDirectory(big.directory)
  big = undefined
  const directory = await freshDirectory("file-big")
  const t0 = now()
  await runOn(directory, Effect.gen(function*() {
    const store = yield* EventStore
    for (let done = 0, b = 0; done < n; b++) {
      const size = Math.min(bigBatch, n - done)
      yield* store.append(`big-${b % bigStreams}`, events(data, size, done), "any")
      done += size
    }
  }))
  process.stderr.write(`es-kernel file: built a ${n.toLocaleString("en-US")}-event store in ${((now() - t0) / 1000).toFixed(1)} s\n`)
  big = { events: n, directory }
  return directory
}

export const eskernelFile: Target = {
  name: "es-kernel file",
  role: "subject",
  dispose: async () => {
    if (big !== undefined) await removeDirectory(big.directory)
    big = undefined
  },
  runners: {
    ...storeRunners(run),

    concurrentWriters: (spec, data) => {
      const batches = singles(data, spec.events)
      const writers = Array.from({ length: spec.writers }, (_, w) => w)
      return run(Effect.gen(function*() {
        const store = yield* EventStore
        const t0 = now()
        // Writer w appends events w, w + writers, w + 2·writers, … to its own stream, in turn.
        yield* Effect.forEach(
          writers,
          (w) =>
            Effect.gen(function*() {
              let version = 0
              for (let i = w; i < spec.events; i += spec.writers) {
                const result = yield* store.append(`writer-${w}`, batches[i] ?? [], version)
                version = result.nextExpectedVersion
              }
            }),
          { concurrency: "unbounded", discard: true }
        )
        return { events: spec.events, seconds: (now() - t0) / 1000 }
      }))
    },

    open: async (spec, data) => {
      const directory = await bigStore(spec.events, data)
      const expected = firstStreamVersion(spec.events)
      // The clock starts before the layer is built (lock, index scan) and stops once the
      // store has answered its first query; closing it is not timed.
      const t0 = now()
      const { version, t1 } = await runOn(directory, Effect.gen(function*() {
        const store = yield* EventStore
        const v = yield* store.streamVersion("big-0")
        return { version: v, t1: now() }
      }))
      if (version !== expected) throw new Error(`es-kernel file F2: big-0 at version ${version}, expected ${expected}`)
      return { events: spec.events, seconds: (t1 - t0) / 1000 }
    },

    readAll: async (spec, data) => {
      const directory = await bigStore(spec.events, data)
      return runOn(directory, Effect.gen(function*() {
        const store = yield* EventStore
        // RSS is sampled on a timer beside the read: the read must stream, never hold every event.
        const stopWatching = watchRss()
        const t0 = now()
        const count = yield* Stream.runCount(store.readAll())
        const seconds = (now() - t0) / 1000
        return { events: count, seconds, memory: { what: "peak RSS growth", bytes: stopWatching() } }
      }))
    }
  }
}
