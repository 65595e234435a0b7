// Type-checked only where fast-check is installed: the law checkers' options take its arbitraries.
import * as fc from "fast-check"
import { Decider } from "es-kernel"
import { DeciderLaws, DeciderSpec } from "es-kernel/testing"

const counter = Decider.make({
  initialState: 0,
  decide: (n: number, _total: number) => (n > 0 ? Decider.accept({ type: "Added" as const, n }) : Decider.reject("NotPositive" as const)),
  evolve: (total: number, event: { readonly type: "Added"; readonly n: number }) => total + event.n
})

DeciderSpec.forDecider(counter).given().when(1).thenState(1)
export const laws: ReadonlyArray<DeciderLaws.Law> = DeciderLaws.laws(counter, { commands: fc.integer() })
