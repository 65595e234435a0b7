/**
 * The subjects of the handler suites: es-kernel's `CommandHandler` running the bank
 * example's decider and io-ts codec (`examples/bank/Account.ts`), on the memory layer
 * (`handler` suite) and on the durable file layer (`handler-file` suite).
 *
 * One Effect program per run over a fresh store: set up (untimed), time the commands, then
 * (untimed) load what they made and return the total balance for the harness to check.
 * The commands are built before the clock starts.
 *
 * - W6: one `handle` after another over 1,000 accounts; on memory also with a tracing
 *   backend installed, where each command gets a span.
 * - W7: 1,000 deposits to one account, all in flight at once (`Effect.forEach`, unbounded
 *   concurrency), default retry.
 * - W8: `Decider.many(Account.decider)` over one stream, each command opening a new
 *   account, 100 in flight, window by window.
 */
import { Effect, Tracer } from "effect"
import { codec, decider } from "../../examples/bank/Account.js"
import type { Command } from "../../examples/bank/Account.js"
import * as CommandHandler from "../../src/CommandHandler.js"
import * as Decider from "../../src/Decider.js"
import * as EventCodec from "../../src/EventCodec.js"
import type { EventStore } from "../../src/EventStore.js"
import { layer as fileLayer } from "../../src/EventStoreFile.js"
import { layer as memoryLayer } from "../../src/EventStoreMemory.js"
import { accountId, bankCommands, fleetMeasurement, fleetOpening, fleetWindows, hotDeposit, now, openingBalance } from "../workloads.js"
import type { Runners, Target } from "../workloads.js"
import { freshDirectory, removeDirectory } from "./eskernel-file.js"

const handler = CommandHandler.make({ decider, codec, category: "account" })
// W6 again with a tracing backend installed, so that every command gets its span: a
// backend that keeps Effect's in-memory spans and exports nothing (the cheapest there is).
const keepingSpans = Tracer.make({ span: (options) => Tracer.nativeTracer.span(options) })
const fleetDecider = Decider.many(decider)
const fleet = CommandHandler.make({ decider: fleetDecider, codec: EventCodec.addressed(codec), category: "branch" })

export type Run = <A>(program: Effect.Effect<A, unknown, EventStore>) => Promise<A>

/** W6 on the fresh store `run` provides (the postgres suite runs it on its own layer). */
export const runCommands = (run: Run): NonNullable<Runners["commands"]> =>
  (spec) => {
    const ids = Array.from({ length: spec.accounts }, (_, i) => accountId(i))
    const commands = bankCommands(spec).map((c): { readonly id: string; readonly command: Command } => ({
      id: ids[c.account] ?? "",
      command: { type: c.kind, amount: c.amount, description: "bench" }
    }))
    return run(Effect.gen(function*() {
      for (const id of ids) yield* handler.handle(id, { type: "OpenAccount", owner: id, initialBalance: openingBalance })
      const t0 = now()
      for (const { id, command } of commands) yield* handler.handle(id, command)
      const seconds = (now() - t0) / 1000
      let total = 0
      for (const id of ids) {
        const { state } = yield* handler.load(id)
        total += state.status === "Open" ? state.balance : Number.NaN
      }
      return { events: commands.length, seconds, check: total }
    }))
  }

const runners = (run: Run): Runners => ({
  commands: runCommands(run),

  hotStream: (spec) => {
    const commands = Array.from({ length: spec.commands }, (_, i): Command => ({ type: "Deposit", amount: hotDeposit(i), description: "bench" }))
    return run(Effect.gen(function*() {
      yield* handler.handle("hot", { type: "OpenAccount", owner: "hot", initialBalance: 0 })
      const t0 = now()
      yield* Effect.forEach(commands, (command) => handler.handle("hot", command), { concurrency: "unbounded", discard: true })
      const seconds = (now() - t0) / 1000
      const { state } = yield* handler.load("hot")
      return { events: commands.length, seconds, check: state.status === "Open" ? state.balance : Number.NaN }
    }))
  },

  fleet: (spec) =>
    run(Effect.gen(function*() {
      const windowMillis: Array<number> = []
      for (const [start, end] of fleetWindows(spec)) {
        const commands = Array.from({ length: end - start }, (_, k): Decider.CommandOf<typeof fleetDecider> => ({
          id: accountId(start + k),
          value: { type: "OpenAccount", owner: "bench", initialBalance: fleetOpening(start + k) }
        }))
        const t0 = now()
        yield* Effect.forEach(commands, (command) => fleet.handle("1", command), { concurrency: spec.inFlight, discard: true })
        windowMillis.push(now() - t0)
      }
      const { state } = yield* fleet.load("1")
      let total = 0
      for (const account of state.values()) total += account.status === "Open" ? account.balance : Number.NaN
      return { ...fleetMeasurement(spec, windowMillis), check: state.size === spec.commands ? total : Number.NaN }
    }))
})

export const eskernelHandler: Target = {
  name: "es-kernel handler",
  role: "subject",
  runners: runners((program) => Effect.runPromise(program.pipe(Effect.provide(memoryLayer))))
}

export const eskernelHandlerTraced: Target = {
  name: "es-kernel handler, tracer installed",
  role: "subject",
  runners: { commands: runCommands((program) => Effect.runPromise(program.pipe(Effect.withTracer(keepingSpans), Effect.provide(memoryLayer)))) }
}

export const eskernelHandlerFile: Target = {
  name: "es-kernel handler (file)",
  role: "subject",
  runners: runners(async (program) => {
    const directory = await freshDirectory("handler")
    try {
      return await Effect.runPromise(program.pipe(Effect.provide(fileLayer({ directory }))))
    } finally {
      await removeDirectory(directory)
    }
  })
}
