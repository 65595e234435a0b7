// A small domain for projection tests: amounts added to and taken from counters, and a
// view of each counter's total, with its state codec.
import * as Either from "fp-ts/lib/Either.js"
import * as t from "io-ts"
import { EventCodec, Projector, View } from "es-kernel"
import type { EventStore } from "es-kernel"

export const codec = EventCodec.make({
  Added: EventCodec.io(t.type({ amount: t.number })),
  Taken: EventCodec.io(t.type({ amount: t.number }))
})
export type Event = EventCodec.Event<typeof codec>

export type Totals = { readonly [streamId: string]: number }
const noTotals: Totals = {}

export const totals = View.make({
  initialState: noTotals,
  evolve: (state: Totals, event: Event, envelope: View.Envelope): Totals => ({
    ...state,
    [envelope.streamId]: (state[envelope.streamId] ?? 0) + (event.type === "Added" ? event.data.amount : -event.data.amount)
  })
})

export const totalsCodec: Projector.StateCodec<Totals> = {
  encode: (state) => state,
  decode: (json) => {
    const decoded = t.record(t.string, t.number).decode(json)
    return Either.isRight(decoded) ? Either.right(decoded.right) : Either.left("not a record of totals")
  }
}

export const added = (amount: number): EventStore.NewEvent => ({ type: "Added", data: { amount } })
export const taken = (amount: number): EventStore.NewEvent => ({ type: "Taken", data: { amount } })
