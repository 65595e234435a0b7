/**
 * A training plan, as a decider: a plan for one athlete over a span of days, divided into
 * training blocks (base, build, peak, taper…), with workouts scheduled on days inside them.
 *
 * The seed names only the three commands (create_plan, add_training_block,
 * schedule_workout) and the events they record. The rules are ours:
 *
 * - A plan is created once; every other command needs a created plan.
 * - Dates are calendar dates (`YYYY-MM-DD`), and every span includes both its ends.
 * - A plan and a block each end on or after the day they start.
 * - A block lies inside the plan, and overlaps no other block: blocks are the plan's
 *   successive phases, so a day belongs to at most one. Gaps between blocks (a rest week)
 *   are allowed, and blocks may be added in any order.
 * - Block ids are unique, and so are block names within a plan ("Build" twice would leave
 *   people unsure which one they are looking at).
 * - A workout falls on a day inside a block (hence inside the plan); its block is found
 *   from its date and recorded in the event.
 * - At most one workout per day: a double session is one workout with a longer description.
 * - Workout ids are unique; a workout lasts a whole number of minutes, from 1 to a day.
 * - Nothing ends a plan (the seed has no such command), so no state is terminal.
 *
 * Ids and the creation time are impure, so they arrive in the command: `decide` never reads
 * a clock or makes up an id.
 */
import * as t from "io-ts"
import type * as Either from "fp-ts/lib/Either.js"
import { Decider, EventCodec } from "es-kernel"

// ---------------------------------------------------------------------------
// Events — a storage format, kept forever: change a payload only with a new schema
// version and an upcaster, never in place.
// ---------------------------------------------------------------------------

export const codec = EventCodec.make({
  TrainingPlanCreated: EventCodec.io(
    t.type({ name: t.string, athleteId: t.string, startDate: t.string, endDate: t.string, at: t.string })
  ),
  TrainingBlockAdded: EventCodec.io(
    t.type({ blockId: t.string, name: t.string, focus: t.string, startDate: t.string, endDate: t.string })
  ),
  WorkoutScheduled: EventCodec.io(
    t.type({ workoutId: t.string, blockId: t.string, date: t.string, title: t.string, durationMinutes: t.number })
  )
})

export type Event = EventCodec.Event<typeof codec>

// ---------------------------------------------------------------------------
// State
// ---------------------------------------------------------------------------

export interface Block {
  readonly blockId: string
  readonly name: string
  readonly focus: string
  readonly startDate: string
  readonly endDate: string
}

export interface Workout {
  readonly workoutId: string
  readonly blockId: string
  readonly date: string
  readonly title: string
  readonly durationMinutes: number
}

export type State =
  | { readonly status: "none" }
  | {
    readonly status: "created"
    readonly name: string
    readonly athleteId: string
    readonly startDate: string
    readonly endDate: string
    /** In calendar order, whatever order they were added in. */
    readonly blocks: ReadonlyArray<Block>
    /** In calendar order, whatever order they were scheduled in. */
    readonly workouts: ReadonlyArray<Workout>
  }

export const initialState: State = { status: "none" }

// `YYYY-MM-DD` dates compare as strings in calendar order, so no Date is needed to sort.
const byStartDate = (a: Block, b: Block): number => a.startDate < b.startDate ? -1 : a.startDate > b.startDate ? 1 : 0
const byDate = (a: Workout, b: Workout): number => a.date < b.date ? -1 : a.date > b.date ? 1 : 0

// An event that does not fit the state (one `decide` would never have produced) leaves it
// unchanged: replay must not fail on history it cannot explain. Payloads are copied field
// by field: a decoded payload may carry fields the state does not have.
export const evolve = (state: State, event: Event): State => {
  switch (event.type) {
    case "TrainingPlanCreated": {
      if (state.status !== "none") return state
      const { name, athleteId, startDate, endDate } = event.data
      return { status: "created", name, athleteId, startDate, endDate, blocks: [], workouts: [] }
    }
    case "TrainingBlockAdded": {
      if (state.status !== "created") return state
      const { blockId, name, focus, startDate, endDate } = event.data
      return { ...state, blocks: [...state.blocks, { blockId, name, focus, startDate, endDate }].sort(byStartDate) }
    }
    case "WorkoutScheduled": {
      if (state.status !== "created") return state
      const { workoutId, blockId, date, title, durationMinutes } = event.data
      return { ...state, workouts: [...state.workouts, { workoutId, blockId, date, title, durationMinutes }].sort(byDate) }
    }
  }
}

