/**
 * The peer of the `handler` suite (W6): Emmett 0.42's `DeciderCommandHandler` on its
 * in-memory store (`getInMemoryEventStore()`), running the same bank decider
 * (`examples/bank/Account.ts`).
 *
 * Emmett's decider shape differs only at the edges (see `emmett-bank.ts`). Emmett has no
 * codec step: events are stored as the objects
 * `decide` returned, where es-kernel encodes and validates them with io-ts on every
 * append and decodes them on every load — work Emmett is spared here.
 *
 * W7 (1,000 concurrent deposits to one account): Emmett's handler retries nothing by
 * default, and with it 1 of the 1,000 succeeds; the run uses its own version-conflict
 * retry (`retry: { onVersionConflict: true }`), with which all of them do. W8 has no
 * runner: Emmett has no `many` combinator.
 */
import { DeciderCommandHandler, getInMemoryEventStore } from "@event-driven-io/emmett"
import { decider } from "../../examples/bank/Account.js"
import type { Event, State } from "../../examples/bank/Account.js"
import { hotDeposit, now } from "../workloads.js"
import type { Target } from "../workloads.js"
import { bankCommand, decide, initialState, mapToStreamId, runBankCommands } from "./emmett-bank.js"
import type { BankCommand } from "./emmett-bank.js"


const handle = DeciderCommandHandler<State, BankCommand, Event>({
  decide,
  evolve: decider.evolve,
  initialState,
  mapToStreamId
})

const handleRetrying = DeciderCommandHandler<State, BankCommand, Event>({
  decide,
  evolve: decider.evolve,
  initialState,
  mapToStreamId,
  retry: { onVersionConflict: true }
})

export const emmettHandler: Target = {
  name: "Emmett handler",
  role: "peer",
  runners: {
    commands: async (spec) => {
      const store = getInMemoryEventStore()
      return runBankCommands(
        spec,
        (id, command) => handle(store, id, command),
        async (streamId) =>
          (await store.aggregateStream<State, Event>(streamId, { evolve: decider.evolve, initialState })).state
      )
    },
    hotStream: async (spec) => {
      const store = getInMemoryEventStore()
      const commands = Array.from({ length: spec.commands }, (_, i) => bankCommand({ type: "Deposit", amount: hotDeposit(i), description: "bench" }))
      await handle(store, "hot", bankCommand({ type: "OpenAccount", owner: "hot", initialBalance: 0 }))
      const t0 = now()
      await Promise.all(commands.map((command) => handleRetrying(store, "hot", command)))
      const seconds = (now() - t0) / 1000
      const { state } = await store.aggregateStream<State, Event>(mapToStreamId("hot"), { evolve: decider.evolve, initialState })
      return { events: commands.length, seconds, check: state.status === "Open" ? state.balance : Number.NaN }
    }
  }
}
