import * as fc from "fast-check"
import * as Either from "fp-ts/lib/Either.js"
import { describe, expect, it } from "vitest"
import { Decider } from "es-kernel"
import { DeciderLaws, DeciderSpec } from "es-kernel/testing"
import * as TrainingPlan from "../../examples/training/TrainingPlan.js"

const at = "2025-01-02T08:00:00.000Z"
const createPlan: TrainingPlan.Command = {
  type: "CreatePlan",
  name: "Spring marathon",
  athleteId: "ath-1",
  startDate: "2025-01-06",
  endDate: "2025-03-30",
  at
}
const created: TrainingPlan.Event = {
  type: "TrainingPlanCreated",
  data: { name: "Spring marathon", athleteId: "ath-1", startDate: "2025-01-06", endDate: "2025-03-30", at }
}
const base: TrainingPlan.Block = { blockId: "b-base", name: "Base", focus: "aerobic volume", startDate: "2025-01-06", endDate: "2025-01-26" }
// A rest week (2025-01-27 to 2025-02-02) between base and build.
const build: TrainingPlan.Block = { blockId: "b-build", name: "Build", focus: "threshold", startDate: "2025-02-03", endDate: "2025-03-02" }
const taper: TrainingPlan.Block = { blockId: "b-taper", name: "Taper", focus: "freshness", startDate: "2025-03-17", endDate: "2025-03-30" }
const added = (block: TrainingPlan.Block): TrainingPlan.Event => ({ type: "TrainingBlockAdded", data: block })
const addBlock = (block: TrainingPlan.Block): TrainingPlan.Command => ({ type: "AddTrainingBlock", ...block })
const withBlocks: ReadonlyArray<TrainingPlan.Event> = [created, added(base), added(build)]

const longRun: TrainingPlan.Workout = { workoutId: "w-1", blockId: "b-base", date: "2025-01-12", title: "Long run", durationMinutes: 90 }
const scheduled = (workout: TrainingPlan.Workout): TrainingPlan.Event => ({ type: "WorkoutScheduled", data: workout })
const schedule = (workoutId: string, date: string, durationMinutes = 45): TrainingPlan.Command => ({
  type: "ScheduleWorkout",
  workoutId,
  date,
  title: "Intervals",
  durationMinutes
})

const spec = DeciderSpec.forDecider(TrainingPlan.decider)
const stateAfter = (events: ReadonlyArray<TrainingPlan.Event>) => Decider.fold(TrainingPlan.decider, events)

