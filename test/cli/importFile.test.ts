// `es-kernel import` into a file store: an import given a cut-short export, which leaves a
// run half imported, is finished by importing the whole export, in the export's order.
import { join } from "node:path"
import { Effect, Layer, Stream } from "effect"
import { afterAll, beforeAll, expect, it } from "vitest"
import { EventStore, EventStoreFile } from "es-kernel"
import { contents, exportedEvents, writeExport } from "./exports.js"
import { cli, removeDirectories, temporaryDirectory } from "./helpers.js"

const events = exportedEvents(40, 12)
let directory = ""

beforeAll(async () => {
  directory = await temporaryDirectory()
})

afterAll(removeDirectories)

const recorded = (store: string) =>
  Effect.runPromise(Effect.gen(function*() {
    const events = yield* EventStore.EventStore
    return yield* Stream.runCollect(events.readAll())
  }).pipe(Effect.provide(Layer.fresh(EventStoreFile.layerReadOnly({ directory: store })))))

it("finishes an import that a cut-short export left in the middle of a run", async () => {
  // The cut falls inside a run of 2 or 3 events of one stream.
  const cutAt = events.findIndex((event, index) => index > 200 && events[index + 1]?.streamId === event.streamId)
  const store = join(directory, "store")
  const cut = await writeExport(join(directory, "cut.ndjson"), events.slice(0, cutAt + 1), { trailer: false })
  const first = await cli(["import", store, "--input", cut])
  expect(first.exitCode).toBe(1)
  expect(first.stderr).toContain("cut short")
  const whole = await writeExport(join(directory, "whole.ndjson"), events)
  const again = await cli(["import", store, "--input", whole])
  expect(again.stderr).toBe("")
  expect(again.exitCode).toBe(0)
  expect(contents(await recorded(store))).toEqual(events)
}, 240_000)
