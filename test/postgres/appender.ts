/**
 * One of the processes of the multi-process test: appends to a few shared streams with
 * exact expected versions for `--millis`, then prints what it did as one JSON line. With
 * `skew`, its clock runs that many milliseconds off the real one (a machine whose clock
 * is wrong).
 *
 *   tsx test/postgres/appender.ts <url> <schema> <process> <streams> <millis> [skew]
 */
import { Clock, Effect, Exit } from "effect"
import { EventStore } from "../../src/EventStore.js"
import * as EventStorePostgres from "../../src/EventStorePostgres.js"

const [url = "", schema = "", name = "p", streamCount = "3", millis = "2000", skew = "0"] = process.argv.slice(2)

const skewed = (base: Clock.Clock, by: number): Clock.Clock => ({
  currentTimeMillisUnsafe: () => base.currentTimeMillisUnsafe() + by,
  currentTimeMillis: Effect.sync(() => base.currentTimeMillisUnsafe() + by),
  currentTimeNanosUnsafe: () => base.currentTimeNanosUnsafe() + BigInt(by) * 1_000_000n,
  currentTimeNanos: Effect.sync(() => base.currentTimeNanosUnsafe() + BigInt(by) * 1_000_000n),
  monotonicTimeNanosUnsafe: () => base.monotonicTimeNanosUnsafe(),
  monotonicTimeNanos: base.monotonicTimeNanos,
  sleep: (duration) => base.sleep(duration)
})

const program = Effect.gen(function*() {
  const store = yield* EventStore
  const clock = skewed(yield* Clock.Clock, Number(skew))
  const appended: Array<string> = []
  const otherErrors: Array<string> = []
  let conflicts = 0
  const deadline = Date.now() + Number(millis)
  // Several fibers per process, so appends also meet in this process's groups.
  yield* Effect.forEach(Array.from({ length: 8 }, (_, fiber) => fiber), (fiber) =>
    Effect.gen(function*() {
      for (let round = 0; Date.now() < deadline; round++) {
        const streamId = `shared-${(fiber + round) % Number(streamCount)}`
        const version = yield* store.streamVersion(streamId)
        const eventId = `${name}-${fiber}-${round}`
        const exit = yield* Effect.exit(store.append(streamId, [{ type: "Appended", data: { by: name }, eventId }], version).pipe(
          Effect.provideService(Clock.Clock, clock)
        ))
        if (Exit.isSuccess(exit)) appended.push(eventId)
        else {
          const error = Exit.findErrorOption(exit)
          if (error._tag === "Some" && error.value._tag === "WrongExpectedVersion") conflicts++
          else otherErrors.push(String(exit.cause))
        }
      }
    }), { concurrency: "unbounded", discard: true })
  process.stdout.write(`${JSON.stringify({ appended, conflicts, otherErrors })}\n`)
})

Effect.runPromise(program.pipe(Effect.provide(EventStorePostgres.layer({ url, schema })))).catch((error: unknown) => {
  process.stderr.write(`appender ${name} failed: ${String(error)}\n`)
  process.exit(1)
})
