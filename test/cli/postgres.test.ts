// The command line on PostgreSQL, run as a user runs it: a file store (written by another
// process) exported and imported into PostgreSQL comes out equal — every stream, version,
// id, payload and the global order —, a second import changes nothing, and the reading
// commands work on the URL.
import { Effect, Layer, Stream } from "effect"
import { afterAll, beforeAll, expect, it } from "vitest"
import { EventStore, EventStoreFile } from "es-kernel"
import * as EventStorePostgres from "es-kernel/postgres"
import { freshSchema, postgresSuite } from "../postgres/server.js"
import { cli, removeDirectories, startWriter, temporaryDirectory } from "./helpers.js"

const everything = (layer: Layer.Layer<EventStore.EventStore, unknown>) =>
  Effect.runPromise(Effect.gen(function*() {
    const store = yield* EventStore.EventStore
    return yield* Stream.runCollect(store.readAll())
  }).pipe(Effect.provide(layer)))

const comparable = (events: ReadonlyArray<EventStore.RecordedEvent>) =>
  events.map(({ eventId, streamId, version, type, schemaVersion, data, metadata }) => ({ eventId, streamId, version, type, schemaVersion, data, metadata }))

let directory = ""
let exportFile = ""

beforeAll(async () => {
  directory = await temporaryDirectory()
  const writer = await startWriter(directory)
  // Streams taking turns, in appends of 1 and of 3 events.
  await writer.fill(40, 6, 3)
  await writer.fill(7, 2, 1)
  const exported = await cli(["export", directory, "--output", `${directory}.ndjson`])
  await writer.stop()
  expect(exported.exitCode).toBe(0)
  exportFile = `${directory}.ndjson`
}, 240_000)

afterAll(removeDirectories)

postgresSuite("es-kernel on PostgreSQL", ({ url }) => {
  it("imports a file store's export into PostgreSQL: streams, versions, ids, payloads and order equal; a re-run changes nothing", async () => {
    const schema = freshSchema()
    const imported = await cli(["import", url(), "--schema", schema, "--input", exportFile])
    expect(imported.stderr).toBe("")
    expect(imported.exitCode).toBe(0)
    expect(imported.stdout).toContain("imported 254 event(s) of 40 stream(s)")
    const source = await everything(EventStoreFile.layerReadOnly({ directory }))
    const target = () => everything(EventStorePostgres.layer({ url: url(), schema }))
    const copied = await target()
    expect(comparable(copied)).toEqual(comparable(source))
    expect(copied.map((event) => event.position)).toEqual([...copied.map((event) => event.position)].sort((a, b) => a - b))
    const again = await cli(["import", url(), "--schema", schema, "--input", exportFile])
    expect(again.exitCode).toBe(0)
    expect(comparable(await target())).toEqual(comparable(source))
  }, 240_000)

  it("refuses to interleave an export into a store holding other events unless --force", async () => {
    const schema = freshSchema()
    await Effect.runPromise(Effect.gen(function*() {
      const store = yield* EventStore.EventStore
      yield* store.append("other-1", [{ type: "Existing", data: {} }])
    }).pipe(Effect.provide(EventStorePostgres.layer({ url: url(), schema }))))
    const refused = await cli(["import", url(), "--schema", schema, "--input", exportFile])
    expect(refused.exitCode).toBe(1)
    expect(refused.stderr).toContain("is not empty and does not begin with this export")
    const forced = await cli(["import", url(), "--schema", schema, "--input", exportFile, "--force"])
    expect(forced.exitCode).toBe(0)
    expect((await everything(EventStorePostgres.layer({ url: url(), schema }))).length).toBe(255)
  }, 240_000)

  it("lists streams, reads one, tails and counts on a postgres:// URL; a missing schema is exit 3", async () => {
    const schema = freshSchema()
    expect((await cli(["import", url(), "--schema", schema, "--input", exportFile])).exitCode).toBe(0)
    const streams = await cli(["streams", url(), "--schema", schema, "--category", "cart"])
    expect(streams.exitCode).toBe(0)
    expect(streams.stdout).toMatch(/^cart-9 +6 /m)
    const read = await cli(["read", url(), "--schema", schema, "order-3", "--json", "--at", "3"])
    expect(read.stdout.trim().split("\n").map((line) => JSON.parse(line).version)).toEqual([1, 2, 3])
    const tail = await cli(["tail", url(), "--schema", schema, "-n", "3", "--json"])
    expect(tail.stdout.trim().split("\n").length).toBe(3)
    const stats = JSON.parse((await cli(["stats", url(), "--schema", schema, "--json"])).stdout)
    expect(stats).toMatchObject({ events: 254, streams: 40, storage: { kind: "postgres", schema } })
    expect(stats.storage.totalBytes).toBeGreaterThan(0)
    const missing = await cli(["streams", url(), "--schema", freshSchema()])
    expect(missing.exitCode).toBe(3)
    expect(missing.stderr).toContain("reading never creates a store")
    const verify = await cli(["verify", url()])
    expect(verify.exitCode).toBe(2)
  }, 240_000)
})
