// An application's TypeScript, type-checked against the installed package's declarations
// under strict flags, with and without @types/node. It needs no fast-check.
import { Effect } from "effect"
import * as t from "io-ts"
import { CommandHandler, Decider, EventCodec, EventStoreFile, EventStoreMemory, Projection, View } from "es-kernel"
import * as DeciderSpec from "es-kernel/testing/DeciderSpec"

const codec = EventCodec.make({ Deposited: EventCodec.io(t.type({ amount: t.number })) })
type Event = EventCodec.Event<typeof codec>
type Command = { readonly type: "Deposit"; readonly amount: number }
type State = { readonly balance: number }

const account = Decider.make({
  initialState: { balance: 0 },
  decide: (command: Command, _state: State) =>
    command.amount > 0
      ? Decider.accept<Event>({ type: "Deposited", data: { amount: command.amount } })
      : Decider.reject({ type: "AmountNotPositive" as const, amount: command.amount }),
  evolve: (state: State, event: Event): State => ({ balance: state.balance + event.data.amount })
})

DeciderSpec.forDecider(account).given().when({ type: "Deposit", amount: 0 }).thenRejectedWith({ type: "AmountNotPositive", amount: 0 })

const accounts = CommandHandler.make({ decider: account, codec, category: "account" })
const total = View.make({ initialState: 0, evolve: (sum: number, event: Event) => sum + event.data.amount })

export const program = Effect.gen(function*() {
  const { state } = yield* accounts.handle("ada", { type: "Deposit", amount: 30 })
  const { state: deposited } = yield* Projection.run({ codec, view: total })
  return state.balance + deposited
})

export const inMemory: Effect.Effect<number, unknown> = program.pipe(Effect.provide(EventStoreMemory.layer))
export const onDisk: Effect.Effect<number, unknown> = program.pipe(Effect.provide(EventStoreFile.layer({ directory: "data" })))
