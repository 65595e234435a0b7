/**
 * The subject of the `handler` suite (W6): es-kernel's `CommandHandler` running the bank
 * example's decider and io-ts codec (`examples/bank/Account.ts`) on the memory layer.
 *
 * One Effect program per run over a fresh `EventStoreMemory.layer`: open the accounts
 * (untimed), then time the commands, one `handle` after another, then (untimed) load every
 * account and return the total balance for the harness to check. The commands are built
 * before the clock starts.
 */
import { Effect } from "effect"
import type { Layer } from "effect"
import { codec, decider } from "../../examples/bank/Account.js"
import type { Command } from "../../examples/bank/Account.js"
import * as CommandHandler from "../../src/CommandHandler.js"
import type { EventStore } from "../../src/EventStore.js"
import { layer } from "../../src/EventStoreMemory.js"
import { accountId, bankCommands, now, openingBalance } from "../workloads.js"
import type { Measurement, Runner, Target } from "../workloads.js"

const handler = CommandHandler.make({ decider, codec, category: "account" })

/** W6 on the fresh store `run` provides (the PostgreSQL target reuses it with its own layer). */
export const commandsOn = (
  run: (program: Effect.Effect<Measurement, unknown, EventStore>) => Promise<Measurement>
): Runner<"commands"> =>
  (spec) => {
      const ids = Array.from({ length: spec.accounts }, (_, i) => accountId(i))
      const commands = bankCommands(spec).map((c): { readonly id: string; readonly command: Command } => ({
        id: ids[c.account] ?? "",
        command: { type: c.kind, amount: c.amount, description: "bench" }
      }))
      return run(Effect.gen(function*() {
        for (const id of ids) yield* handler.handle(id, { type: "OpenAccount", owner: id, initialBalance: openingBalance })
        const t0 = now()
        for (const { id, command } of commands) yield* handler.handle(id, command)
        const seconds = (now() - t0) / 1000
        let total = 0
        for (const id of ids) {
          const { state } = yield* handler.load(id)
          total += state.status === "Open" ? state.balance : Number.NaN
        }
        return { events: commands.length, seconds, check: total }
      }))
    }

const onMemory = (storeLayer: Layer.Layer<EventStore>) => (program: Effect.Effect<Measurement, unknown, EventStore>) =>
  Effect.runPromise(Effect.provide(program, storeLayer))

export const eskernelHandler: Target = {
  name: "es-kernel handler",
  role: "subject",
  runners: { commands: commandsOn(onMemory(layer)) }
}
