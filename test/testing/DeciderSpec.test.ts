import { describe, expect, it } from "vitest"
import { DeciderSpec } from "es-kernel/testing"
import { counter } from "../fixtures/deciders.js"

const spec = DeciderSpec.forDecider(counter)

describe("DeciderSpec", () => {
  it("passes when the command yields exactly the expected events", () => {
    spec.given([{ _tag: "Added", amount: 2 }]).when({ _tag: "Add", amount: 3 }).then([{ _tag: "Added", amount: 3 }])
  })

  it("passes on the expected rejection, given as a value or a predicate", () => {
    spec.given([{ _tag: "Closed" }]).when({ _tag: "Add", amount: 1 }).thenRejectedWith({ _tag: "AlreadyClosed" })
    spec.given().when({ _tag: "Add", amount: -1 }).thenRejectedWith((r) => r._tag === "NotPositive")
  })

  it("checks the state the events lead to", () => {
    spec.given([{ _tag: "Added", amount: 2 }]).when({ _tag: "Add", amount: 3 }).thenState({ total: 5, closed: false })
  })

  it("reports different events with both lists", () => {
    expect(() => spec.given().when({ _tag: "Add", amount: 3 }).then([{ _tag: "Added", amount: 4 }])).toThrow(
      /expected events \[ \{ _tag: 'Added', amount: 4 \} \]\n  but got \[ \{ _tag: 'Added', amount: 3 \} \]/
    )
  })

  it("reports an unexpected rejection by name", () => {
    expect(() => spec.given().when({ _tag: "Add", amount: 0 }).then([])).toThrow(
      /expected the command to be accepted, but it was rejected with \{ _tag: 'NotPositive', amount: 0 \}/
    )
  })

  it("reports an acceptance where a rejection was expected", () => {
    expect(() => spec.given().when({ _tag: "Add", amount: 1 }).thenRejectedWith({ _tag: "AlreadyClosed" })).toThrow(
      /expected a rejection, but it was accepted with/
    )
  })

  it("reports events where nothing was expected", () => {
    expect(() => spec.given().when({ _tag: "Close" }).thenNothing()).toThrow(/expected no events, but got \[ \{ _tag: 'Closed' \} \]/)
  })

  it("reports the wrong rejection", () => {
    expect(() => spec.given().when({ _tag: "Add", amount: 0 }).thenRejectedWith({ _tag: "AlreadyClosed" })).toThrow(
      /expected rejection \{ _tag: 'AlreadyClosed' \}\n  but got \{ _tag: 'NotPositive', amount: 0 \}/
    )
  })
})
