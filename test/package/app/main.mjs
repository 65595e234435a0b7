// Plain Node, no TypeScript: a decider run through the command handler on the memory
// layer and on the file layer (in the directory given as the first argument).
import { Effect } from "effect"
import * as t from "io-ts"
import { CommandHandler, Decider, EventCodec, EventStoreFile, EventStoreMemory } from "es-kernel"

const codec = EventCodec.make({ Deposited: EventCodec.io(t.type({ amount: t.number })) })
const account = Decider.make({
  initialState: { balance: 0 },
  decide: (command, _state) =>
    command.amount > 0
      ? Decider.accept({ type: "Deposited", data: { amount: command.amount } })
      : Decider.reject({ type: "AmountNotPositive", amount: command.amount }),
  evolve: (state, event) => ({ balance: state.balance + event.data.amount })
})
const accounts = CommandHandler.make({ decider: account, codec, category: "account" })

const deposits = Effect.gen(function*() {
  yield* accounts.handle("ada", { type: "Deposit", amount: 30 })
  const { state } = yield* accounts.handle("ada", { type: "Deposit", amount: 12 })
  const rejected = yield* Effect.flip(accounts.handle("ada", { type: "Deposit", amount: -1 }))
  return `balance ${state.balance}, then ${rejected._tag}`
})

const directory = process.argv[2]
console.log("memory:", await Effect.runPromise(deposits.pipe(Effect.provide(EventStoreMemory.layer))))
console.log("file:", await Effect.runPromise(deposits.pipe(Effect.provide(EventStoreFile.layer({ directory })))))
console.log("file, reopened:", await Effect.runPromise(deposits.pipe(Effect.provide(EventStoreFile.layer({ directory })))))
