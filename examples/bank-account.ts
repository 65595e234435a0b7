/**
 * The bank account, decided in memory: each command, the events it yields or the reason it
 * is rejected, and the state after it. Run: npx tsx examples/bank-account.ts
 */
import * as Either from "fp-ts/lib/Either.js"
import { Decider } from "es-kernel"
import * as Account from "./bank/Account.js"

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

let state = Account.decider.initialState
const history: Array<Account.Event> = []
for (const command of commands) {
  console.log(`> ${Account.describeCommand(command)}`)
  const decision = Account.decider.decide(command, state)
  if (Either.isLeft(decision)) {
    console.log(`  rejected: ${Account.explain(decision.left)}`)
    continue
  }
  for (const event of decision.right) console.log(`  + ${event.type} ${JSON.stringify(event.data)}`)
  history.push(...decision.right)
  state = Decider.fold(Account.decider, decision.right, state)
  console.log(`  = ${Account.describeState(state)}`)
}

const replayed = Decider.fold(Account.decider, history)
console.log(`replayed ${history.length} events: ${Account.describeState(replayed)}`)
console.log(`replay matches: ${JSON.stringify(replayed) === JSON.stringify(state)}`)
