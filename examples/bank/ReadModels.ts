/**
 * Two read models of the bank, fed from the same events: the balance of every account,
 * and each account's transaction history.
 */
import { View } from "es-kernel"
import type { Event } from "./Account.js"

const accountIdOf = (streamId: string): string => streamId.slice(streamId.indexOf("-") + 1)

export type Balances = ReadonlyMap<string, { readonly owner: string; readonly balance: number; readonly open: boolean }>

const noAccounts: Balances = new Map()

export const balances = View.make({
  initialState: noAccounts,
  evolve: (accounts: Balances, event: Event, { streamId }): Balances => {
    const id = accountIdOf(streamId)
    const account = accounts.get(id)
    const next = new Map(accounts)
    switch (event.type) {
      case "AccountOpened":
        return next.set(id, { owner: event.data.owner, balance: event.data.initialBalance, open: true })
      case "MoneyDeposited":
        return account === undefined ? accounts : next.set(id, { ...account, balance: account.balance + event.data.amount })
      case "MoneyWithdrawn":
        return account === undefined ? accounts : next.set(id, { ...account, balance: account.balance - event.data.amount })
      case "AccountClosed":
        return account === undefined ? accounts : next.set(id, { ...account, open: false })
    }
  }
})

export interface Transaction {
  readonly version: number
  readonly at: Date
  readonly kind: "deposit" | "withdrawal"
  readonly amount: number
  readonly description: string
}

export type Histories = ReadonlyMap<string, ReadonlyArray<Transaction>>

const noHistories: Histories = new Map()

export const histories = View.make({
  initialState: noHistories,
  evolve: (all: Histories, event: Event, { streamId, version, recordedAt }): Histories => {
    if (event.type !== "MoneyDeposited" && event.type !== "MoneyWithdrawn") return all
    const id = accountIdOf(streamId)
    const transaction: Transaction = {
      version,
      at: recordedAt,
      kind: event.type === "MoneyDeposited" ? "deposit" : "withdrawal",
      amount: event.data.amount,
      description: event.data.description
    }
    return new Map(all).set(id, [...(all.get(id) ?? []), transaction])
  }
})