describe("training plan", () => {
  describe("creating a plan", () => {
    it("creates a plan with no blocks and no workouts", () => {
      spec.given().when(createPlan).then([created])
      spec.given().when(createPlan).thenState({
        status: "created",
        name: "Spring marathon",
        athleteId: "ath-1",
        startDate: "2025-01-06",
        endDate: "2025-03-30",
        blocks: [],
        workouts: []
      })
    })

    it("accepts a plan of a single day", () => {
      spec.given().when({ ...createPlan, startDate: "2025-05-01", endDate: "2025-05-01" }).thenState((state) => state.status === "created")
    })

    it("rejects creating a plan that already exists", () => {
      spec.given([created]).when(createPlan).thenRejectedWith({ type: "PlanAlreadyCreated" })
      spec.given(withBlocks).when({ ...createPlan, name: "Another" }).thenRejectedWith({ type: "PlanAlreadyCreated" })
    })

    it("rejects dates that are not calendar dates", () => {
      spec.given().when({ ...createPlan, startDate: "2025-02-30" }).thenRejectedWith({ type: "InvalidDate", field: "startDate", value: "2025-02-30" })
      spec.given().when({ ...createPlan, endDate: "2025-3-30" }).thenRejectedWith({ type: "InvalidDate", field: "endDate", value: "2025-3-30" })
    })

    it("rejects a plan that ends before it starts", () => {
      spec.given().when({ ...createPlan, startDate: "2025-03-30", endDate: "2025-01-06" })
        .thenRejectedWith({ type: "PlanEndsBeforeItStarts", startDate: "2025-03-30", endDate: "2025-01-06" })
    })

    it("rejects adding blocks or scheduling workouts before the plan exists", () => {
      spec.given().when(addBlock(base)).thenRejectedWith({ type: "PlanNotCreated" })
      spec.given().when(schedule("w-1", "2025-01-12")).thenRejectedWith({ type: "PlanNotCreated" })
    })
  })

  describe("adding training blocks", () => {
    it("adds a block inside the plan", () => {
      spec.given([created]).when(addBlock(base)).then([added(base)])
    })

    it("keeps blocks in calendar order whatever order they are added in", () => {
      spec.given([created, added(taper), added(build)]).when(addBlock(base))
        .thenState((state) => state.status === "created" && state.blocks.map((block) => block.blockId).join() === "b-base,b-build,b-taper")
    })

    it("accepts a block starting the day after another ends, and one on the plan's last days", () => {
      const recovery: TrainingPlan.Block = { blockId: "b-rec", name: "Recovery", focus: "easy", startDate: "2025-01-27", endDate: "2025-02-02" }
      spec.given(withBlocks).when(addBlock(recovery)).then([added(recovery)])
      spec.given(withBlocks).when(addBlock(taper)).then([added(taper)])
    })

    it("rejects a block id the plan already has", () => {
      spec.given(withBlocks).when(addBlock({ ...taper, blockId: "b-base" })).thenRejectedWith({ type: "DuplicateBlockId", blockId: "b-base" })
    })

    it("rejects a block name the plan already has", () => {
      spec.given(withBlocks).when(addBlock({ ...taper, name: "Build" })).thenRejectedWith({ type: "DuplicateBlockName", name: "Build" })
    })

    it("rejects block dates that are not calendar dates", () => {
      spec.given([created]).when(addBlock({ ...base, startDate: "2025-01-32" }))
        .thenRejectedWith({ type: "InvalidDate", field: "startDate", value: "2025-01-32" })
      spec.given([created]).when(addBlock({ ...base, endDate: "next week" }))
        .thenRejectedWith({ type: "InvalidDate", field: "endDate", value: "next week" })
    })

    it("rejects a block that ends before it starts", () => {
      spec.given([created]).when(addBlock({ ...base, startDate: "2025-01-26", endDate: "2025-01-06" }))
        .thenRejectedWith({ type: "BlockEndsBeforeItStarts", startDate: "2025-01-26", endDate: "2025-01-06" })
    })

    it("rejects a block that starts before the plan or ends after it", () => {
      const outside = (startDate: string, endDate: string): TrainingPlan.Rejection => ({
        type: "BlockOutsidePlan",
        startDate,
        endDate,
        planStartDate: "2025-01-06",
        planEndDate: "2025-03-30"
      })
      spec.given([created]).when(addBlock({ ...base, startDate: "2025-01-05" })).thenRejectedWith(outside("2025-01-05", "2025-01-26"))
      spec.given([created]).when(addBlock({ ...taper, endDate: "2025-03-31" })).thenRejectedWith(outside("2025-03-17", "2025-03-31"))
    })

    it("rejects a block that overlaps another, even by a single day", () => {
      const overlaps = (block: TrainingPlan.Block): TrainingPlan.Rejection => ({
        type: "BlockOverlaps",
        blockId: block.blockId,
        startDate: block.startDate,
        endDate: block.endDate
      })
      const block = (startDate: string, endDate: string): TrainingPlan.Command =>
        addBlock({ blockId: "b-new", name: "New", focus: "speed", startDate, endDate })
      spec.given(withBlocks).when(block("2025-01-26", "2025-02-01")).thenRejectedWith(overlaps(base))
      spec.given(withBlocks).when(block("2025-01-28", "2025-02-03")).thenRejectedWith(overlaps(build))
      spec.given(withBlocks).when(block("2025-02-10", "2025-02-12")).thenRejectedWith(overlaps(build))
      spec.given(withBlocks).when(block("2025-01-27", "2025-03-10")).thenRejectedWith(overlaps(build))
    })
  })

  describe("scheduling workouts", () => {
    it("schedules a workout on a day inside a block, recording the block", () => {
      spec.given(withBlocks).when({ type: "ScheduleWorkout", workoutId: "w-1", date: "2025-01-12", title: "Long run", durationMinutes: 90 })
        .then([scheduled(longRun)])
      spec.given(withBlocks).when(schedule("w-2", "2025-02-11"))
        .then([scheduled({ workoutId: "w-2", blockId: "b-build", date: "2025-02-11", title: "Intervals", durationMinutes: 45 })])
    })

    it("schedules on a block's first and last days", () => {
      spec.given(withBlocks).when(schedule("w-2", "2025-01-06")).thenState((state) => state.status === "created" && state.workouts.length === 1)
      spec.given(withBlocks).when(schedule("w-2", "2025-03-02")).thenState((state) => state.status === "created" && state.workouts.length === 1)
    })

    it("keeps workouts in calendar order whatever order they are scheduled in", () => {
      spec.given([...withBlocks, scheduled(longRun)]).when(schedule("w-2", "2025-01-08"))
        .thenState((state) => state.status === "created" && state.workouts.map((workout) => workout.date).join() === "2025-01-08,2025-01-12")
    })

    it("rejects a workout on a day no block covers", () => {
      for (const date of ["2025-01-29", "2025-03-20", "2025-06-01"]) {
        spec.given(withBlocks).when(schedule("w-2", date)).thenRejectedWith({ type: "WorkoutOutsideBlocks", date })
      }
      spec.given([created]).when(schedule("w-2", "2025-01-12")).thenRejectedWith({ type: "WorkoutOutsideBlocks", date: "2025-01-12" })
    })

    it("rejects a second workout on the same day", () => {
      spec.given([...withBlocks, scheduled(longRun)]).when(schedule("w-2", "2025-01-12"))
        .thenRejectedWith({ type: "DayAlreadyScheduled", date: "2025-01-12", workoutId: "w-1" })
    })

    it("rejects a workout id the plan already has", () => {
      spec.given([...withBlocks, scheduled(longRun)]).when(schedule("w-1", "2025-01-13"))
        .thenRejectedWith({ type: "DuplicateWorkoutId", workoutId: "w-1" })
    })

    it("rejects a workout date that is not a calendar date", () => {
      spec.given(withBlocks).when(schedule("w-2", "2025-02-29")).thenRejectedWith({ type: "InvalidDate", field: "date", value: "2025-02-29" })
    })

    it("rejects a duration that is not whole minutes from 1 to a day, and accepts a whole day", () => {
      for (const durationMinutes of [0, -5, 1.5, 1441, Number.NaN]) {
        spec.given(withBlocks).when(schedule("w-2", "2025-01-13", durationMinutes)).thenRejectedWith({ type: "DurationInvalid", durationMinutes })
      }
      spec.given(withBlocks).when(schedule("w-2", "2025-01-13", 1440)).thenState((state) => state.status === "created" && state.workouts.length === 1)
    })
  })

  it("never ends: no state is terminal", () => {
    for (const history of [[], withBlocks, [...withBlocks, scheduled(longRun)]]) {
      expect(Decider.isTerminal(TrainingPlan.decider, stateAfter(history))).toBe(false)
    }
  })

  it("recognises calendar dates, leap days included", () => {
    for (const date of ["2025-01-06", "2024-02-29", "2000-02-29"]) expect(TrainingPlan.isCalendarDate(date), date).toBe(true)
    for (const date of ["2025-02-29", "1900-02-29", "2025-13-01", "2025-00-10", "2025-1-6", "20250106", "2025-01-06T00:00:00Z", ""]) {
      expect(TrainingPlan.isCalendarDate(date), date).toBe(false)
    }
  })

  it("describes commands, states and rejections for people", () => {
    expect(TrainingPlan.describeCommand(addBlock(base))).toBe('add block "Base" (aerobic volume), 2025-01-06 to 2025-01-26')
    expect(TrainingPlan.describeState(stateAfter([...withBlocks, scheduled(longRun)])))
      .toBe('plan "Spring marathon" for ath-1, 2025-01-06 to 2025-03-30: 2 blocks, 1 workout')
    expect(TrainingPlan.explain({ type: "WorkoutOutsideBlocks", date: "2025-01-29" }))
      .toBe("2025-01-29 is in no training block: add a block that covers it first")
    expect(TrainingPlan.explain({ type: "BlockOverlaps", ...build }))
      .toBe("the block overlaps block b-build (2025-02-03 to 2025-03-02)")
  })

  describe("obeys the decider laws", () => {
    // Fixed ids, names and dates, so that commands collide with what is already there: a
    // handful of blocks that fit, abut, overlap or fall outside the plan, and workout days
    // inside blocks, in the gaps, and not on the calendar at all.
    const span = (startDate: string, endDate: string) => ({ startDate, endDate })
    const blockSpans = [
      span("2025-01-06", "2025-01-26"),
      span("2025-02-03", "2025-03-02"),
      span("2025-03-17", "2025-03-30"),
      span("2025-01-27", "2025-02-02"),
      span("2025-01-20", "2025-02-10"),
      span("2025-03-25", "2025-04-05"),
      span("2025-02-20", "2025-02-01"),
      span("2025-02-30", "2025-03-05")
    ]
    const days = ["2025-01-06", "2025-01-12", "2025-01-29", "2025-02-11", "2025-03-02", "2025-03-20", "2025-03-30", "2025-02-30"] as const
    const weighted = <A>(weight: number, arbitrary: fc.Arbitrary<A>) => ({ weight, arbitrary })
    const command: fc.Arbitrary<TrainingPlan.Command> = fc.oneof(
      weighted(
        2,
        fc.record({
          type: fc.constant("CreatePlan" as const),
          name: fc.constantFrom("Spring marathon", "Base season"),
          athleteId: fc.constant("ath-1"),
          // Mostly the plan the blocks fit in; now and then a one-day plan or a reversed one.
          span: fc.oneof(weighted(4, fc.constant(span("2025-01-06", "2025-03-30"))), weighted(1, fc.constantFrom(span("2025-01-06", "2025-01-06"), span("2025-03-30", "2025-01-06")))),
          at: fc.constant(at)
        }).map(({ span, ...rest }) => ({ ...rest, ...span }))
      ),
      weighted(
        4,
        fc.record({
          type: fc.constant("AddTrainingBlock" as const),
          blockId: fc.constantFrom("b-1", "b-2", "b-3"),
          name: fc.constantFrom("Base", "Build", "Peak", "Taper"),
          focus: fc.constantFrom("volume", "speed"),
          span: fc.constantFrom(...blockSpans)
        }).map(({ span, ...rest }) => ({ ...rest, ...span }))
      ),
      weighted(
        5,
        fc.record({
          type: fc.constant("ScheduleWorkout" as const),
          workoutId: fc.constantFrom("w-1", "w-2", "w-3", "w-4"),
          date: fc.constantFrom(...days),
          title: fc.constantFrom("Long run", "Intervals"),
          durationMinutes: fc.oneof(weighted(6, fc.constantFrom(30, 60, 90)), weighted(1, fc.constantFrom(0, 1.5, 1441)))
        })
      )
    )

    for (const law of DeciderLaws.laws(TrainingPlan.decider, { commands: command, maxCommands: 30 })) it(law.name, law.check)

    it("the generated histories build plans with several blocks and workouts, and hit every rejection", () => {
      const rejections = new Set<string>()
      let fullPlans = 0
      for (const commands of fc.sample(fc.array(command, { maxLength: 30, size: "max" }), { numRuns: 200, seed: 42 })) {
        let state = TrainingPlan.initialState
        for (const next of commands) {
          const outcome = Decider.run(TrainingPlan.decider, next, state)
          if (Either.isRight(outcome)) state = outcome.right.state
          else rejections.add(outcome.left.type)
        }
        if (state.status === "created" && state.blocks.length >= 2 && state.workouts.length >= 2) fullPlans += 1
      }
      // 17 of these 200 histories end with two blocks or more and two workouts or more.
      expect(fullPlans).toBeGreaterThanOrEqual(10)
      expect([...rejections].sort()).toEqual([
        "BlockEndsBeforeItStarts",
        "BlockOutsidePlan",
        "BlockOverlaps",
        "DayAlreadyScheduled",
        "DuplicateBlockId",
        "DuplicateBlockName",
        "DuplicateWorkoutId",
        "DurationInvalid",
        "InvalidDate",
        "PlanAlreadyCreated",
        "PlanEndsBeforeItStarts",
        "PlanNotCreated",
        "WorkoutOutsideBlocks"
      ])
    })
  })
})
