/**
 * A training plan on an event store, through the command handler (an aggregate of plans,
 * blocks and workouts): a plan is created, divided into
 * training blocks, and filled with workouts; every rule of TrainingPlan.ts shows up as a
 * typed rejection with its reason; at the end the plan is loaded and printed, blocks and
 * workouts, from its events.
 *
 * Run: npx tsx examples/training-plan.ts [--store memory | --store file:<directory>]
 * Every command carries a command id, so on a file store a second run finds the first
 * run's accepted commands already handled and appends nothing for them (the rejected ones
 * are decided again, against today's plan, and some fail for another reason: their ids
 * are taken by now); then it schedules the next weekly long run, so the plan grows by one
 * workout a run.
 */
import { Clock, Console, Effect } from "effect"
import { CommandHandler } from "es-kernel"
import * as TrainingPlan from "./training/TrainingPlan.js"
import { storeFromArgs } from "./store.js"

const plans = CommandHandler.make({ decider: TrainingPlan.decider, codec: TrainingPlan.codec, category: "plan" })
const planId = "ada-spring-2025"

const block = (blockId: string, name: string, focus: string, startDate: string, endDate: string): TrainingPlan.Command => ({
  type: "AddTrainingBlock",
  blockId,
  name,
  focus,
  startDate,
  endDate
})

const workout = (workoutId: string, date: string, title: string, durationMinutes: number): TrainingPlan.Command => ({
  type: "ScheduleWorkout",
  workoutId,
  date,
  title,
  durationMinutes
})

const createPlan = (startDate: string, endDate: string, at: string): TrainingPlan.Command => ({
  type: "CreatePlan",
  name: "Spring marathon",
  athleteId: "ada",
  startDate,
  endDate,
  at
})

/** Runs a command; returns whether it was accepted (now or by an earlier run). */
const run = (commandId: string, command: TrainingPlan.Command) =>
  Effect.gen(function*() {
    yield* Console.log(`> ${TrainingPlan.describeCommand(command)}`)
    const handled = yield* plans.handle(planId, command, { commandId })
    if (handled.alreadyHandled) yield* Console.log("  already handled by an earlier run: nothing appended")
    else for (const event of handled.events) yield* Console.log(`  + ${event.type} ${JSON.stringify(event.data)}`)
    yield* Console.log(`  = ${TrainingPlan.describeState(handled.state)} (version ${handled.version})`)
    return true
  }).pipe(Effect.catchTag("Rejected", (rejected) => Effect.as(Console.log(`  rejected: ${TrainingPlan.explain(rejected.rejection)}`), false)))

const dayOf = (date: string): string => ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"][new Date(`${date}T00:00:00.000Z`).getUTCDay()] ?? "?"

const addDays = (date: string, days: number): string =>
  new Date(new Date(`${date}T00:00:00.000Z`).getTime() + days * 86_400_000).toISOString().slice(0, 10)

const printPlan = (plan: Extract<TrainingPlan.State, { readonly status: "created" }>, version: number) =>
  Effect.gen(function*() {
    yield* Console.log(`Plan "${plan.name}" for ${plan.athleteId}, ${plan.startDate} to ${plan.endDate} (version ${version})`)
    let nextFreeDay = plan.startDate
    for (const phase of plan.blocks) {
      if (phase.startDate > nextFreeDay) yield* Console.log(`  · no block ${nextFreeDay} to ${addDays(phase.startDate, -1)}`)
      yield* Console.log(`  ${phase.name.padEnd(6)} ${phase.startDate} to ${phase.endDate}  ${phase.focus}`)
      for (const session of plan.workouts.filter((candidate) => candidate.blockId === phase.blockId)) {
        yield* Console.log(`    ${session.date} ${dayOf(session.date)}  ${session.title.padEnd(10)} ${String(session.durationMinutes).padStart(3)} min  (${session.workoutId})`)
      }
      nextFreeDay = addDays(phase.endDate, 1)
    }
    if (nextFreeDay <= plan.endDate) yield* Console.log(`  · no block ${nextFreeDay} to ${plan.endDate}`)
  })

