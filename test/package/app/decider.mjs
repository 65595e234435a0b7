// A decider-only application: bundled, it must not carry Effect's runtime.
import { Decider } from "es-kernel"

const counter = Decider.make({
  initialState: 0,
  decide: (n, _total) => (n > 0 ? Decider.accept({ type: "Added", n }) : Decider.reject("NotPositive")),
  evolve: (total, event) => total + event.n
})
const decision = counter.decide(5, counter.initialState)
console.log(decision._tag, Decider.fold(counter, decision._tag === "Right" ? decision.right : []))
