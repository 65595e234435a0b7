/**
 * Composed deciders on an event store, through the command handler:
 *
 * - a member: the bank account and a loyalty card side by side (`Decider.compose`), one
 *   stream holding both sides' events;
 * - a branch: a fleet of accounts keyed by id (`Decider.many`), one stream for all of them.
 *
 * Each composite runs the same commands as its parts, each part on its own stream, and the
 * example prints that they accept and reject the same commands and end in the same states.
 * Storing composed events needs a codec for them: `EventCodec.either` stores both sides'
 * events under their own names, `EventCodec.addressed` a fleet's.
 *
 * Run: npx tsx examples/composition.ts [--store memory | --store file:<directory>]
 * On a file store a second run continues the first: the opening commands are then
 * rejected (already open), the others add to the balances and points, and the composites
 * still agree with their parts.
 */
import { Console, Effect, Stream } from "effect"
import * as Either from "fp-ts/lib/Either.js"
import { CommandHandler, Decider, EventCodec, EventStore } from "es-kernel"
import * as Account from "./bank/Account.js"
import * as Loyalty from "./composition/Loyalty.js"
import { storeFromArgs } from "./store.js"

// ---------------------------------------------------------------------------
// A member: an account and a loyalty card, composed
// ---------------------------------------------------------------------------

// The sides' rejections are tagged before composing, so a rejection says which side refused.
type MemberRejection =
  | { readonly side: "account"; readonly rejection: Account.Rejection }
  | { readonly side: "loyalty"; readonly rejection: Loyalty.Rejection }

const accountSide = Decider.mapRejection(Account.decider, (rejection): MemberRejection => ({ side: "account", rejection }))
const loyaltySide = Decider.mapRejection(Loyalty.decider, (rejection): MemberRejection => ({ side: "loyalty", rejection }))

// The two sides' event names differ, so `Left(e)` and `Right(e)` are stored as `e`.
const memberEvents = EventCodec.either(Account.codec, Loyalty.codec)
const member = Decider.mapEvent(Decider.compose(accountSide, loyaltySide), memberEvents.mapping)

const members = CommandHandler.make({ decider: member, codec: memberEvents.codec, category: "member" })
const memberAccounts = CommandHandler.make({ decider: Account.decider, codec: Account.codec, category: "memberAccount" })
const memberCards = CommandHandler.make({ decider: Loyalty.decider, codec: Loyalty.codec, category: "memberLoyalty" })

type MemberCommand = Decider.CommandOf<typeof member>

const memberScript: ReadonlyArray<MemberCommand> = [
  Either.left({ type: "OpenAccount", owner: "Ada", initialBalance: 10_000 }),
  Either.right({ type: "EarnPoints", points: 100, reason: "welcome" }),
  Either.right({ type: "RedeemPoints", points: 500, reward: "a mug" }),
  Either.left({ type: "Deposit", amount: 2_500, description: "salary" }),
  Either.right({ type: "EarnPoints", points: 25, reason: "salary paid in" }),
  Either.left({ type: "Withdraw", amount: 50_000, description: "a boat" }),
  Either.right({ type: "RedeemPoints", points: 0, reward: "nothing" }),
  Either.right({ type: "RedeemPoints", points: 75, reward: "a coffee" })
]

const describeMemberCommand = (command: MemberCommand): string =>
  Either.isLeft(command) ? `account: ${Account.describeCommand(command.left)}` : `loyalty: ${Loyalty.describeCommand(command.right)}`

const explainMember = ({ side, rejection }: MemberRejection): string => {
  switch (side) {
    case "account":
      return `rejected by the account: ${Account.explain(rejection)}`
    case "loyalty":
      return `rejected by the loyalty card: ${Loyalty.explain(rejection)}`
  }
}

const describeMember = ([account, card]: Decider.StateOf<typeof member>): string =>
  `account ${Account.describeState(account)}; card ${Loyalty.describeState(card)}`

/** The same command, through the part it is for, on that part's own stream. */
const throughPart = (id: string, command: MemberCommand) =>
  Either.isLeft(command)
    ? memberAccounts.handle(id, command.left).pipe(Effect.as("accepted"), Effect.catchTag("Rejected", () => Effect.succeed("rejected")))
    : memberCards.handle(id, command.right).pipe(Effect.as("accepted"), Effect.catchTag("Rejected", () => Effect.succeed("rejected")))

