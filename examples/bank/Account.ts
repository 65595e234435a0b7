/**
 * A bank account, as a decider (the account of the event-sourcing primer every user reads
 * first). Amounts are integer cents, so a balance never drifts by floating-point error.
 */
import * as t from "io-ts"
import { Decider, EventCodec, Upcaster } from "es-kernel"

// ---------------------------------------------------------------------------
// Events — a storage format, kept forever: change a payload only with a new schema
// version and an upcaster, never in place.
// ---------------------------------------------------------------------------

/** MoneyDeposited v1 had no description; v2 added it, and v1 events read as "". */
const MoneyDepositedV1 = t.type({ amount: t.number })

export const codec = EventCodec.make({
  AccountOpened: EventCodec.io(t.type({ owner: t.string, initialBalance: t.number })),
  MoneyDeposited: EventCodec.io(t.type({ amount: t.number, description: t.string }), {
    version: 2,
    upcast: { 1: Upcaster.io(MoneyDepositedV1, (v1) => ({ amount: v1.amount, description: "" })) }
  }),
  MoneyWithdrawn: EventCodec.io(t.type({ amount: t.number, description: t.string })),
  AccountClosed: EventCodec.io(t.type({ reason: t.string }))
})

export type Event = EventCodec.Event<typeof codec>

// ---------------------------------------------------------------------------
// State
// ---------------------------------------------------------------------------

export type State =
  | { readonly status: "NotOpen" }
  | { readonly status: "Open"; readonly owner: string; readonly balance: number }
  | { readonly status: "Closed"; readonly owner: string }

export const initialState: State = { status: "NotOpen" }

export const evolve = (state: State, event: Event): State => {
  switch (event.type) {
    case "AccountOpened":
      return { status: "Open", owner: event.data.owner, balance: event.data.initialBalance }
    case "MoneyDeposited":
      return state.status === "Open" ? { ...state, balance: state.balance + event.data.amount } : state
    case "MoneyWithdrawn":
      return state.status === "Open" ? { ...state, balance: state.balance - event.data.amount } : state
    case "AccountClosed":
      return state.status === "Open" ? { status: "Closed", owner: state.owner } : state
  }
}

// ---------------------------------------------------------------------------
// Decisions
// ---------------------------------------------------------------------------

export type Command =
  | { readonly type: "OpenAccount"; readonly owner: string; readonly initialBalance: number }
  | { readonly type: "Deposit"; readonly amount: number; readonly description?: string }
  | { readonly type: "Withdraw"; readonly amount: number; readonly description?: string }
  | { readonly type: "CloseAccount"; readonly reason: string }

export type Rejection =
  | { readonly type: "AccountAlreadyOpen" }
  | { readonly type: "AccountNotOpen" }
  | { readonly type: "AccountIsClosed" }
  | { readonly type: "NegativeInitialBalance"; readonly initialBalance: number }
  | { readonly type: "AmountNotPositive"; readonly amount: number }
  | { readonly type: "InsufficientFunds"; readonly balance: number; readonly amount: number }
  | { readonly type: "BalanceNotZero"; readonly balance: number }

export const decide = (command: Command, state: State) => {
  if (state.status === "Closed") return Decider.reject<Rejection>({ type: "AccountIsClosed" })
  if (command.type === "OpenAccount") {
    if (state.status !== "NotOpen") return Decider.reject<Rejection>({ type: "AccountAlreadyOpen" })
    if (command.initialBalance < 0) {
      return Decider.reject<Rejection>({ type: "NegativeInitialBalance", initialBalance: command.initialBalance })
    }
    return Decider.accept<Event>({ type: "AccountOpened", data: { owner: command.owner, initialBalance: command.initialBalance } })
  }
  if (state.status !== "Open") return Decider.reject<Rejection>({ type: "AccountNotOpen" })
  switch (command.type) {
    case "Deposit":
      return command.amount <= 0
        ? Decider.reject<Rejection>({ type: "AmountNotPositive", amount: command.amount })
        : Decider.accept<Event>({ type: "MoneyDeposited", data: { amount: command.amount, description: command.description ?? "" } })
    case "Withdraw":
      if (command.amount <= 0) return Decider.reject<Rejection>({ type: "AmountNotPositive", amount: command.amount })
      if (command.amount > state.balance) {
        return Decider.reject<Rejection>({ type: "InsufficientFunds", balance: state.balance, amount: command.amount })
      }
      return Decider.accept<Event>({ type: "MoneyWithdrawn", data: { amount: command.amount, description: command.description ?? "" } })
    case "CloseAccount":
      return state.balance !== 0
        ? Decider.reject<Rejection>({ type: "BalanceNotZero", balance: state.balance })
        : Decider.accept<Event>({ type: "AccountClosed", data: { reason: command.reason } })
  }
}

export const decider: Decider.Decider<Command, State, Event, Rejection> = {
  decide,
  evolve,
  initialState,
  isTerminal: (state) => state.status === "Closed"
}

// ---------------------------------------------------------------------------
// Words for people
// ---------------------------------------------------------------------------

export const money = (cents: number): string => `${cents < 0 ? "-" : ""}${(Math.abs(cents) / 100).toFixed(2)}`

export const explain = (rejection: Rejection): string => {
  switch (rejection.type) {
    case "AccountAlreadyOpen":
      return "the account is already open"
    case "AccountNotOpen":
      return "the account is not open"
    case "AccountIsClosed":
      return "the account is closed"
    case "NegativeInitialBalance":
      return `an initial balance cannot be negative (got ${money(rejection.initialBalance)})`
    case "AmountNotPositive":
      return `the amount must be positive (got ${money(rejection.amount)})`
    case "InsufficientFunds":
      return `insufficient funds: balance ${money(rejection.balance)}, asked for ${money(rejection.amount)}`
    case "BalanceNotZero":
      return `only an empty account can be closed (balance ${money(rejection.balance)})`
  }
}

export const describeCommand = (command: Command): string => {
  switch (command.type) {
    case "OpenAccount":
      return `open for ${command.owner} with ${money(command.initialBalance)}`
    case "Deposit":
      return `deposit ${money(command.amount)}${command.description ? ` (${command.description})` : ""}`
    case "Withdraw":
      return `withdraw ${money(command.amount)}${command.description ? ` (${command.description})` : ""}`
    case "CloseAccount":
      return `close (${command.reason})`
  }
}

export const describeState = (state: State): string => {
  switch (state.status) {
    case "NotOpen":
      return "not open"
    case "Open":
      return `open, ${state.owner}, balance ${money(state.balance)}`
    case "Closed":
      return `closed, ${state.owner}`
  }
}
