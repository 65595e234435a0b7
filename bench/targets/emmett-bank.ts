/**
 * The bank decider in Emmett's shape, shared by the targets that run Emmett's
 * `DeciderCommandHandler` (on its in-memory store and on PostgreSQL), and the W6 run
 * they share.
 *
 * Emmett's commands are `{ type, data }` messages (here `data.command` is the bank
 * command), `decide` returns the events or throws (a rejection becomes an `Error`; W6
 * has none), `initialState` is a function. `evolve` is the bank's own.
 */
import * as Either from "fp-ts/lib/Either.js"
import { decider, explain } from "../../examples/bank/Account.js"
import type { Command, Event, State } from "../../examples/bank/Account.js"
import { accountId, bankCommands, now, openingBalance } from "../workloads.js"
import type { Commands, Measurement } from "../workloads.js"

export interface BankCommand {
  readonly type: "BankCommand"
  readonly data: { readonly command: Command }
}

export const bankCommand = (command: Command): BankCommand => ({ type: "BankCommand", data: { command } })

export const decide = (command: BankCommand, state: State): Array<Event> => {
  const decision = decider.decide(command.data.command, state)
  if (Either.isLeft(decision)) throw new Error(explain(decision.left))
  return [...decision.right]
}

export const initialState = (): State => decider.initialState

export const mapToStreamId = (id: string): string => `account-${id}`

/**
 * W6 through an Emmett handler: open the accounts, then time the commands one after
 * another; the check is the total balance, read back with `stateOf`.
 */
export const runBankCommands = async (
  spec: Commands,
  handle: (id: string, command: BankCommand) => Promise<unknown>,
  stateOf: (streamId: string) => Promise<State>
): Promise<Measurement> => {
  const ids = Array.from({ length: spec.accounts }, (_, i) => accountId(i))
  const commands = bankCommands(spec).map((c) => ({
    id: ids[c.account] ?? "",
    command: bankCommand({ type: c.kind, amount: c.amount, description: "bench" })
  }))
  for (const id of ids) await handle(id, bankCommand({ type: "OpenAccount", owner: id, initialBalance: openingBalance }))
  const t0 = now()
  for (const { id, command } of commands) await handle(id, command)
  const seconds = (now() - t0) / 1000
  let total = 0
  for (const id of ids) {
    const state = await stateOf(mapToStreamId(id))
    total += state.status === "Open" ? state.balance : Number.NaN
  }
  return { events: commands.length, seconds, check: total }
}