const program = Effect.gen(function*() {
  const before = yield* plans.load(planId)
  yield* Console.log(`plan ${planId}: ${TrainingPlan.describeState(before.state)} (version ${before.version})`)
  const at = new Date(yield* Clock.currentTimeMillis).toISOString()

  yield* Console.log("\n== Creating the plan")
  yield* run("too-early", workout("w-0", "2025-01-29", "Easy run", 30))
  yield* run("create-backwards", createPlan("2025-03-30", "2025-01-06", at))
  yield* run("create-no-such-day", createPlan("2025-01-06", "2025-02-30", at))
  yield* run("create", createPlan("2025-01-06", "2025-03-30", at))
  yield* run("create-again", createPlan("2025-01-06", "2025-03-30", at))

  yield* Console.log("\n== Blocks: inside the plan, one after another")
  yield* run("block-build", block("b-build", "Build", "threshold", "2025-02-03", "2025-03-02"))
  yield* run("block-base", block("b-base", "Base", "aerobic volume", "2025-01-06", "2025-01-26"))
  yield* run("block-peak-overlapping", block("b-peak", "Peak", "race pace", "2025-02-24", "2025-03-09"))
  yield* run("block-peak", block("b-peak", "Peak", "race pace", "2025-03-03", "2025-03-16"))
  yield* run("block-taper-too-long", block("b-taper", "Taper", "freshness", "2025-03-17", "2025-04-06"))
  yield* run("block-taper-inside-out", block("b-taper", "Taper", "freshness", "2025-03-30", "2025-03-17"))
  yield* run("block-taper", block("b-taper", "Taper", "freshness", "2025-03-17", "2025-03-30"))
  yield* run("block-build-twice", block("b-build-2", "Build", "hills", "2025-01-27", "2025-02-02"))

  yield* Console.log("\n== Workouts: on a day inside a block, one a day")
  yield* run("long-run-2025-01-12", workout("long-2025-01-12", "2025-01-12", "Long run", 90))
  yield* run("intervals-rest-week", workout("w-intervals", "2025-01-29", "Intervals", 60))
  yield* run("intervals-same-day", workout("w-intervals", "2025-01-12", "Intervals", 60))
  yield* run("intervals-no-time", workout("w-intervals", "2025-02-05", "Intervals", 0))
  yield* run("intervals", workout("w-intervals", "2025-02-05", "Intervals", 60))
  yield* run("intervals-again", workout("w-intervals", "2025-02-06", "Intervals", 60))
  yield* run("tempo", workout("w-tempo", "2025-03-05", "Tempo", 45))
  yield* run("shakeout", workout("w-shakeout", "2025-03-29", "Shakeout", 20))

  yield* Console.log("\n== This run's long run: the Sunday after the last one")
  const sofar = yield* plans.load(planId)
  if (sofar.state.status === "created") {
    const longRuns = sofar.state.workouts.filter((session) => session.title === "Long run")
    let sunday = addDays(longRuns.at(-1)?.date ?? "2025-01-05", 7)
    // A Sunday in the rest week between blocks is refused; the long run moves to the next one.
    while (sunday <= sofar.state.endDate && !(yield* run(`long-run-${sunday}`, workout(`long-${sunday}`, sunday, "Long run", 90 + 10 * longRuns.length)))) {
      sunday = addDays(sunday, 7)
    }
  }

  yield* Console.log("\n== The plan, loaded from its events")
  const loaded = yield* plans.load(planId)
  if (loaded.state.status === "created") yield* printPlan(loaded.state, loaded.version)
})

const chosen = storeFromArgs()
console.log(`training plan example on the ${chosen.description} store`)
Effect.runPromise(program.pipe(Effect.provide(chosen.layer))).catch((error: unknown) => {
  console.error(error)
  process.exitCode = 1
})
