/**
 * The bank account on an event store, through the command handler: each command, the
 * events it appends or the reason it is rejected, and the state after it; then an event
 * written by an older version of the app (MoneyDeposited v1) read back as v2.
 *
 * Run: npx tsx examples/bank-account.ts
 */
import { Console, Effect, Stream } from "effect"
import * as Either from "fp-ts/lib/Either.js"
import { CommandHandler, Decider, EventStore, EventStoreMemory } from "es-kernel"
import * as Account from "./bank/Account.js"

const accounts = CommandHandler.make({ decider: Account.decider, codec: Account.codec, category: "account" })

const commands: ReadonlyArray<Account.Command> = [
  { type: "Deposit", amount: 1_000 },
  { type: "OpenAccount", owner: "Ada", initialBalance: -500 },
  { type: "OpenAccount", owner: "Ada", initialBalance: 10_000 },
  { type: "OpenAccount", owner: "Ada", initialBalance: 5_000 },
  { type: "Deposit", amount: 2_550, description: "salary" },
  { type: "Deposit", amount: 0 },
  { type: "Withdraw", amount: -100 },
  { type: "Withdraw", amount: 50_000, description: "a boat" },
  { type: "Withdraw", amount: 4_000, description: "rent" },
  { type: "CloseAccount", reason: "moving abroad" },
  { type: "Withdraw", amount: 8_550, description: "everything" },
  { type: "CloseAccount", reason: "moving abroad" },
  { type: "Deposit", amount: 100 }
]

const run = (id: string, command: Account.Command, commandId: string) =>
  Effect.gen(function*() {
    yield* Console.log(`> ${id}: ${Account.describeCommand(command)}`)
    const handled = yield* accounts.handle(id, command, { commandId, metadata: { user: "teller-7" } })
    for (const event of handled.events) yield* Console.log(`  + ${event.type} ${JSON.stringify(event.data)}`)
    yield* Console.log(`  = ${Account.describeState(handled.state)} (version ${handled.version})`)
  }).pipe(Effect.catchTag("Rejected", (rejected) => Console.log(`  rejected: ${Account.explain(rejected.rejection)}`)))

const program = Effect.gen(function*() {
  const store = yield* EventStore.EventStore

  yield* Console.log("== Ada's account, command by command")
  for (const [index, command] of commands.entries()) yield* run("ada", command, `ada-cmd-${index}`)

  yield* Console.log("\n== A retried command is applied once")
  yield* run("bob", { type: "OpenAccount", owner: "Bob", initialBalance: 2_000 }, "bob-open")
  const retried = yield* accounts.handle("bob", { type: "OpenAccount", owner: "Bob", initialBalance: 2_000 }, { commandId: "bob-open" })
  yield* Console.log(`  retry of bob-open: already handled = ${retried.alreadyHandled}, version still ${retried.version}`)

  yield* Console.log("\n== An event written by an older version of the app")
  // Version 1 of MoneyDeposited had no description: written here raw, as the old app did.
  yield* store.append("account-bob", [{ type: "MoneyDeposited", schemaVersion: 1, data: { amount: 700 } }], retried.version)
  const [stored] = yield* Stream.runCollect(store.readStream("account-bob", { direction: "backward", limit: 1 }))
  if (stored !== undefined) {
    yield* Console.log(`  stored:  ${stored.type} v${stored.schemaVersion} ${JSON.stringify(stored.data)}`)
    const decoded = Account.codec.decode(stored)
    if (Either.isRight(decoded)) yield* Console.log(`  read as: ${decoded.right.type} v2 ${JSON.stringify(decoded.right.data)}`)
  }
  const bob = yield* accounts.load("bob")
  yield* Console.log(`  bob: ${Account.describeState(bob.state)} (version ${bob.version})`)

  yield* Console.log("\n== Replay")
  const ada = yield* accounts.load("ada")
  const recorded = yield* Stream.runCollect(store.readStream("account-ada"))
  const history = recorded.map(Account.codec.decode).flatMap((decoded) => (Either.isRight(decoded) ? [decoded.right] : []))
  const replayed = Decider.fold(Account.decider, history)
  yield* Console.log(`  ada: ${history.length} events replay to "${Account.describeState(replayed)}"`)
  yield* Console.log(`  replay matches the handler's state: ${JSON.stringify(replayed) === JSON.stringify(ada.state)}`)
})

Effect.runPromise(program.pipe(Effect.provide(EventStoreMemory.layer))).catch((error: unknown) => {
  console.error(error)
  process.exitCode = 1
})
