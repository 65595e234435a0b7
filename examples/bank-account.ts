/**
 * The bank account on an event store, through the command handler: each command, the
 * events it appends or the reason it is rejected, and the state after it; an idempotent
 * retry; an event written by an older version of the app (MoneyDeposited v1) read back as
 * v2; two read models fed from the same events; and a replay that matches.
 *
 * Run: npx tsx examples/bank-account.ts [--store memory | --store file:<directory>]
 * On a file store a second run continues the first run's history.
 */
import { Console, Effect, Stream } from "effect"
import * as Either from "fp-ts/lib/Either.js"
import { CommandHandler, Decider, EventStore, Projection, View } from "es-kernel"
import * as Account from "./bank/Account.js"
import * as ReadModels from "./bank/ReadModels.js"
import { storeFromArgs } from "./store.js"

const accounts = CommandHandler.make({ decider: Account.decider, codec: Account.codec, category: "account" })

const script: ReadonlyArray<readonly [string, Account.Command]> = [
  ["ada", { type: "Deposit", amount: 1_000 }],
  ["ada", { type: "OpenAccount", owner: "Ada", initialBalance: -500 }],
  ["ada", { type: "OpenAccount", owner: "Ada", initialBalance: 10_000 }],
  ["ada", { type: "OpenAccount", owner: "Ada", initialBalance: 5_000 }],
  ["ada", { type: "Deposit", amount: 2_550, description: "salary" }],
  ["ada", { type: "Deposit", amount: 0 }],
  ["ada", { type: "Withdraw", amount: -100 }],
  ["ada", { type: "Withdraw", amount: 50_000, description: "a boat" }],
  ["ada", { type: "Withdraw", amount: 4_000, description: "rent" }],
  ["cy", { type: "OpenAccount", owner: "Cy", initialBalance: 0 }],
  ["cy", { type: "Deposit", amount: 500, description: "pocket money" }],
  ["cy", { type: "CloseAccount", reason: "moving abroad" }],
  ["cy", { type: "Withdraw", amount: 500, description: "everything" }],
  ["cy", { type: "CloseAccount", reason: "moving abroad" }],
  ["cy", { type: "Deposit", amount: 100 }]
]

const run = (id: string, command: Account.Command, commandId?: string) =>
  Effect.gen(function*() {
    yield* Console.log(`> ${id}: ${Account.describeCommand(command)}`)
    const handled = yield* accounts.handle(id, command, { ...(commandId === undefined ? {} : { commandId }), metadata: { user: "teller-7" } })
    if (handled.alreadyHandled) yield* Console.log(`  already handled by an earlier run: nothing appended`)
    else for (const event of handled.events) yield* Console.log(`  + ${event.type} ${JSON.stringify(event.data)}`)
    yield* Console.log(`  = ${Account.describeState(handled.state)} (version ${handled.version})`)
    return handled
  }).pipe(Effect.catchTag("Rejected", (rejected) => Console.log(`  rejected: ${Account.explain(rejected.rejection)}`)))

const program = Effect.gen(function*() {
  const store = yield* EventStore.EventStore
  const earlier = yield* Stream.runCount(store.readAll({ filter: { categories: ["account"] } }))
  yield* Console.log(`${earlier} account events from earlier runs`)

  yield* Console.log("\n== Commands")
  for (const [id, command] of script) yield* run(id, command)

  yield* Console.log("\n== A retried command is applied once")
  const open: Account.Command = { type: "OpenAccount", owner: "Bob", initialBalance: 2_000 }
  yield* run("bob", open, "bob-open")
  yield* run("bob", open, "bob-open")

  yield* Console.log("\n== An event written by an older version of the app")
  // MoneyDeposited v1 had no description: written here raw, the way the old app did.
  yield* store.append("account-bob", [{ type: "MoneyDeposited", schemaVersion: 1, data: { amount: 700 } }])
  const [stored] = yield* Stream.runCollect(store.readStream("account-bob", { direction: "backward", limit: 1 }))
  if (stored !== undefined) {
    yield* Console.log(`  stored:  ${stored.type} v${stored.schemaVersion} ${JSON.stringify(stored.data)}`)
    const decoded = Account.codec.decode(stored)
    if (Either.isRight(decoded)) yield* Console.log(`  read as: ${decoded.right.type} v2 ${JSON.stringify(decoded.right.data)}`)
  }
  const bob = yield* accounts.load("bob")
  yield* Console.log(`  bob: ${Account.describeState(bob.state)} (version ${bob.version})`)

  yield* Console.log("\n== Read models, fed from the same events")
  const { state: [balances, histories], checkpoint } = yield* Projection.run({
    codec: Account.codec,
    view: View.both(ReadModels.balances, ReadModels.histories),
    filter: { categories: ["account"] }
  })
  for (const [id, account] of balances) {
    yield* Console.log(`  ${id.padEnd(4)} ${account.owner.padEnd(4)} ${Account.money(account.balance).padStart(8)} ${account.open ? "open" : "closed"}`)
  }
  yield* Console.log(`  ada's transactions:`)
  for (const t of histories.get("ada") ?? []) {
    yield* Console.log(`    v${t.version} ${t.kind.padEnd(10)} ${Account.money(t.amount).padStart(8)} ${t.description}`)
  }
  yield* Console.log(`  (read up to position ${checkpoint})`)

  yield* Console.log("\n== Replay")
  const ada = yield* accounts.load("ada")
  const recorded = yield* Stream.runCollect(store.readStream("account-ada"))
  const history = recorded.map(Account.codec.decode).flatMap((decoded) => (Either.isRight(decoded) ? [decoded.right] : []))
  const replayed = Decider.fold(Account.decider, history)
  yield* Console.log(`  ada: ${history.length} events replay to "${Account.describeState(replayed)}"`)
  yield* Console.log(`  replay matches the handler's state: ${JSON.stringify(replayed) === JSON.stringify(ada.state)}`)
  const balance = balances.get("ada")?.balance
  yield* Console.log(`  replay matches the balances read model: ${ada.state.status === "Open" && ada.state.balance === balance}`)
})

const chosen = storeFromArgs()
console.log(`bank account example on the ${chosen.description} store`)
Effect.runPromise(program.pipe(Effect.provide(chosen.layer))).catch((error: unknown) => {
  console.error(error)
  process.exitCode = 1
})
