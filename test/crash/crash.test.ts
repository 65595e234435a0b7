import { describe, expect, it } from "vitest"
import { runCrashRounds } from "./crashRounds.js"

describe("file store under SIGKILL", () => {
  it("keeps every acknowledged event exactly once, gapless and intact, across 20 kills during 100 concurrent appenders", async () => {
    const summary = await runCrashRounds({ rounds: 20 })
    expect(summary.problems).toEqual([])
    expect(summary.rounds).toBe(20)
    expect(summary.acknowledged).toBeGreaterThan(0)
  }, 120_000)
})
