/**
 * The event store's conformance suite and model-based test, for any `EventStore` layer:
 * the ones this package ships run it, and a layer you write yourself should too.
 *
 * It checks every promise of the store contract — expected versions, atomic batches,
 * idempotent retries, reads, subscriptions, concurrency, malformed input, the limits — and
 * feeds the layer input no TypeScript type allows, as plain JavaScript callers send it:
 * ids with lone surrogates, U+0000 and 257 characters, non-string metadata ids, data
 * nested past the limit, records from bytes to tens of MiB. A model-based test then
 * compares random histories of appends and reads, adversarial input included, with a
 * small pure model of the contract, so every layer answers alike.
 *
 * Runner-agnostic: pass your runner's `describe` and `it` (vitest, jest and `node:test`
 * all fit). The model test needs `fast-check`, an optional peer dependency: without it,
 * `cases` and `register` throw `FastCheckUnavailable` with the command that installs it.
 *
 * ```ts
 * import { describe, it } from "vitest"
 * import { StoreConformance } from "es-kernel/testing"
 *
 * StoreConformance.register({ describe, it }, "my layer", () => MyStore.layer({ ... }))
 * ```
 *
 * `makeLayer` is called once per case (and once per generated history) and must give a
 * fresh, empty store each time.
 *
 * @since 0.2.0
 */
import type { Layer } from "effect"
import type { EventStore } from "../EventStore.js"
import { loadOptional, need } from "../internal/fastCheck.js"
import { adversarial } from "../internal/testing/adversarial.js"
import { conformance } from "../internal/testing/conformance.js"
import { Suite } from "../internal/testing/suite.js"

// The model test builds fast-check arbitraries as its module loads, and fast-check is an
// optional peer: so it is loaded here, and its absence reported when the suite is built.
const model = await loadOptional(() => import("../internal/testing/model.js"))

/**
 * The two functions of a test runner the suite registers its cases with.
 *
 * @since 0.2.0
 */
export interface TestRunner {
  readonly describe: (name: string, body: () => void) => void
  readonly it: (name: string, body: () => Promise<void>, timeout?: number) => void
}

/**
 * - `numRuns`: how many random histories the model test runs (default 200).
 * - `maxOperations`: the longest history (default 50).
 * - `seed`: fast-check's seed, to replay a failure it reported.
 *
 * @since 0.2.0
 */
export interface Options {
  readonly numRuns?: number
  readonly maxOperations?: number
  readonly seed?: number
}

/**
 * One case of the suite: `groups` name where it sits, `run` performs it (rejecting with
 * an `AssertionError` that says what differed), `timeout` is how long it may take.
 *
 * @since 0.2.0
 */
export interface Case {
  readonly groups: ReadonlyArray<string>
  readonly name: string
  readonly run: () => Promise<void>
  readonly timeout: number
}

/**
 * Every case of the suite for the layer `makeLayer` builds, for a runner `register` does
 * not fit.
 *
 * @since 0.2.0
 */
export const cases = (makeLayer: () => Layer.Layer<EventStore, unknown>, options: Options = {}): ReadonlyArray<Case> => {
  const { modelTest } = need("StoreConformance", model)
  const suite = new Suite()
  suite.group("conformance", () => conformance(suite, makeLayer))
  suite.group("adversarial input", () => adversarial(suite, makeLayer))
  suite.group("model", () => modelTest(suite, makeLayer, options))
  return suite.cases
}

/**
 * Registers every case with a test runner, under `EventStore conformance: <name>`.
 *
 * @since 0.2.0
 */
export const register = (
  runner: TestRunner,
  name: string,
  makeLayer: () => Layer.Layer<EventStore, unknown>,
  options: Options = {}
): void => {
  const all = cases(makeLayer, options)
  const within = (depth: number, members: ReadonlyArray<Case>): void => {
    const nested = new Map<string, Array<Case>>()
    for (const each of members) {
      const group = each.groups[depth]
      if (group === undefined) runner.it(each.name, each.run, each.timeout)
      else nested.set(group, [...(nested.get(group) ?? []), each])
    }
    for (const [group, inside] of nested) runner.describe(group, () => within(depth + 1, inside))
  }
  runner.describe(`EventStore conformance: ${name}`, () => within(0, all))
}
