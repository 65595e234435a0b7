import * as fc from "fast-check"
import * as Either from "fp-ts/lib/Either.js"
import { describe, expect, expectTypeOf, it } from "vitest"
import { Decider } from "es-kernel"
import {
  boundedList,
  counter,
  counterCommand,
  counterEvent,
  lightSwitch,
  listCommand,
  switchCommand,
  type CounterCommand,
  type CounterEvent,
  type CounterRejection,
  type CounterState,
  type SwitchCommand,
  type SwitchEvent
} from "./fixtures/deciders.js"

const runs = { numRuns: 300 }

/** Runs commands in order, keeping each decision: the observable behaviour of a decider. */
const trace = <C, S, E, R>(decider: Decider.Decider<C, S, E, R>, commands: ReadonlyArray<C>) => {
  let state = decider.initialState
  const decisions: Array<Either.Either<R, ReadonlyArray<E>>> = []
  for (const command of commands) {
    const decision = decider.decide(command, state)
    decisions.push(decision)
    if (Either.isRight(decision)) state = Decider.fold(decider, decision.right, state)
  }
  return { decisions, state }
}

const mapDecision = <R, E, E2>(decision: Either.Either<R, ReadonlyArray<E>>, f: (event: E) => E2) =>
  Either.map((events: ReadonlyArray<E>) => events.map(f))(decision)

