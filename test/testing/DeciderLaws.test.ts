import * as fc from "fast-check"
import { describe, expect, it } from "vitest"
import { Decider } from "es-kernel"
import { DeciderLaws } from "es-kernel/testing"
import { boundedList, counter, counterCommand, counterEvent, lightSwitch, listCommand, listEvent, switchCommand, switchEvent } from "../fixtures/deciders.js"

describe("DeciderLaws", () => {
  describe("hold for a counter", () => {
    for (const law of DeciderLaws.laws(counter, { commands: counterCommand, events: counterEvent })) it(law.name, law.check)
  })
  describe("hold for a switch", () => {
    for (const law of DeciderLaws.laws(lightSwitch, { commands: switchCommand, events: switchEvent })) it(law.name, law.check)
  })
  describe("hold for a composed fleet", () => {
    const composed = Decider.compose(Decider.many(boundedList), lightSwitch)
    const commands = fc.oneof(
      fc.record({ id: fc.constantFrom("x", "y"), value: listCommand }).map((c) => ({ _tag: "Left" as const, left: c })),
      switchCommand.map((c) => ({ _tag: "Right" as const, right: c }))
    )
    const events = fc.oneof(
      fc.record({ id: fc.constantFrom("x", "y"), value: listEvent }).map((e) => ({ _tag: "Left" as const, left: e })),
      switchEvent.map((e) => ({ _tag: "Right" as const, right: e }))
    )
    for (const law of DeciderLaws.laws(composed, { commands, events })) it(law.name, law.check)
  })

  it("catch a decide that mutates its state", () => {
    const nothingSeen: { seen: Array<number> } = { seen: [] }
    const mutating = Decider.make({
      initialState: nothingSeen,
      decide: (command: number, state: { seen: Array<number> }) => {
        state.seen.push(command)
        return Decider.accept(command)
      },
      evolve: (state: { seen: Array<number> }, event: number) => ({ seen: [...state.seen, event] })
    })
    const purity = DeciderLaws.laws(mutating, { commands: fc.integer(), numRuns: 50 }).find((law) => law.name.includes("mutate"))
    expect(purity?.check).toThrow(/decide mutated the state[\s\S]*counterexample/)
    // The replay law notices it too, from another angle.
    expect(() => DeciderLaws.check(mutating, { commands: fc.integer(), numRuns: 50 })).toThrow(/differs from evolving it step by step/)
  })

  it("catch a terminal state that still accepts commands", () => {
    const leaky = { ...counter, decide: (_: unknown, __: unknown) => Decider.accept({ _tag: "Closed" as const }) }
    expect(() => DeciderLaws.check(leaky, { commands: counterCommand, numRuns: 100 })).toThrow(/terminal state .* accepted/)
  })

  it("catch a non-deterministic decide", () => {
    let calls = 0
    const flaky = { ...counter, decide: () => Decider.accept({ _tag: "Added" as const, amount: ++calls }) }
    expect(() => DeciderLaws.check(flaky, { commands: counterCommand, numRuns: 20 })).toThrow(/different decisions/)
  })
})
