/**
 * The peer of the `handler` suite (W6): Emmett 0.42's `DeciderCommandHandler` on its
 * in-memory store (`getInMemoryEventStore()`), running the same bank decider
 * (`examples/bank/Account.ts`).
 *
 * Emmett's decider shape differs only at the edges: its commands are `{ type, data }`
 * messages (here `data.command` is the bank command), `decide` returns the events or
 * throws (a rejection becomes an `Error`; W6 has none), `initialState` is a function.
 * `evolve` is the bank's own. Emmett has no codec step: events are stored as the objects
 * `decide` returned, where es-kernel encodes and validates them with io-ts on every
 * append and decodes them on every load — work Emmett is spared here.
 *
 * W7 (1,000 concurrent deposits to one account): Emmett's handler retries nothing by
 * default, and with it 1 of the 1,000 succeeds; the run uses its own version-conflict
 * retry (`retry: { onVersionConflict: true }`), with which all of them do. W8 has no
 * runner: Emmett has no `many` combinator.
 */
import { DeciderCommandHandler, getInMemoryEventStore } from "@event-driven-io/emmett"
import type { Command as EmmettCommand } from "@event-driven-io/emmett"
import * as Either from "fp-ts/lib/Either.js"
import { decider } from "../../examples/bank/Account.js"
import type { Command, Event, State } from "../../examples/bank/Account.js"
import { explain } from "../../examples/bank/Account.js"
import { accountId, bankCommands, hotDeposit, now, openingBalance } from "../workloads.js"
import type { Target } from "../workloads.js"

type BankCommand = EmmettCommand<"BankCommand", { readonly command: Command }>

const bankCommand = (command: Command): BankCommand => ({ type: "BankCommand", data: { command } })

const decide = (command: BankCommand, state: State): Array<Event> => {
  const decision = decider.decide(command.data.command, state)
  if (Either.isLeft(decision)) throw new Error(explain(decision.left))
  return [...decision.right]
}

const initialState = (): State => decider.initialState

const mapToStreamId = (id: string): string => `account-${id}`

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
      const ids = Array.from({ length: spec.accounts }, (_, i) => accountId(i))
      const commands = bankCommands(spec).map((c) => ({
        id: ids[c.account] ?? "",
        command: bankCommand({ type: c.kind, amount: c.amount, description: "bench" })
      }))
      for (const id of ids) await handle(store, id, bankCommand({ type: "OpenAccount", owner: id, initialBalance: openingBalance }))
      const t0 = now()
      for (const { id, command } of commands) await handle(store, id, command)
      const seconds = (now() - t0) / 1000
      let total = 0
      for (const id of ids) {
        const { state } = await store.aggregateStream<State, Event>(mapToStreamId(id), { evolve: decider.evolve, initialState })
        total += state.status === "Open" ? state.balance : Number.NaN
      }
      return { events: commands.length, seconds, check: total }
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