// ---------------------------------------------------------------------------
// Decisions
// ---------------------------------------------------------------------------

export type Command =
  | {
    readonly type: "CreatePlan"
    readonly name: string
    readonly athleteId: string
    readonly startDate: string
    readonly endDate: string
    readonly at: string
  }
  | {
    readonly type: "AddTrainingBlock"
    readonly blockId: string
    readonly name: string
    readonly focus: string
    readonly startDate: string
    readonly endDate: string
  }
  | {
    readonly type: "ScheduleWorkout"
    readonly workoutId: string
    readonly date: string
    readonly title: string
    readonly durationMinutes: number
  }

export type Rejection =
  | { readonly type: "PlanAlreadyCreated" }
  | { readonly type: "PlanNotCreated" }
  | { readonly type: "InvalidDate"; readonly field: "startDate" | "endDate" | "date"; readonly value: string }
  | { readonly type: "PlanEndsBeforeItStarts"; readonly startDate: string; readonly endDate: string }
  | { readonly type: "BlockEndsBeforeItStarts"; readonly startDate: string; readonly endDate: string }
  | { readonly type: "DuplicateBlockId"; readonly blockId: string }
  | { readonly type: "DuplicateBlockName"; readonly name: string }
  | {
    readonly type: "BlockOutsidePlan"
    readonly startDate: string
    readonly endDate: string
    readonly planStartDate: string
    readonly planEndDate: string
  }
  /** The block it would overlap, by id and span. */
  | { readonly type: "BlockOverlaps"; readonly blockId: string; readonly startDate: string; readonly endDate: string }
  | { readonly type: "DuplicateWorkoutId"; readonly workoutId: string }
  | { readonly type: "DurationInvalid"; readonly durationMinutes: number }
  | { readonly type: "WorkoutOutsideBlocks"; readonly date: string }
  /** The workout already on that day. */
  | { readonly type: "DayAlreadyScheduled"; readonly date: string; readonly workoutId: string }

type Decision = Either.Either<Rejection, ReadonlyArray<Event>>
type Created = Extract<State, { readonly status: "created" }>

const minutesInADay = 24 * 60

/** Whether `value` is a real `YYYY-MM-DD` day (not "2025-02-30", not "2025-2-3"). */
export const isCalendarDate = (value: string): boolean => {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(value)) return false
  const day = new Date(`${value}T00:00:00.000Z`)
  return !Number.isNaN(day.getTime()) && day.toISOString().slice(0, 10) === value
}

const invalidSpan = (startDate: string, endDate: string): Rejection | undefined =>
  !isCalendarDate(startDate)
    ? { type: "InvalidDate", field: "startDate", value: startDate }
    : !isCalendarDate(endDate)
    ? { type: "InvalidDate", field: "endDate", value: endDate }
    : undefined

const decideCreatePlan = (command: Extract<Command, { readonly type: "CreatePlan" }>): Decision => {
  const { name, athleteId, startDate, endDate, at } = command
  const invalid = invalidSpan(startDate, endDate)
  if (invalid !== undefined) return Decider.reject(invalid)
  if (endDate < startDate) return Decider.reject({ type: "PlanEndsBeforeItStarts", startDate, endDate })
  return Decider.accept({ type: "TrainingPlanCreated", data: { name, athleteId, startDate, endDate, at } })
}

const decideAddBlock = (command: Extract<Command, { readonly type: "AddTrainingBlock" }>, plan: Created): Decision => {
  const { blockId, name, focus, startDate, endDate } = command
  if (plan.blocks.some((block) => block.blockId === blockId)) return Decider.reject({ type: "DuplicateBlockId", blockId })
  if (plan.blocks.some((block) => block.name === name)) return Decider.reject({ type: "DuplicateBlockName", name })
  const invalid = invalidSpan(startDate, endDate)
  if (invalid !== undefined) return Decider.reject(invalid)
  if (endDate < startDate) return Decider.reject({ type: "BlockEndsBeforeItStarts", startDate, endDate })
  if (startDate < plan.startDate || endDate > plan.endDate) {
    return Decider.reject({ type: "BlockOutsidePlan", startDate, endDate, planStartDate: plan.startDate, planEndDate: plan.endDate })
  }
  const overlapped = plan.blocks.find((block) => block.startDate <= endDate && startDate <= block.endDate)
  if (overlapped !== undefined) {
    return Decider.reject({ type: "BlockOverlaps", blockId: overlapped.blockId, startDate: overlapped.startDate, endDate: overlapped.endDate })
  }
  return Decider.accept({ type: "TrainingBlockAdded", data: { blockId, name, focus, startDate, endDate } })
}

