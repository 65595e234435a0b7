/**
 * A loyalty card, as a decider: points earned and redeemed, never below zero. Small on
 * purpose: it sits next to the bank account in the composition example.
 */
import * as t from "io-ts"
import { Decider, EventCodec } from "es-kernel"

// ---------------------------------------------------------------------------
// Events — a storage format, kept forever: change a payload only with a new schema
// version and an upcaster, never in place. Their names differ from the account's, so the
// two can share a stream (see composition/Codecs.ts).
// ---------------------------------------------------------------------------

export const codec = EventCodec.make({
  PointsEarned: EventCodec.io(t.type({ points: t.number, reason: t.string })),
  PointsRedeemed: EventCodec.io(t.type({ points: t.number, reward: t.string }))
})

export type Event = EventCodec.Event<typeof codec>

// ---------------------------------------------------------------------------
// State
// ---------------------------------------------------------------------------

export interface State {
  readonly points: number
}

export const initialState: State = { points: 0 }

export const evolve = (state: State, event: Event): State => {
  switch (event.type) {
    case "PointsEarned":
      return { points: state.points + event.data.points }
    case "PointsRedeemed":
      return { points: state.points - event.data.points }
  }
}

// ---------------------------------------------------------------------------
// Decisions
// ---------------------------------------------------------------------------

export type Command =
  | { readonly type: "EarnPoints"; readonly points: number; readonly reason: string }
  | { readonly type: "RedeemPoints"; readonly points: number; readonly reward: string }

export type Rejection =
  | { readonly type: "PointsNotPositive"; readonly points: number }
  | { readonly type: "NotEnoughPoints"; readonly points: number; readonly requested: number }

export const decide = (command: Command, state: State) => {
  if (!Number.isSafeInteger(command.points) || command.points <= 0) {
    return Decider.reject<Rejection>({ type: "PointsNotPositive", points: command.points })
  }
  switch (command.type) {
    case "EarnPoints":
      return Decider.accept<Event>({ type: "PointsEarned", data: { points: command.points, reason: command.reason } })
    case "RedeemPoints":
      return command.points > state.points
        ? Decider.reject<Rejection>({ type: "NotEnoughPoints", points: state.points, requested: command.points })
        : Decider.accept<Event>({ type: "PointsRedeemed", data: { points: command.points, reward: command.reward } })
  }
}

export const decider: Decider.Decider<Command, State, Event, Rejection> = { decide, evolve, initialState }

// ---------------------------------------------------------------------------
// Words for people
// ---------------------------------------------------------------------------

export const describeCommand = (command: Command): string => {
  switch (command.type) {
    case "EarnPoints":
      return `earn ${command.points} points (${command.reason})`
    case "RedeemPoints":
      return `redeem ${command.points} points for ${command.reward}`
  }
}

export const explain = (rejection: Rejection): string => {
  switch (rejection.type) {
    case "PointsNotPositive":
      return `points must be a whole number above zero (got ${rejection.points})`
    case "NotEnoughPoints":
      return `not enough points: ${rejection.points}, asked for ${rejection.requested}`
  }
}

export const describeState = (state: State): string => `${state.points} points`
