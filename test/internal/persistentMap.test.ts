import { fc, it } from "@fast-check/vitest"
import { describe, expect } from "vitest"
import { PersistentMap } from "../../src/internal/persistentMap.js"

// Two pairs of keys whose 32-bit hashes are equal (found by search), so the collision
// lists are exercised, next to short keys that share their first trie levels.
const colliding = ["k32728", "k261234", "k32729", "k261235"]
const key = fc.oneof(fc.constantFrom(...colliding), fc.string({ maxLength: 3 }))
const operations = fc.array(fc.tuple(key, fc.integer()), { maxLength: 200 })

describe("PersistentMap", () => {
  it.prop([operations])("reads like a Map built by the same sets, in the same insertion order", (sets) => {
    let persistent = PersistentMap.empty<string, number>()
    const model = new Map<string, number>()
    for (const [k, v] of sets) {
      persistent = persistent.set(k, v)
      model.set(k, v)
    }
    expect(persistent.size).toBe(model.size)
    expect([...persistent]).toEqual([...model])
    expect([...persistent.keys()]).toEqual([...model.keys()])
    expect([...persistent.values()]).toEqual([...model.values()])
    for (const [k, v] of model) {
      expect(persistent.get(k)).toBe(v)
      expect(persistent.has(k)).toBe(true)
    }
    for (const k of colliding) expect(persistent.get(k)).toBe(model.get(k))
    const seen: Array<[string, number]> = []
    persistent.forEach((v, k) => seen.push([k, v]))
    expect(seen).toEqual([...model])
  })

  it.prop([operations, key, fc.integer()])("set leaves the map it was called on unchanged", (sets, k, v) => {
    const before = PersistentMap.from(sets)
    const entries = [...before]
    const after = before.set(k, v)
    expect([...before]).toEqual(entries)
    expect(after.get(k)).toBe(v)
    expect(before.get(k)).toBe(new Map(sets).get(k))
  })

  it("answers undefined for a key it does not hold, also one whose hash it holds", () => {
    const map = PersistentMap.from<string, number>([["k32728", 1]])
    expect(map.get("k261234")).toBeUndefined()
    expect(map.has("k261234")).toBe(false)
    expect(map.set("k261234", 2).get("k32728")).toBe(1)
  })

  it("builds the same structure from the same sets, so equal histories give deeply equal states", () => {
    const sets: ReadonlyArray<readonly [string, number]> = Array.from({ length: 500 }, (_, i) => [`id-${i % 300}`, i])
    expect(PersistentMap.from(sets)).toStrictEqual(PersistentMap.from(sets))
  })
})