const decideScheduleWorkout = (command: Extract<Command, { readonly type: "ScheduleWorkout" }>, plan: Created): Decision => {
  const { workoutId, date, title, durationMinutes } = command
  if (plan.workouts.some((workout) => workout.workoutId === workoutId)) return Decider.reject({ type: "DuplicateWorkoutId", workoutId })
  if (!isCalendarDate(date)) return Decider.reject({ type: "InvalidDate", field: "date", value: date })
  if (!Number.isSafeInteger(durationMinutes) || durationMinutes < 1 || durationMinutes > minutesInADay) {
    return Decider.reject({ type: "DurationInvalid", durationMinutes })
  }
  const block = plan.blocks.find((candidate) => candidate.startDate <= date && date <= candidate.endDate)
  if (block === undefined) return Decider.reject({ type: "WorkoutOutsideBlocks", date })
  const taken = plan.workouts.find((workout) => workout.date === date)
  if (taken !== undefined) return Decider.reject({ type: "DayAlreadyScheduled", date, workoutId: taken.workoutId })
  return Decider.accept({ type: "WorkoutScheduled", data: { workoutId, blockId: block.blockId, date, title, durationMinutes } })
}

export const decide = (command: Command, state: State): Decision => {
  if (command.type === "CreatePlan") {
    return state.status === "none" ? decideCreatePlan(command) : Decider.reject({ type: "PlanAlreadyCreated" })
  }
  if (state.status === "none") return Decider.reject({ type: "PlanNotCreated" })
  switch (command.type) {
    case "AddTrainingBlock":
      return decideAddBlock(command, state)
    case "ScheduleWorkout":
      return decideScheduleWorkout(command, state)
  }
}

// No `isTerminal`: a plan never stops accepting blocks and workouts (see the rules above).
export const decider: Decider.Decider<Command, State, Event, Rejection> = { decide, evolve, initialState }

// ---------------------------------------------------------------------------
// Words for people
// ---------------------------------------------------------------------------

const plural = (count: number, noun: string): string => `${count} ${noun}${count === 1 ? "" : "s"}`

export const describeCommand = (command: Command): string => {
  switch (command.type) {
    case "CreatePlan":
      return `create plan "${command.name}" for ${command.athleteId}, ${command.startDate} to ${command.endDate}`
    case "AddTrainingBlock":
      return `add block "${command.name}" (${command.focus}), ${command.startDate} to ${command.endDate}`
    case "ScheduleWorkout":
      return `schedule "${command.title}" (${command.durationMinutes} min) on ${command.date}`
  }
}

export const explain = (rejection: Rejection): string => {
  switch (rejection.type) {
    case "PlanAlreadyCreated":
      return "the plan already exists"
    case "PlanNotCreated":
      return "there is no such plan"
    case "InvalidDate":
      return `${rejection.field} must be a calendar date written YYYY-MM-DD (got "${rejection.value}")`
    case "PlanEndsBeforeItStarts":
      return `the plan would end (${rejection.endDate}) before it starts (${rejection.startDate})`
    case "BlockEndsBeforeItStarts":
      return `the block would end (${rejection.endDate}) before it starts (${rejection.startDate})`
    case "DuplicateBlockId":
      return `the plan already has a block with id ${rejection.blockId}`
    case "DuplicateBlockName":
      return `the plan already has a block named "${rejection.name}"`
    case "BlockOutsidePlan":
      return `the block (${rejection.startDate} to ${rejection.endDate}) must lie within the plan (${rejection.planStartDate} to ${rejection.planEndDate})`
    case "BlockOverlaps":
      return `the block overlaps block ${rejection.blockId} (${rejection.startDate} to ${rejection.endDate})`
    case "DuplicateWorkoutId":
      return `the plan already has a workout with id ${rejection.workoutId}`
    case "DurationInvalid":
      return `a workout lasts a whole number of minutes from 1 to ${minutesInADay} (got ${rejection.durationMinutes})`
    case "WorkoutOutsideBlocks":
      return `${rejection.date} is in no training block: add a block that covers it first`
    case "DayAlreadyScheduled":
      return `${rejection.date} already has a workout (${rejection.workoutId})`
  }
}

export const describeState = (state: State): string => {
  switch (state.status) {
    case "none":
      return "no plan"
    case "created":
      return `plan "${state.name}" for ${state.athleteId}, ${state.startDate} to ${state.endDate}: ` +
        `${plural(state.blocks.length, "block")}, ${plural(state.workouts.length, "workout")}`
  }
}
