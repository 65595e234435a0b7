/**
 * The subject of the `postgres` suite: es-kernel's PostgreSQL layer
 * (`EventStorePostgres.layer({ url })`, default settings) through its public API only.
 *
 * Each run gets a fresh database on the local server, dropped afterwards, and provides
 * the layer to one Effect program: the schema is created before the clock starts. W6 is
 * the bank handler of the `handler` suite on this layer.
 */
import { Effect } from "effect"
import type { EventStore } from "../../src/EventStore.js"
import * as EventStorePostgres from "../../src/EventStorePostgres.js"
import type { Target } from "../workloads.js"
import { runCommands } from "./eskernel-handler.js"
import { storeRunners } from "./eskernel-store.js"
import { withFreshDatabase } from "./postgres-database.js"

/** Runs `program` on the layer over a fresh database. */
const run = <A>(program: Effect.Effect<A, unknown, EventStore>): Promise<A> =>
  withFreshDatabase("eskernel", (url) => Effect.runPromise(Effect.provide(program, EventStorePostgres.layer({ url }))))

export const eskernelPostgres: Target = {
  name: "es-kernel postgres",
  role: "subject",
  runners: { ...storeRunners(run), commands: runCommands(run) }
}
