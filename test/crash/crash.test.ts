import { describe, expect, it } from "vitest"
import { runCrashRounds } from "./crashRounds.js"
import { runPowerLossRounds } from "./powerLossRounds.js"

describe("file store under SIGKILL", () => {
  it("keeps every acknowledged event exactly once, gapless and intact, across 20 kills during 100 concurrent appenders", async () => {
    const summary = await runCrashRounds({ rounds: 20 })
    expect(summary.problems).toEqual([])
    expect(summary.rounds).toBe(20)
    expect(summary.acknowledged).toBeGreaterThan(0)
  }, 120_000)
})

describe("file store under power loss", () => {
  it("reopens after every power loss with every acknowledged event, whatever unsynced writes were dropped, kept or torn", async () => {
    // A new seed each run covers new ground; a failure names its seed for `npm run test:crash`.
    const summary = await runPowerLossRounds({ rounds: 30, seed: Date.now() % 1_000_000_000 })
    expect(summary.problems).toEqual([])
    expect(summary.acknowledged).toBeGreaterThan(0)
    // The rounds reach the interesting states: writes a loss tore, and tails cut on reopen.
    expect(summary.fates.writesTorn + summary.fates.writesDropped).toBeGreaterThan(0)
    expect(summary.powerLosses).toBeGreaterThanOrEqual(30)
  }, 120_000)
})
