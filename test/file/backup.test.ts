/**
 * Backups as docs/FILE.md tells users to take them: `cp segment-*.log <backup>/` (then,
 * optionally, the `.idx` files) while a writer keeps appending gives a copy that opens as
 * a prefix of the log.
 */
import { execFile } from "node:child_process"
import * as fs from "node:fs"
import { promisify } from "node:util"
import { Effect, Fiber, Layer, Stream } from "effect"
import { describe, expect, it } from "vitest"
import { EventStore } from "../../src/EventStore.js"
import * as EventStoreFile from "../../src/EventStoreFile.js"
import { directoriesPerTest } from "./helpers.js"

const freshDirectory = directoriesPerTest()
const run = promisify(execFile)

const allEvents = (directory: string) =>
  Effect.runPromise(Effect.provide(
    EventStore.use((store) => Stream.runCollect(store.readAll())),
    Layer.fresh(EventStoreFile.layer({ directory, segmentSize: 4096 }))
  ))

describe("backing up a file store", () => {
  it("a copy of the segment files, taken in name order while a writer appends, opens as a prefix of the log", async () => {
    const [live, copies] = [freshDirectory(), freshDirectory()]
    const copied: Array<string> = []
    await Effect.runPromise(Effect.provide(
      Effect.gen(function*() {
        const store = yield* EventStore
        const append = (n: number) => store.append(`order-${n % 7}`, [{ type: "Placed", data: { n, padding: "x".repeat(200) } }])
        // Enough for several segments before the copies start.
        yield* Effect.forEach(Array.from({ length: 100 }, (_, n) => n), append, { discard: true })
        const writer = yield* Effect.forkChild(Effect.forEach(Array.from({ length: 100_000 }, (_, n) => n + 100), append, { discard: true }))
        for (let round = 0; round < 5; round++) {
          const copy = `${copies}/copy-${round}`
          fs.mkdirSync(copy)
          // The index files are optional (opening rebuilds a missing or mismatching one): copied
          // after the segments in some rounds, left out in others.
          const command = round % 2 === 0 ? `cp segment-*.log '${copy}/'` : `cp segment-*.log '${copy}/' && cp segment-*.idx '${copy}/'`
          yield* Effect.promise(() => run("sh", ["-c", command], { cwd: live }))
          copied.push(copy)
        }
        yield* Fiber.interrupt(writer)
      }),
      Layer.fresh(EventStoreFile.layer({ directory: live, segmentSize: 4096 }))
    ))
    const original = await allEvents(live)
    for (const copy of copied) {
      const report = await Effect.runPromise(EventStoreFile.verify(copy))
      expect(["Intact", "TornTail"]).toContain(report._tag)
      const restored = await allEvents(copy)
      expect(restored.length).toBeGreaterThanOrEqual(100)
      expect(restored.length).toBeLessThanOrEqual(original.length)
      expect(restored.map((event) => [event.eventId, event.position, event.version])).toEqual(
        original.slice(0, restored.length).map((event) => [event.eventId, event.position, event.version])
      )
    }
    expect(fs.readdirSync(live).filter((name) => name.endsWith(".log")).length).toBeGreaterThan(5)
  })
})
