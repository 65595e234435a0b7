/**
 * Three OS processes append to the same streams at once: every acknowledged append is
 * recorded exactly once, every refusal is a typed WrongExpectedVersion, and each stream's
 * versions stay gapless.
 */
import { assert, it } from "@effect/vitest"
import { Effect, Fiber, Layer, Stream } from "effect"
import { EventStore } from "../../src/EventStore.js"
import * as EventStorePostgres from "../../src/EventStorePostgres.js"
import { spawnScript, waitForExit } from "../file/helpers.js"
import { freshSchema, postgresSuite } from "./server.js"

interface Report {
  readonly appended: ReadonlyArray<string>
  readonly conflicts: number
  readonly otherErrors: ReadonlyArray<string>
}

const runAppender = (url: string, schema: string, name: string, skew = 0): Promise<Report> => {
  const child = spawnScript("test/postgres/appender.ts", [url, schema, name, "3", "2500", String(skew)])
  let output = ""
  child.stdout?.on("data", (data: Buffer) => {
    output += data.toString()
  })
  return waitForExit(child).then((code) => {
    if (code !== 0) throw new Error(`appender ${name} exited with ${String(code)}: ${output}`)
    const parsed: Report = JSON.parse(output.trim())
    return parsed
  })
}

postgresSuite("EventStorePostgres across processes", (database) => {
  it.live("three processes appending to the same streams lose no update", () => {
    const schema = freshSchema()
    return Effect.gen(function*() {
      // The schema exists before the children start, so they race on appends only;
      // their own start-up (migrations under the advisory lock) is raced in the next test.
      const store = yield* EventStore
      const reports = yield* Effect.promise(() =>
        Promise.all(["a", "b", "c"].map((name) => runAppender(database.url(), schema, name)))
      )
      for (const report of reports) assert.deepStrictEqual(report.otherErrors, [])
      const acknowledged = reports.flatMap((report) => report.appended)
      const conflicts = reports.reduce((sum, report) => sum + report.conflicts, 0)
      assert.isTrue(acknowledged.length > 50, `only ${acknowledged.length} appends went through`)
      assert.isTrue(conflicts > 0, "the processes never raced")
      process.stderr.write(`three processes: ${acknowledged.length} appends acknowledged, ${conflicts} typed conflicts\n`)
      const all = yield* Stream.runCollect(store.readAll())
      assert.deepStrictEqual([...all.map((e) => e.eventId)].sort(), [...acknowledged].sort())
      for (const streamId of ["shared-0", "shared-1", "shared-2"]) {
        const versions = (yield* Stream.runCollect(store.readStream(streamId))).map((e) => e.version)
        assert.deepStrictEqual(versions, versions.map((_, index) => index + 1))
      }
      const positions = all.map((e) => e.position)
      assert.deepStrictEqual(positions, [...positions].sort((a, b) => a - b))
    }).pipe(Effect.provide(Layer.fresh(EventStorePostgres.layer({ url: database.url(), schema }))))
  }, 60_000)

  it.live("recordedAt never goes backwards in position order when the processes' clocks disagree", () => {
    const schema = freshSchema()
    return Effect.gen(function*() {
      const store = yield* EventStore
      // One machine an hour behind, one a second ahead, one right.
      const reports = yield* Effect.promise(() =>
        Promise.all(([["a", -3_600_000], ["b", 1_000], ["c", 0]] as const).map(([name, skew]) =>
          runAppender(database.url(), schema, name, skew)
        ))
      )
      for (const report of reports) assert.deepStrictEqual(report.otherErrors, [])
      const all = yield* Stream.runCollect(store.readAll())
      const behind = all.filter((e, index) => index > 0 && e.recordedAt < (all[index - 1]?.recordedAt ?? e.recordedAt))
      assert.strictEqual(all.length, reports.flatMap((report) => report.appended).length)
      assert.deepStrictEqual(behind.map((e) => e.position), [], "recordedAt went backwards at these positions")
      // The slow machine did append, in between the others.
      const slow = all.filter((e) => e.eventId.startsWith("a-")).length
      assert.isTrue(slow > 0 && slow < all.length, `the slow machine appended ${slow} of ${all.length}`)
    }).pipe(Effect.provide(Layer.fresh(EventStorePostgres.layer({ url: database.url(), schema }))))
  }, 60_000)

  it.live("a subscriber hears of another process's append by notification, long before its next poll", () => {
    const schema = freshSchema()
    return Effect.gen(function*() {
      const store = yield* EventStore
      const delivery = yield* Effect.forkChild(
        store.subscribe().pipe(Stream.take(1), Stream.runCollect, Effect.map(() => Date.now()))
      )
      yield* Effect.sleep("200 millis")
      const child = spawnScript("test/postgres/appendOnce.ts", [database.url(), schema])
      let output = ""
      child.stdout?.on("data", (data: Buffer) => {
        output += data.toString()
      })
      const code = yield* Effect.promise(() => waitForExit(child))
      assert.strictEqual(code, 0)
      const deliveredAt = yield* Fiber.join(delivery)
      const appendedAt = Number(output.trim())
      assert.isBelow(deliveredAt - appendedAt, 3_000, "delivered only by a poll, not by the notification")
    }).pipe(Effect.provide(Layer.fresh(EventStorePostgres.layer({ url: database.url(), schema, pollInterval: "30 seconds" }))))
  }, 60_000)

  it.live("three processes starting on a new schema at once migrate it once", () => {
    const schema = freshSchema()
    return Effect.gen(function*() {
      const reports = yield* Effect.promise(() =>
        Promise.all(["a", "b", "c"].map((name) => runAppender(database.url(), schema, name)))
      )
      for (const report of reports) assert.deepStrictEqual(report.otherErrors, [])
      const acknowledged = reports.flatMap((report) => report.appended)
      // Opened only now, so the children were the ones to create the schema.
      const all = yield* EventStore.use((store) => Stream.runCollect(store.readAll())).pipe(
        Effect.provide(Layer.fresh(EventStorePostgres.layer({ url: database.url(), schema })))
      )
      assert.strictEqual(all.length, acknowledged.length)
    })
  }, 60_000)
})
