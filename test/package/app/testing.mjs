// es-kernel/testing piece by piece: DeciderSpec with or without fast-check installed; the
// law checkers and the store suite run when fast-check is installed and say how to install
// it when it is not.
import { Decider, EventStoreMemory } from "es-kernel"
import * as Testing from "es-kernel/testing"
import * as DeciderSpec from "es-kernel/testing/DeciderSpec"

const counter = Decider.make({
  initialState: 0,
  decide: (n, _total) => (n > 0 ? Decider.accept({ type: "Added", n }) : Decider.reject("NotPositive")),
  evolve: (total, event) => total + event.n
})

DeciderSpec.forDecider(counter).given([{ type: "Added", n: 1 }]).when(2).thenState(3)
Testing.DeciderSpec.forDecider(counter).given().when(0).thenRejectedWith("NotPositive")
console.log("DeciderSpec: ok")

const fastCheck = await import("fast-check").catch(() => undefined)
const report = (checker, body) => {
  try {
    console.log(`${checker}: ${body()}`)
  } catch (error) {
    console.log(`${checker}: ${error._tag}: ${error.message}`)
  }
}
report("DeciderLaws", () => {
  Testing.DeciderLaws.check(counter, { commands: fastCheck?.integer({ min: -5, max: 5 }) })
  return "hold"
})
report("StoreConformance", () => `${Testing.StoreConformance.cases(() => EventStoreMemory.layer).length > 50 ? "cases" : "too few cases"}`)
