/**
 * Given / when / then specifications for deciders, with readable failure messages.
 *
 * ```ts
 * const spec = DeciderSpec.forDecider(Account.decider)
 * spec.given([opened]).when(withdraw(500)).thenRejectedWith({ _tag: "InsufficientFunds", … })
 * ```
 *
 * It throws an `AssertionError` (from `node:assert`) on failure, so it works in any test
 * runner.
 *
 * @since 0.1.0
 */
import { AssertionError } from "node:assert"
import { inspect, isDeepStrictEqual } from "node:util"
import * as Either from "fp-ts/lib/Either.js"
import type { Decider } from "../Decider.js"
import { fold } from "../Decider.js"

/**
 * The `then` half of a specification.
 *
 * @since 0.1.0
 */
export interface Then<S, E, R> {
  /** The command is accepted with exactly these events (deep equality, in order). */
  readonly then: (expected: ReadonlyArray<E>) => void
  /** The command is rejected with this rejection (deep equality) or one the predicate accepts. */
  readonly thenRejectedWith: (expected: R | ((rejection: R) => boolean)) => void
  /** The command is accepted and changes nothing: no events. */
  readonly thenNothing: () => void
  /** The command is accepted and the events lead to a state the check accepts (or equal to it). */
  readonly thenState: (expected: S | ((state: S) => boolean)) => void
}

/**
 * A specification of one decider.
 *
 * @since 0.1.0
 */
export interface Spec<C, S, E, R> {
  readonly given: (events?: ReadonlyArray<E>) => { readonly when: (command: C) => Then<S, E, R> }
}

const show = (value: unknown): string => inspect(value, { depth: 8, breakLength: 100 })

const fail = (message: string, actual: unknown, expected: unknown): never => {
  throw new AssertionError({ message, actual, expected, operator: "deepStrictEqual" })
}

/**
 * Starts a specification for a decider.
 *
 * @since 0.1.0
 */
export const forDecider = <C, S, E, R>(decider: Decider<C, S, E, R>): Spec<C, S, E, R> => ({
  given: (history = []) => ({
    when: (command) => {
      const state = fold(decider, history)
      const decision = decider.decide(command, state)
      const context = `given ${history.length} event(s)\n  when ${show(command)}`
      const accepted = (): ReadonlyArray<E> =>
        Either.isRight(decision)
          ? decision.right
          : fail(`${context}\n  expected the command to be accepted, but it was rejected with ${show(decision.left)}`, decision.left, "accepted")
      return {
        then: (expected) => {
          const events = accepted()
          if (!isDeepStrictEqual(events, expected)) {
            fail(`${context}\n  expected events ${show(expected)}\n  but got ${show(events)}`, events, expected)
          }
        },
        thenNothing: () => {
          const events = accepted()
          if (events.length > 0) fail(`${context}\n  expected no events, but got ${show(events)}`, events, [])
        },
        thenRejectedWith: (expected) => {
          if (Either.isRight(decision)) {
            return fail(`${context}\n  expected a rejection, but it was accepted with ${show(decision.right)}`, decision.right, expected)
          }
          const matches = typeof expected === "function"
            ? isPredicate<R>(expected) && expected(decision.left)
            : isDeepStrictEqual(decision.left, expected)
          if (!matches) {
            fail(`${context}\n  expected rejection ${show(expected)}\n  but got ${show(decision.left)}`, decision.left, expected)
          }
        },
        thenState: (expected) => {
          const next = fold(decider, accepted(), state)
          const matches = typeof expected === "function"
            ? isPredicate<S>(expected) && expected(next)
            : isDeepStrictEqual(next, expected)
          if (!matches) fail(`${context}\n  expected state ${show(expected)}\n  but got ${show(next)}`, next, expected)
        }
      }
    }
  })
})

// A rejection or state may itself be a function only in odd domains; for those, the
// predicate form is what the caller meant.
const isPredicate = <A>(value: unknown): value is (a: A) => boolean => typeof value === "function"
