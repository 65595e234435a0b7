/**
 * The subject: es-kernel's memory layer (`src/EventStoreMemory.ts`), running the shared
 * W1–W5 of `eskernel-store.ts` on a freshly built layer per run.
 */
import { Effect } from "effect"
import type { EventStore } from "../../src/EventStore.js"
import { layer } from "../../src/EventStoreMemory.js"
import type { Measurement, Target } from "../workloads.js"
import { storeRunners } from "./eskernel-store.js"

const run = (program: Effect.Effect<Measurement, unknown, EventStore>): Promise<Measurement> =>
  Effect.runPromise(program.pipe(Effect.provide(layer)))

export const eskernelMemory: Target = {
  name: "es-kernel memory",
  role: "subject",
  runners: storeRunners(run, { heapPerEvent: true })
}
