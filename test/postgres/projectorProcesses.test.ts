/**
 * Projections on PostgreSQL in real processes: a runner SIGKILLed mid-batch and started
 * again applies every event exactly once, and of two runners started together on one
 * projection only one ever applies an event.
 */
import type { ChildProcess } from "node:child_process"
import { assert, it } from "@effect/vitest"
import { Effect, Layer, Stream } from "effect"
import { EventStore } from "../../src/EventStore.js"
import * as EventStorePostgres from "../../src/EventStorePostgres.js"
import { spawnScript, waitForExit, waitForOutput } from "../file/helpers.js"
import * as Tally from "../projector/tally.js"
import { freshSchema, postgresSuite } from "./server.js"
import { rawPool } from "./writers.js"

const child = "test/postgres/projectChild.ts"

interface Applied {
  readonly position: number
  readonly pid: number
}

postgresSuite("Projector on PostgreSQL, in processes", (database) => {
  /** A fresh schema holding `events` events and an empty `applied` table; the events' positions. */
  const seeded = (schema: string, events: number) =>
    Effect.gen(function*() {
      const store = yield* EventStore
      for (let index = 0; index < events; index += 50) {
        yield* store.append("counter-a", Array.from({ length: Math.min(50, events - index) }, () => Tally.added(1)))
      }
      const pool = yield* rawPool(database.url(), 1)
      yield* pool.unsafe(`CREATE TABLE "${schema}".applied (position bigint NOT NULL, pid integer NOT NULL)`)
      return yield* Effect.map(Stream.runCollect(store.readAll()), (all) => all.map((event) => event.position))
    }).pipe(Effect.scoped, Effect.provide(Layer.fresh(EventStorePostgres.layer({ url: database.url(), schema }))))

  const applied = (schema: string) =>
    Effect.gen(function*() {
      const pool = yield* rawPool(database.url(), 1)
      const rows = yield* pool.unsafe<{ readonly position: string; readonly pid: number }>(
        `SELECT position::text AS position, pid FROM "${schema}".applied ORDER BY position`
      )
      return rows.map((row): Applied => ({ position: Number(row.position), pid: row.pid }))
    }).pipe(Effect.scoped)

  /**
   * Starts a runner. A runner killed a moment ago may still hold the lock until the server
   * has seen its connection close: then the new one is refused, and started again.
   */
  const startRunner = (args: ReadonlyArray<string>) =>
    Effect.promise(async (): Promise<ChildProcess> => {
      for (let attempt = 0; attempt < 30; attempt++) {
        const runner = spawnScript(child, args)
        const output = await waitForOutput(runner, "\n")
        if (output.startsWith("started")) return runner
        await waitForExit(runner)
        await new Promise((resolve) => setTimeout(resolve, 100))
      }
      throw new Error("the runner was refused 30 times")
    })

  it.live("SIGKILLed mid-batch and started again, several times: every event applied exactly once", () => {
    const schema = freshSchema()
    return Effect.gen(function*() {
      const positions = yield* seeded(schema, 300)
      const counts: Array<number> = []
      for (let round = 0; round < 4; round++) {
        // 3 ms per event inside each batch's transaction: most kills land mid-batch.
        const runner = yield* startRunner([database.url(), schema, "3", "5"])
        yield* Effect.sleep(`${150 + Math.floor(Math.random() * 450)} millis`)
        runner.kill("SIGKILL")
        yield* Effect.promise(() => waitForExit(runner))
        counts.push((yield* applied(schema)).length)
      }
      const last = yield* startRunner([database.url(), schema, "0", "5"])
      const output = yield* Effect.promise(() => waitForOutput(last, "done"))
      assert.strictEqual(yield* Effect.promise(() => waitForExit(last)), 0)
      const rows = yield* applied(schema)
      assert.deepStrictEqual(rows.map((row) => row.position), positions, `applied after each kill: ${counts.join(", ")}; ${output}`)
      // Some kill interrupted the work.
      assert.isTrue(counts.some((count) => count > 0 && count < positions.length), `applied after each kill: ${counts.join(", ")}`)
      assert.include(output, `done (checkpoint ${positions[positions.length - 1]})`)
    })
  }, 120_000)

  it.live("two runners started together: one applies, the other is refused and applies nothing; once the first dies, another takes over", () => {
    const schema = freshSchema()
    return Effect.gen(function*() {
      const positions = yield* seeded(schema, 20)
      const args = [database.url(), schema, "300", "1"]
      const runners = [spawnScript(child, args), spawnScript(child, args)]
      const outputs = yield* Effect.promise(() => Promise.all(runners.map((runner) => waitForOutput(runner, "\n"))))
      const winner = runners[outputs.findIndex((output) => output.startsWith("started"))]
      const loser = runners.find((runner) => runner !== winner)
      const refusal = outputs.find((output) => !output.startsWith("started")) ?? ""
      if (winner === undefined || loser === undefined) return assert.fail(`no runner started: ${JSON.stringify(outputs)}`)
      assert.match(refusal, /^refused projection "positions@1" is already running in (process \d+|another process) \(it holds the PostgreSQL advisory lock/)
      if (refusal.includes("in process")) assert.include(refusal, `in process ${winner.pid}`)
      assert.strictEqual(yield* Effect.promise(() => waitForExit(loser)), 3)
      // The winner applies a few events, then dies.
      yield* Effect.sleep("700 millis")
      winner.kill("SIGKILL")
      yield* Effect.promise(() => waitForExit(winner))
      const third = yield* startRunner([database.url(), schema, "0", "1"])
      yield* Effect.promise(() => waitForOutput(third, "done"))
      assert.strictEqual(yield* Effect.promise(() => waitForExit(third)), 0)
      const rows = yield* applied(schema)
      assert.deepStrictEqual(rows.map((row) => row.position), positions)
      const by = new Set(rows.map((row) => row.pid))
      assert.isFalse(by.has(loser.pid ?? -1), "the refused runner applied an event")
      assert.isTrue(by.has(winner.pid ?? -1) && by.has(third.pid ?? -1), JSON.stringify([...by]))
    })
  }, 120_000)
})
