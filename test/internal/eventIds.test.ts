// Generated event ids: version 7 UUIDs whose first 48 bits are the time, so that ids made
// later sort after ids made earlier (by millisecond), and none repeats.
import { fc, it } from "@fast-check/vitest"
import { describe, expect } from "vitest"
import { generatedEventId } from "../../src/internal/eventIds.js"

const uuidV7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/

describe("generatedEventId", () => {
  it.prop([fc.integer({ min: 0, max: 2 ** 48 - 1 })])("is a version 7 UUID carrying its time", (now) => {
    const id = generatedEventId(now)
    expect(id).toMatch(uuidV7)
    expect(Number.parseInt(id.slice(0, 8) + id.slice(9, 13), 16)).toBe(now)
  })

  it.prop([fc.integer({ min: 0, max: 2 ** 48 - 2 }), fc.integer({ min: 1, max: 1000 })])(
    "sorts an id made later after one made earlier",
    (earlier, gap) => {
      const later = Math.min(2 ** 48 - 1, earlier + gap)
      expect(generatedEventId(earlier) < generatedEventId(later)).toBe(true)
    }
  )

  it("does not repeat among 200,000 ids made in the same millisecond, across refills of its random pool", () => {
    const ids = new Set(Array.from({ length: 200_000 }, () => generatedEventId(1_764_000_000_000)))
    expect(ids.size).toBe(200_000)
  })
})
