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

  describe("vacuity", () => {
    // Closing needs a command the generator never produces: no terminal state is ever reached.
    const onlyAdds = counterCommand.filter((c) => c._tag === "Add")
    const terminalLaw = (options: { readonly allowVacuous?: boolean }) =>
      DeciderLaws.laws(counter, { commands: onlyAdds, numRuns: 30, ...options }).find((law) => law.name.includes("terminal"))

    it("fails a law that never met a terminal state, saying so", () => {
      expect(terminalLaw({})?.check).toThrow(/vacuous: no terminal state was reached in 30 generated histories/)
    })

    it("lets it pass when the user allows it", () => {
      expect(terminalLaw({ allowVacuous: true })?.check).not.toThrow()
    })

    it("has no terminal-state law for a decider without isTerminal", () => {
      expect(DeciderLaws.laws(lightSwitch, { commands: switchCommand }).map((law) => law.name).filter((name) => name.includes("terminal"))).toEqual([])
    })
  })

  describe("idempotency", () => {
    const idempotencyLaw = <C, S, E, R>(decider: Decider.Decider<C, S, E, R>, commands: fc.Arbitrary<C>, idempotent: true | ((command: C) => boolean)) =>
      DeciderLaws.laws(decider, { commands, idempotent, numRuns: 50 }).find((law) => law.name.includes("again"))

    it("holds for a switch: turning it on twice records one change", () => {
      expect(idempotencyLaw(lightSwitch, switchCommand, true)?.check).not.toThrow()
    })

    it("holds for the counter's Close, the only command named", () => {
      expect(idempotencyLaw(counter, counterCommand, (c) => c._tag === "Close")?.check).not.toThrow()
    })

    it("catches a command that is not idempotent, with the command and what deciding it again gave", () => {
      expect(idempotencyLaw(counter, counterCommand, true)?.check).toThrow(/_tag: 'Add'[\s\S]*decided again after its events[\s\S]*counterexample/)
    })

    it("is vacuous when no named command is ever accepted with events", () => {
      const neverAccepted = counterCommand.filter((c) => c._tag === "Add").map((c) => ({ ...c, amount: -Math.abs(c.amount) }))
      expect(idempotencyLaw(counter, neverAccepted, true)?.check).toThrow(/vacuous: no idempotent command was accepted with events/)
    })

    it("is not checked unless asked for", () => {
      expect(DeciderLaws.laws(counter, { commands: counterCommand }).some((law) => law.name.includes("again"))).toBe(false)
    })
  })

  describe("laws of your own", () => {
    it("run on the generated histories, with their steps", () => {
      const seen: Array<number> = []
      const laws = DeciderLaws.laws(counter, {
        commands: counterCommand,
        numRuns: 40,
        laws: [{
          name: "the total is the sum of the amounts added",
          holds: ({ steps, state }) => {
            seen.push(steps.length)
            const added = steps.flatMap((step) => step.events).reduce((sum, e) => sum + (e._tag === "Added" ? e.amount : 0), 0)
            return state.total === added
          }
        }]
      })
      const own = laws.find((law) => law.name === "the total is the sum of the amounts added")
      expect(own?.check).not.toThrow()
      expect(seen.length).toBeGreaterThanOrEqual(40)
      expect(Math.max(...seen)).toBeGreaterThan(10)
    })

    it("fail with a counterexample when the history breaks them", () => {
      const law = DeciderLaws.laws(counter, {
        commands: counterCommand,
        numRuns: 100,
        laws: [{ name: "the total stays under 60", holds: ({ state }) => state.total < 60 }]
      }).find((l) => l.name === "the total stays under 60")
      expect(law?.check).toThrow(/the total stays under 60: does not hold[\s\S]*counterexample/)
    })

    it("may throw their own assertion instead of returning false", () => {
      const law = DeciderLaws.laws(counter, {
        commands: counterCommand,
        laws: [{ name: "never closed", holds: ({ state }) => expect(state.closed).toBe(false) }]
      }).find((l) => l.name === "never closed")
      expect(law?.check).toThrow(/expected true to be false[\s\S]*counterexample/)
    })
  })
})
