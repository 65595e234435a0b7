/**
 * The `snapshots` suite: a 100,000-event stream loaded by a `CommandHandler` that holds no
 * state of it, from a snapshot plus the tail (subject) or by reading it whole (peer), on
 * the memory, file and PostgreSQL layers.
 *
 * One store per layer and process holds the stream and its snapshot (built untimed, the
 * first time a run needs it, and shared by both targets); every run makes a new handler,
 * so no run finds the state cached, and times only `load`. The handler folds the sum of
 * the events' `amount`, which the harness checks against the same sum computed directly:
 * both loads must give it.
 */
import { join } from "node:path"
import { Effect, Layer, ManagedRuntime } from "effect"
import * as Either from "fp-ts/lib/Either.js"
import * as t from "io-ts"
import * as CommandHandler from "../../src/CommandHandler.js"
import * as Decider from "../../src/Decider.js"
import * as EventCodec from "../../src/EventCodec.js"
import { EventStore, limits } from "../../src/EventStore.js"
import * as EventStoreFile from "../../src/EventStoreFile.js"
import * as EventStoreMemory from "../../src/EventStoreMemory.js"
import * as EventStorePostgres from "../../src/EventStorePostgres.js"
import * as Snapshot from "../../src/Snapshot.js"
import * as SnapshotStore from "../../src/SnapshotStore.js"
import { now } from "../workloads.js"
import type { Measurement, Payload, SnapshotLoad, Target } from "../workloads.js"
import { freshDirectory, removeDirectory } from "./eskernel-file.js"
import { events } from "./eskernel-store.js"
import { freshDatabase } from "./postgres-database.js"

const codec = EventCodec.make({ ItemAdded: EventCodec.io(t.type({ amount: t.number })) })
type Event = EventCodec.Event<typeof codec>

const ledger = Decider.make({
  initialState: 0,
  decide: (_: never) => Decider.accept<Event>(),
  evolve: (sum: number, event: Event) => sum + event.data.amount
})

const sumCodec: Snapshot.StateCodec<number> = {
  version: 1,
  encode: (sum) => sum,
  decode: (json) => typeof json === "number" ? Either.right(json) : Either.left("not a number")
}

const withSnapshots = () =>
  CommandHandler.make({ decider: ledger, codec, category: "ledger", snapshots: { state: sumCodec, policy: Snapshot.never } })
const withoutSnapshots = () => CommandHandler.make({ decider: ledger, codec, category: "ledger" })

const id = "bench"

type Services = EventStore | SnapshotStore.SnapshotStore

interface Prepared {
  readonly runtime: ManagedRuntime.ManagedRuntime<Services, unknown>
  readonly release: () => Promise<void>
}

/** The layer's event and snapshot stores, fresh, and what removes them afterwards. */
const storesFor = async (layer: SnapshotLoad["layer"]): Promise<{ readonly layer: Layer.Layer<Services, unknown>; readonly remove: () => Promise<void> }> => {
  switch (layer) {
    case "memory":
      return { layer: Layer.mergeAll(EventStoreMemory.layer, SnapshotStore.layerMemory), remove: () => Promise.resolve() }
    case "file": {
      const directory = await freshDirectory("snapshots")
      return {
        layer: Layer.mergeAll(EventStoreFile.layer({ directory: join(directory, "events") }), SnapshotStore.layerFile({ directory: join(directory, "snapshots") })),
        remove: () => removeDirectory(directory)
      }
    }
    case "postgres": {
      const database = await freshDatabase("snapshots")
      return {
        layer: Layer.mergeAll(EventStorePostgres.layer({ url: database.url }), EventStorePostgres.layerSnapshots({ url: database.url })),
        remove: database.drop
      }
    }
  }
}

/** Appends `count` events from payload `offset` on, in the largest batches the contract takes. */
const appendEvents = (data: ReadonlyArray<Payload>, offset: number, count: number) =>
  Effect.gen(function*() {
    const store = yield* EventStore
    const streamId = withoutSnapshots().streamIdOf(id)
    for (let done = 0; done < count; done += limits.batchEvents) {
      yield* store.append(streamId, events(data, Math.min(limits.batchEvents, count - done), offset + done), offset + done)
    }
  })

const prepare = async (spec: SnapshotLoad, data: ReadonlyArray<Payload>): Promise<Prepared> => {
  const t0 = now()
  const stores = await storesFor(spec.layer)
  const runtime = ManagedRuntime.make(stores.layer)
  const release = async () => {
    await runtime.dispose()
    await stores.remove()
  }
  try {
    const atSnapshot = spec.events - spec.tail
    await runtime.runPromise(Effect.gen(function*() {
      yield* appendEvents(data, 0, atSnapshot)
      yield* withSnapshots().saveSnapshot(id)
      yield* appendEvents(data, atSnapshot, spec.tail)
    }))
  } catch (error) {
    await release()
    throw error
  }
  process.stderr.write(
    `es-kernel ${spec.layer}: built a ${spec.events.toLocaleString("en-US")}-event stream with a snapshot at ` +
      `${(spec.events - spec.tail).toLocaleString("en-US")} in ${((now() - t0) / 1000).toFixed(1)} s\n`
  )
  return { runtime, release }
}

// One store per layer and size, shared by the subject and the peer.
const prepared = new Map<string, Promise<Prepared>>()

const preparedFor = (spec: SnapshotLoad, data: ReadonlyArray<Payload>): Promise<Prepared> => {
  const key = `${spec.layer}:${spec.events}:${spec.tail}`
  const found = prepared.get(key)
  if (found !== undefined) return found
  const made = prepare(spec, data)
  prepared.set(key, made)
  return made
}

const dispose = async (): Promise<void> => {
  const all = [...prepared.values()]
  prepared.clear()
  for (const each of all) await (await each).release()
}

/** A run: a new handler (nothing cached) loads the stream; only `load` is timed. */
const loadWith = (make: () => CommandHandler.CommandHandler<never, number, Event, never, Services>) =>
  async (spec: SnapshotLoad, data: ReadonlyArray<Payload>): Promise<Measurement> => {
    const { runtime } = await preparedFor(spec, data)
    return runtime.runPromise(Effect.gen(function*() {
      const handler = make()
      const t0 = now()
      const loaded = yield* handler.load(id)
      const seconds = (now() - t0) / 1000
      return { events: loaded.version, seconds, check: loaded.state }
    }))
  }

export const eskernelSnapshot: Target = {
  name: "es-kernel snapshot+tail",
  role: "subject",
  dispose,
  runners: { snapshotLoad: loadWith(withSnapshots) }
}

export const eskernelReplay: Target = {
  name: "es-kernel full replay",
  role: "peer",
  dispose,
  runners: { snapshotLoad: loadWith(withoutSnapshots) }
}

