/**
 * A list of named test cases, grouped, that any test runner can register: the shape the
 * store conformance suite is written in, so it needs no runner as a dependency.
 *
 * @internal
 */
import { Effect } from "effect"

/** @internal */
export interface Case {
  /** The groups the case sits in, outermost first. */
  readonly groups: ReadonlyArray<string>
  readonly name: string
  readonly run: () => Promise<void>
  /** How long the case may take, in milliseconds, when a runner's default would be short. */
  readonly timeout: number
}

/** @internal */
export class Suite {
  readonly cases: Array<Case> = []
  private readonly groups: Array<string> = []

  readonly group = (name: string, body: () => void): void => {
    this.groups.push(name)
    try {
      body()
    } finally {
      this.groups.pop()
    }
  }

  readonly test = (name: string, body: () => Effect.Effect<void, unknown>, timeout = 60_000): void => {
    this.cases.push({ groups: [...this.groups], name, run: () => Effect.runPromise(Effect.suspend(body)), timeout })
  }
}
