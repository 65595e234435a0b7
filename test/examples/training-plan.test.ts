import { mkdtemp, rm } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { describe, expect, it } from "vitest"
import { runExample } from "./run.js"

const example = "examples/training-plan.ts"

describe("training plan example", () => {
  it("shows every rule as a rejection with its reason, and prints the plan loaded from its events", async () => {
    const output = await runExample(example)
    expect(output).toContain("training plan example on the memory store\nplan ada-spring-2025: no plan (version 0)")
    expect(output).toContain('> schedule "Easy run" (30 min) on 2025-01-29\n  rejected: there is no such plan')
    expect(output).toContain("rejected: the plan would end (2025-01-06) before it starts (2025-03-30)")
    expect(output).toContain('rejected: endDate must be a calendar date written YYYY-MM-DD (got "2025-02-30")')
    expect(output).toContain("  = plan \"Spring marathon\" for ada, 2025-01-06 to 2025-03-30: 0 blocks, 0 workouts (version 1)\n" +
      '> create plan "Spring marathon" for ada, 2025-01-06 to 2025-03-30\n  rejected: the plan already exists')
    expect(output).toContain("rejected: the block overlaps block b-build (2025-02-03 to 2025-03-02)")
    expect(output).toContain("rejected: the block (2025-03-17 to 2025-04-06) must lie within the plan (2025-01-06 to 2025-03-30)")
    expect(output).toContain("rejected: the block would end (2025-03-17) before it starts (2025-03-30)")
    expect(output).toContain('rejected: the plan already has a block named "Build"')
    expect(output).toContain("rejected: 2025-01-29 is in no training block: add a block that covers it first")
    expect(output).toContain("rejected: 2025-01-12 already has a workout (long-2025-01-12)")
    expect(output).toContain("rejected: a workout lasts a whole number of minutes from 1 to 1440 (got 0)")
    expect(output).toContain("rejected: the plan already has a workout with id w-intervals")
    expect(output).toContain(
      '  + WorkoutScheduled {"workoutId":"w-intervals","blockId":"b-build","date":"2025-02-05","title":"Intervals","durationMinutes":60}'
    )
    expect(output).toContain(
      [
        'Plan "Spring marathon" for ada, 2025-01-06 to 2025-03-30 (version 10)',
        "  Base   2025-01-06 to 2025-01-26  aerobic volume",
        "    2025-01-12 Sun  Long run    90 min  (long-2025-01-12)",
        "    2025-01-19 Sun  Long run   100 min  (long-2025-01-19)",
        "  · no block 2025-01-27 to 2025-02-02",
        "  Build  2025-02-03 to 2025-03-02  threshold",
        "    2025-02-05 Wed  Intervals   60 min  (w-intervals)",
        "  Peak   2025-03-03 to 2025-03-16  race pace",
        "    2025-03-05 Wed  Tempo       45 min  (w-tempo)",
        "  Taper  2025-03-17 to 2025-03-30  freshness",
        "    2025-03-29 Sat  Shakeout    20 min  (w-shakeout)"
      ].join("\n")
    )
  })

  it("continues on a file store: a second run finds its commands already handled and adds the next long run", async () => {
    const directory = await mkdtemp(join(tmpdir(), "es-kernel-plan-"))
    try {
      const first = await runExample(example, ["--store", `file:${directory}`])
      expect(first).toContain("plan ada-spring-2025: no plan (version 0)")
      expect(first).toContain('Plan "Spring marathon" for ada, 2025-01-06 to 2025-03-30 (version 10)')
      const second = await runExample(example, ["--store", `file:${directory}`])
      expect(second).toContain('plan ada-spring-2025: plan "Spring marathon" for ada, 2025-01-06 to 2025-03-30: 4 blocks, 5 workouts (version 10)')
      expect(second).toContain(
        '> create plan "Spring marathon" for ada, 2025-01-06 to 2025-03-30\n  already handled by an earlier run: nothing appended'
      )
      expect(second).toContain('> schedule "Tempo" (45 min) on 2025-03-05\n  already handled by an earlier run: nothing appended')
      expect(second).toContain('> add block "Peak" (race pace), 2025-02-24 to 2025-03-09\n  rejected: the plan already has a block with id b-peak')
      expect(second).toContain('> schedule "Long run" (110 min) on 2025-01-26\n  + WorkoutScheduled')
      expect(second).toContain('Plan "Spring marathon" for ada, 2025-01-06 to 2025-03-30 (version 11)')
      expect(second).toContain("    2025-01-19 Sun  Long run   100 min  (long-2025-01-19)\n    2025-01-26 Sun  Long run   110 min  (long-2025-01-26)")
    } finally {
      await rm(directory, { recursive: true, force: true })
    }
  })
})
