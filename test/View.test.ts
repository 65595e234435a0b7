import { describe, expect, it } from "vitest"
import * as fc from "fast-check"
import { View } from "es-kernel"
import type { EventStore } from "es-kernel"
import * as Tally from "./projector/tally.js"

const envelope = (streamId: string, position: number): View.Envelope => ({
  eventId: `event-${position}`,
  streamId,
  version: position,
  position,
  schemaVersion: 1,
  recordedAt: new Date(0),
  metadata: {} satisfies EventStore.Metadata
})

const entries = fc
  .array(fc.tuple(fc.constantFrom("counter-a", "counter-b"), fc.boolean(), fc.integer({ min: 0, max: 20 })), { maxLength: 30 })
  .map((list) =>
    list.map(([streamId, add, amount], index): readonly [Tally.Event, View.Envelope] => [
      add ? { type: "Added", data: { amount } } : { type: "Taken", data: { amount } },
      envelope(streamId, index + 1)
    ])
  )

const count = View.make({ initialState: 0, evolve: (n: number, _event: Tally.Event) => n + 1 })

describe("View", () => {
  it("fold applies evolve with each event's envelope, from the initial state", () => {
    const state = View.fold(Tally.totals, [
      [{ type: "Added", data: { amount: 5 } }, envelope("counter-a", 1)],
      [{ type: "Taken", data: { amount: 2 } }, envelope("counter-a", 2)],
      [{ type: "Added", data: { amount: 1 } }, envelope("counter-b", 3)]
    ])
    expect(state).toEqual({ "counter-a": 3, "counter-b": 1 })
  })

  it("folding in two parts, the second from the first's state, equals folding at once", () =>
    fc.assert(
      fc.property(entries, fc.nat(), (list, cut) => {
        const at = cut % (list.length + 1)
        expect(View.fold(Tally.totals, list.slice(at), View.fold(Tally.totals, list.slice(0, at)))).toEqual(View.fold(Tally.totals, list))
      })
    ))

  it("both feeds two views the same events: each side equals its own fold", () =>
    fc.assert(
      fc.property(entries, (list) => {
        const [totals, events] = View.fold(View.both(Tally.totals, count), list)
        expect(totals).toEqual(View.fold(Tally.totals, list))
        expect(events).toBe(list.length)
      })
    ))
})
