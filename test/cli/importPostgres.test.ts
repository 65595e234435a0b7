// `es-kernel import` into PostgreSQL with exports of many batches (12,000 events: ~15
// batches, so the pipeline also empties on the way), where batches are
// encoded ahead and two are in flight at once: the order of the export holds, an
// interrupted import is finished by running it again, and an event that disagrees with
// the target stops the import with what went in before it kept, in order.
import { join } from "node:path"
import { Effect, Stream } from "effect"
import { afterAll, beforeAll, expect, it } from "vitest"
import { EventStore } from "es-kernel"
import * as EventStorePostgres from "es-kernel/postgres"
import { freshSchema, postgresSuite } from "../postgres/server.js"
import { contents, exportedEvents, writeExport } from "./exports.js"
import { cli, removeDirectories, temporaryDirectory } from "./helpers.js"

const recorded = (url: string, schema: string) =>
  Effect.runPromise(Effect.gen(function*() {
    const store = yield* EventStore.EventStore
    return yield* Stream.runCollect(store.readAll())
  }).pipe(Effect.provide(EventStorePostgres.layer({ url, schema }))))

const inOrder = (events: ReadonlyArray<EventStore.RecordedEvent>) =>
  events.every((event, index) => index === 0 || (events[index - 1]?.position ?? Infinity) < event.position)

const events = exportedEvents(300, 40)
let directory = ""

beforeAll(async () => {
  directory = await temporaryDirectory()
})

afterAll(removeDirectories)

postgresSuite("es-kernel import into PostgreSQL, many batches", ({ url }) => {
  it("keeps the export's order, every stream's versions, ids and payloads", async () => {
    const file = await writeExport(join(directory, "whole.ndjson"), events)
    const schema = freshSchema()
    const outcome = await cli(["import", url(), "--schema", schema, "--input", file])
    expect(outcome.stderr).toBe("")
    expect(outcome.exitCode).toBe(0)
    expect(outcome.stdout).toContain(`imported 12,000 event(s) of 300 stream(s)`)
    const stored = await recorded(url(), schema)
    expect(contents(stored)).toEqual(events)
    expect(inOrder(stored)).toBe(true)
  }, 240_000)

  it("finishes an interrupted import when run again, in the export's order", async () => {
    const schema = freshSchema()
    const cut = await writeExport(join(directory, "cut.ndjson"), events.slice(0, 2_500), { trailer: false })
    const first = await cli(["import", url(), "--schema", schema, "--input", cut])
    expect(first.exitCode).toBe(1)
    expect(first.stderr).toContain("cut short")
    expect(contents(await recorded(url(), schema))).toEqual(events.slice(0, 2_500))
    const whole = await writeExport(join(directory, "again.ndjson"), events)
    const again = await cli(["import", url(), "--schema", schema, "--input", whole])
    expect(again.stderr).toBe("")
    expect(again.exitCode).toBe(0)
    const stored = await recorded(url(), schema)
    expect(contents(stored)).toEqual(events)
    expect(inOrder(stored)).toBe(true)
  }, 240_000)

  it("stops at a stream that disagrees with the target, naming it, with the events before it kept in order", async () => {
    const schema = freshSchema()
    const disagreeing = events[3_000]?.streamId ?? ""
    const firstOfStream = events.findIndex((event) => event.streamId === disagreeing)
    await Effect.runPromise(Effect.gen(function*() {
      const store = yield* EventStore.EventStore
      yield* store.append(disagreeing, [{ type: "Existing", data: {} }])
    }).pipe(Effect.provide(EventStorePostgres.layer({ url: url(), schema }))))
    const file = await writeExport(join(directory, "conflict.ndjson"), events)
    const outcome = await cli(["import", url(), "--schema", schema, "--input", file, "--force"])
    expect(outcome.exitCode).toBe(1)
    expect(outcome.stderr).toContain(`stream "${disagreeing}" versions 1–`)
    expect(outcome.stderr).toContain("is at version 1, not 0")
    const stored = (await recorded(url(), schema)).slice(1)
    expect(inOrder(stored)).toBe(true)
    // Everything before the disagreeing stream's first event went in, in the export's order.
    expect(contents(stored.slice(0, firstOfStream))).toEqual(events.slice(0, firstOfStream))
    expect(stored.some((event) => event.streamId === disagreeing)).toBe(false)
  }, 240_000)

  it("stops at a line that is not an event, naming it; with the line mended, running again completes", async () => {
    const schema = freshSchema()
    const broken = await writeExport(join(directory, "broken.ndjson"), events, { replace: [4_000, "{\"position\": 4001, \"eventId\""] })
    const first = await cli(["import", url(), "--schema", schema, "--input", broken])
    expect(first.exitCode).toBe(1)
    expect(first.stderr).toContain("line 4002: not a JSON object")
    const before = await recorded(url(), schema)
    expect(contents(before)).toEqual(events.slice(0, before.length))
    const mended = await writeExport(join(directory, "mended.ndjson"), events)
    const again = await cli(["import", url(), "--schema", schema, "--input", mended])
    expect(again.exitCode).toBe(0)
    expect(contents(await recorded(url(), schema))).toEqual(events)
  }, 240_000)
})