const memberDemo = (id: string) =>
  Effect.gen(function*() {
    let agreed = 0
    for (const command of memberScript) {
      yield* Console.log(`> ${id} ${describeMemberCommand(command)}`)
      const outcome = yield* members.handle(id, command).pipe(
        Effect.tap((handled) =>
          Effect.gen(function*() {
            for (const event of handled.events) yield* Console.log(`  + ${event.type} ${JSON.stringify(event.data)}`)
            yield* Console.log(`  = ${describeMember(handled.state)} (version ${handled.version})`)
          })
        ),
        Effect.as("accepted"),
        Effect.catchTag("Rejected", (rejected) => Effect.as(Console.log(`  ${explainMember(rejected.rejection)}`), "rejected"))
      )
      if ((yield* throughPart(id, command)) === outcome) agreed++
    }
    const store = yield* EventStore.EventStore
    const recorded = yield* Stream.runCollect(store.readStream(members.streamIdOf(id)))
    yield* Console.log(`  ${members.streamIdOf(id)} holds both sides' events, in one version sequence: ${recorded.map((event) => event.type).join(", ")}`)

    yield* Console.log("The same commands, each through its own part, on its own stream:")
    const composite = yield* members.load(id)
    const account = yield* memberAccounts.load(id)
    const card = yield* memberCards.load(id)
    yield* Console.log(`  ${memberAccounts.streamIdOf(id).padEnd(18)} ${Account.describeState(account.state)} (version ${account.version})`)
    yield* Console.log(`  ${memberCards.streamIdOf(id).padEnd(18)} ${Loyalty.describeState(card.state)} (version ${card.version})`)
    yield* Console.log(`  the parts accepted and rejected the same commands as the composite: ${agreed === memberScript.length}`)
    const [compositeAccount, compositeCard] = composite.state
    const same = JSON.stringify(compositeAccount) === JSON.stringify(account.state) && JSON.stringify(compositeCard) === JSON.stringify(card.state)
    yield* Console.log(`  the composite's state is the pair of its parts' states: ${same}`)
    yield* Console.log(`  the composite's version is the sum of theirs: ${composite.version === account.version + card.version}`)
  })

// ---------------------------------------------------------------------------
// A branch: a fleet of accounts, keyed by id
// ---------------------------------------------------------------------------

const fleet = Decider.many(Account.decider)
const branches = CommandHandler.make({ decider: fleet, codec: EventCodec.addressed(Account.codec), category: "branch" })
const branchAccounts = CommandHandler.make({ decider: Account.decider, codec: Account.codec, category: "branchAccount" })

const branchScript: ReadonlyArray<Decider.CommandOf<typeof fleet>> = [
  { id: "ada", value: { type: "OpenAccount", owner: "Ada", initialBalance: 5_000 } },
  { id: "bob", value: { type: "OpenAccount", owner: "Bob", initialBalance: 1_000 } },
  { id: "ada", value: { type: "Deposit", amount: 1_000, description: "refund" } },
  { id: "bob", value: { type: "Withdraw", amount: 3_000, description: "rent" } },
  { id: "cy", value: { type: "Deposit", amount: 100 } },
  { id: "bob", value: { type: "Withdraw", amount: 400, description: "groceries" } }
]

const branchDemo = (branch: string) =>
  Effect.gen(function*() {
    let agreed = 0
    for (const command of branchScript) {
      yield* Console.log(`> ${branch}/${command.id}: ${Account.describeCommand(command.value)}`)
      const outcome = yield* branches.handle(branch, command).pipe(
        Effect.tap((handled) =>
          Effect.gen(function*() {
            for (const event of handled.events) yield* Console.log(`  + ${event.id}: ${event.value.type} ${JSON.stringify(event.value.data)}`)
            const state = handled.state.get(command.id)
            yield* Console.log(`  = ${command.id}: ${state === undefined ? "-" : Account.describeState(state)} (branch version ${handled.version})`)
          })
        ),
        Effect.as("accepted"),
        Effect.catchTag("Rejected", (rejected) => Effect.as(Console.log(`  rejected: ${Account.explain(rejected.rejection)}`), "rejected"))
      )
      const alone = yield* branchAccounts.handle(`${branch}.${command.id}`, command.value).pipe(
        Effect.as("accepted"),
        Effect.catchTag("Rejected", () => Effect.succeed("rejected"))
      )
      if (alone === outcome) agreed++
    }
    const store = yield* EventStore.EventStore
    const [last] = yield* Stream.runCollect(store.readStream(branches.streamIdOf(branch), { direction: "backward", limit: 1 }))
    if (last !== undefined) yield* Console.log(`  stored as: ${last.type} v${last.schemaVersion} ${JSON.stringify(last.data)}`)

    yield* Console.log("The same commands, each account on its own stream:")
    const together = yield* branches.load(branch)
    let same = true
    for (const [id, state] of together.state) {
      const alone = yield* branchAccounts.load(`${branch}.${id}`)
      const agrees = JSON.stringify(alone.state) === JSON.stringify(state)
      same = same && agrees
      yield* Console.log(`  ${branchAccounts.streamIdOf(`${branch}.${id}`).padEnd(22)} ${Account.describeState(alone.state)} (version ${alone.version})`)
    }
    yield* Console.log(`  the accounts alone accepted and rejected the same commands as the fleet: ${agreed === branchScript.length}`)
    yield* Console.log(`  each account's state in the fleet is its state alone: ${same}`)
  })

const program = Effect.gen(function*() {
  const store = yield* EventStore.EventStore
  const earlier = yield* Stream.runCount(store.readAll({ filter: { categories: ["member", "branch"] } }))
  yield* Console.log(`${earlier} member and branch events from earlier runs`)
  yield* Console.log("\n== A member: an account and a loyalty card, composed")
  yield* memberDemo("ada")
  yield* Console.log("\n== A branch: a fleet of accounts, keyed by id")
  yield* branchDemo("lyon")
})

const chosen = storeFromArgs()
console.log(`composition example on the ${chosen.description} store`)
Effect.runPromise(program.pipe(Effect.provide(chosen.layer))).catch((error: unknown) => {
  console.error(error)
  process.exitCode = 1
})