describe("Decider", () => {
  describe("replay", () => {
    it("is deterministic: the same events give the same state", () => {
      fc.assert(
        fc.property(fc.array(counterEvent, { maxLength: 50 }), (events) => {
          expect(Decider.fold(counter, events)).toEqual(Decider.fold(counter, events))
        }),
        runs
      )
    })

    it("folding in two parts equals folding at once", () => {
      fc.assert(
        fc.property(fc.array(counterEvent), fc.array(counterEvent), (first, second) => {
          expect(Decider.fold(counter, second, Decider.fold(counter, first))).toEqual(Decider.fold(counter, [...first, ...second]))
        }),
        runs
      )
    })

    it("run decides and evolves in one step", () => {
      const outcome = Decider.run(counter, { _tag: "Add", amount: 5 })
      expect(outcome).toEqual(Either.right({ events: [{ _tag: "Added", amount: 5 }], state: { total: 5, closed: false } }))
      expect(Decider.run(counter, { _tag: "Add", amount: 0 })).toEqual(Either.left({ _tag: "NotPositive", amount: 0 }))
    })
  })

  describe("compose", () => {
    const both = Decider.compose(counter, lightSwitch)
    const command = fc.oneof(counterCommand.map((c) => Either.left(c)), switchCommand.map((c) => Either.right(c)))

    it("its state after any commands is the pair of the sides' states", () => {
      fc.assert(
        fc.property(fc.array(command, { maxLength: 40 }), (commands) => {
          const lefts = commands.flatMap((c) => (Either.isLeft(c) ? [c.left] : []))
          const rights = commands.flatMap((c) => (Either.isRight(c) ? [c.right] : []))
          expect(trace(both, commands).state).toEqual([trace(counter, lefts).state, trace(lightSwitch, rights).state])
        }),
        runs
      )
    })

    it("its decisions are the side's decisions, tagged with the side", () => {
      fc.assert(
        fc.property(fc.array(command, { maxLength: 40 }), (commands) => {
          const lefts = trace(counter, commands.flatMap((c) => (Either.isLeft(c) ? [c.left] : []))).decisions
          const rights = trace(lightSwitch, commands.flatMap((c) => (Either.isRight(c) ? [c.right] : []))).decisions
          const expected = commands.map((c) =>
            Either.isLeft(c) ? mapDecision(lefts.shift()!, Either.left) : mapDecision(rights.shift()!, Either.right)
          )
          expect(trace(both, commands).decisions).toEqual(expected)
        }),
        runs
      )
    })

    it("its state after any events is the pair of the sides' folds", () => {
      const event = fc.oneof(counterEvent.map((e) => Either.left(e)), fc.constantFrom<SwitchEvent>("TurnedOn", "TurnedOff").map((e) => Either.right(e)))
      fc.assert(
        fc.property(fc.array(event, { maxLength: 40 }), (events) => {
          expect(Decider.fold(both, events)).toEqual([
            Decider.fold(counter, events.flatMap((e) => (Either.isLeft(e) ? [e.left] : []))),
            Decider.fold(lightSwitch, events.flatMap((e) => (Either.isRight(e) ? [e.right] : [])))
          ])
        }),
        runs
      )
    })

    it("is terminal only when both sides are", () => {
      const closed = Decider.fold(counter, [{ _tag: "Closed" }])
      expect(Decider.isTerminal(Decider.compose(counter, counter), [closed, closed])).toBe(true)
      expect(Decider.isTerminal(Decider.compose(counter, counter), [closed, counter.initialState])).toBe(false)
    })

    it("has neutral as its identity, up to isomorphism", () => {
      // c ↦ Left(c), e ↦ Left(e), s ↦ [s, undefined] on the right; mirrored on the left.
      const right = Decider.compose(counter, Decider.neutral)
      const left = Decider.compose(Decider.neutral, counter)
      fc.assert(
        fc.property(fc.array(counterCommand, { maxLength: 40 }), (commands) => {
          const plain = trace(counter, commands)
          const viaRight = trace(right, commands.map((c) => Either.left(c)))
          const viaLeft = trace(left, commands.map((c) => Either.right(c)))
          expect(viaRight.state).toEqual([plain.state, undefined])
          expect(viaLeft.state).toEqual([undefined, plain.state])
          expect(viaRight.decisions).toEqual(plain.decisions.map((d) => mapDecision(d, Either.left)))
          expect(viaLeft.decisions).toEqual(plain.decisions.map((d) => mapDecision(d, Either.right)))
        }),
        runs
      )
    })

    it("is associative, up to isomorphism", () => {
      const leftNested = Decider.compose(Decider.compose(counter, lightSwitch), boundedList)
      const rightNested = Decider.compose(counter, Decider.compose(lightSwitch, boundedList))
      type Three = { readonly side: 0; readonly command: CounterCommand } | { readonly side: 1; readonly command: SwitchCommand } | { readonly side: 2; readonly command: { readonly push: string } }
      const three: fc.Arbitrary<Three> = fc.oneof(
        counterCommand.map((command) => ({ side: 0 as const, command })),
        switchCommand.map((command) => ({ side: 1 as const, command })),
        listCommand.map((command) => ({ side: 2 as const, command }))
      )
      const toLeftNested = (c: Three) =>
        c.side === 0 ? Either.left(Either.left(c.command)) : c.side === 1 ? Either.left(Either.right(c.command)) : Either.right(c.command)
      const toRightNested = (c: Three) =>
        c.side === 0 ? Either.left(c.command) : c.side === 1 ? Either.right(Either.left(c.command)) : Either.right(Either.right(c.command))
      // Events re-associate the same way: ((a|b)|c) ↔ (a|(b|c)).
      const reassociate = <A, B, C>(event: Either.Either<Either.Either<A, B>, C>): Either.Either<A, Either.Either<B, C>> =>
        Either.isLeft(event)
          ? Either.isLeft(event.left) ? Either.left(event.left.left) : Either.right(Either.left(event.left.right))
          : Either.right(Either.right(event.right))
      fc.assert(
        fc.property(fc.array(three, { maxLength: 40 }), (commands) => {
          const l = trace(leftNested, commands.map(toLeftNested))
          const r = trace(rightNested, commands.map(toRightNested))
          const [[s1, s2], s3] = l.state
          expect(r.state).toEqual([s1, [s2, s3]])
          expect(r.decisions).toEqual(l.decisions.map((d) => mapDecision(d, reassociate)))
        }),
        runs
      )
    })
  })

  describe("many", () => {
    const fleet = Decider.many(counter)
    const addressed = fc.record({ id: fc.constantFrom("a", "b", "c", "d"), value: counterCommand })

    it("keeps instances isolated: each behaves as if alone", () => {
      fc.assert(
        fc.property(fc.array(addressed, { maxLength: 60 }), (commands) => {
          const together = trace(fleet, commands)
          for (const id of ["a", "b", "c", "d"]) {
            const alone = trace(counter, commands.filter((c) => c.id === id).map((c) => c.value))
            expect(together.state.get(id) ?? counter.initialState).toEqual(alone.state)
            const decisions = together.decisions.filter((_, i) => commands[i]?.id === id)
            expect(decisions).toEqual(alone.decisions.map((d) => mapDecision(d, (value) => ({ id, value }))))
          }
        }),
        runs
      )
    })

    it("keeps a terminal instance, so it is not restarted, and never mutates the previous map", () => {
      const before = Decider.fold(fleet, [{ id: "a", value: { _tag: "Added", amount: 3 } }])
      const after = fleet.evolve(before, { id: "a", value: { _tag: "Closed" } })
      expect(before.get("a")).toEqual({ total: 3, closed: false })
      expect(after.get("a")).toEqual({ total: 3, closed: true })
      expect(fleet.decide({ id: "a", value: { _tag: "Add", amount: 1 } }, after)).toEqual(Either.left({ _tag: "AlreadyClosed" }))
    })

    it("accepts a plain Map as a state and leaves it unchanged", () => {
      const plain = new Map([["a", { total: 1, closed: false }]])
      const after = fleet.evolve(plain, { id: "b", value: { _tag: "Added", amount: 2 } })
      expect([...after]).toEqual([["a", { total: 1, closed: false }], ["b", { total: 2, closed: false }]])
      expect([...plain.keys()]).toEqual(["a"])
    })

    it("lists instances in the order they first appeared, like a Map", () => {
      const ids = ["m", "c", "x", "a", "c", "m", "q"]
      const state = Decider.fold(fleet, ids.map((id) => ({ id, value: { _tag: "Added" as const, amount: 1 } })))
      expect([...state.keys()]).toEqual(["m", "c", "x", "a", "q"])
      expect(state.size).toBe(5)
      expect(state.get("c")).toEqual({ total: 2, closed: false })
    })
  })

  describe("adapt and the map family", () => {
    type Outer = { readonly kind: "counter"; readonly command: CounterCommand } | { readonly kind: "other" }
    type Wrapped = { readonly source: string; readonly event: CounterEvent }
    const wrapEvent = (event: CounterEvent): Wrapped => ({ source: "counter", event })
    const adapted = Decider.adapt(counter, {
      command: (outer: Outer) => (outer.kind === "counter" ? outer.command : undefined),
      event: {
        to: wrapEvent,
        from: (outer: Wrapped) => (outer.source === "counter" ? outer.event : undefined)
      }
    })
    const outer: fc.Arbitrary<Outer> = fc.oneof(
      counterCommand.map((command) => ({ kind: "counter" as const, command })),
      fc.constant({ kind: "other" as const })
    )

    it("behaves as the inner decider on the commands it maps", () => {
      fc.assert(
        fc.property(fc.array(outer, { maxLength: 40 }), (commands) => {
          const inner = trace(counter, commands.flatMap((c) => (c.kind === "counter" ? [c.command] : [])))
          const result = trace(adapted, commands)
          expect(result.state).toEqual(inner.state)
          expect(result.decisions.filter((_, i) => commands[i]?.kind === "counter")).toEqual(inner.decisions.map((d) => mapDecision(d, wrapEvent)))
          expect(result.decisions.filter((_, i) => commands[i]?.kind === "other")).toEqual(commands.filter((c) => c.kind === "other").map(() => Either.right([])))
        }),
        runs
      )
    })

    it("ignores events it does not recognise", () => {
      expect(adapted.evolve(counter.initialState, { source: "elsewhere", event: { _tag: "Closed" } })).toEqual(counter.initialState)
    })

    it("mapping with identities changes nothing", () => {
      const identity = Decider.mapRejection(
        Decider.mapState(
          Decider.mapEvent(Decider.mapCommand(counter, (c: CounterCommand) => c), { to: (e: CounterEvent) => e, from: (e: CounterEvent) => e }),
          { to: (s: CounterState) => s, from: (s: CounterState) => s }
        ),
        (r: CounterRejection) => r
      )
      fc.assert(
        fc.property(fc.array(counterCommand, { maxLength: 40 }), (commands) => {
          expect(trace(identity, commands)).toEqual(trace(counter, commands))
        }),
        runs
      )
    })

    it("mapping twice equals mapping with the composed functions", () => {
      const double = (s: CounterState) => ({ total: s.total * 2, closed: s.closed })
      const half = (s: { total: number; closed: boolean }) => ({ total: s.total / 2, closed: s.closed })
      const tagged = (s: { total: number; closed: boolean }) => ({ ...s, tag: "t" as const })
      const untagged = (s: { total: number; closed: boolean; tag: "t" }) => ({ total: s.total, closed: s.closed })
      const twice = Decider.mapState(Decider.mapState(counter, { to: double, from: half }), { to: tagged, from: untagged })
      const once = Decider.mapState(counter, { to: (s: CounterState) => tagged(double(s)), from: (s: { total: number; closed: boolean; tag: "t" }) => half(untagged(s)) })
      fc.assert(
        fc.property(fc.array(counterCommand, { maxLength: 40 }), (commands) => {
          expect(trace(twice, commands)).toEqual(trace(once, commands))
        }),
        runs
      )
    })

    it("mapState keeps isTerminal, read through the isomorphism", () => {
      const mapped = Decider.mapState(counter, { to: (s: CounterState) => [s.total, s.closed] as const, from: ([total, closed]) => ({ total, closed }) })
      expect(Decider.isTerminal(mapped, [1, true])).toBe(true)
      expect(Decider.isTerminal(mapped, [1, false])).toBe(false)
    })
  })

  describe("types", () => {
    it("infer without annotations at the call site", () => {
      const both = Decider.compose(counter, lightSwitch)
      expectTypeOf(both).toEqualTypeOf<
        Decider.Decider<
          Either.Either<CounterCommand, SwitchCommand>,
          readonly [CounterState, boolean],
          Either.Either<CounterEvent, SwitchEvent>,
          CounterRejection
        >
      >()
      expectTypeOf(Decider.many(counter).initialState).toEqualTypeOf<ReadonlyMap<string, CounterState>>()
      expectTypeOf<Decider.RejectionOf<typeof boundedList>>().toEqualTypeOf<"Full">()
      expectTypeOf<Decider.CommandOf<typeof counter>>().not.toBeAny()
      expectTypeOf<Decider.StateOf<typeof counter>>().toEqualTypeOf<CounterState>()
      expectTypeOf(Decider.neutral).toEqualTypeOf<Decider.Decider<never, undefined, never, never>>()
    })
  })
})
