/**
 * `es-kernel stats <store>`: how big the store is — events, streams, categories, types,
 * payload bytes, and the storage underneath (segment files, or the events table).
 *
 * @internal
 */
import * as fs from "node:fs/promises"
import * as path from "node:path"
import { Effect } from "effect"
import { categoryOf } from "../../EventStore.js"
import { idxName } from "../file/indexFile.js"
import { listSegments, segmentName } from "../file/segments.js"
import { jsonBytes } from "../json.js"
import type { Command } from "./command.js"
import { CliError, exitCodes, flag, positionals, writeLines } from "./command.js"
import { scanAll } from "./scan.js"
import { bytes, count, table, time } from "./table.js"
import { locationHelp, locationOf, locationOptions, loadPostgres, openStore } from "./target.js"
import type { Location } from "./target.js"

interface Census {
  events: number
  payloadBytes: number
  lastPosition: number
  firstWrite: Date | undefined
  lastWrite: Date | undefined
  readonly streams: Set<string>
  readonly categories: Set<string>
  readonly types: Map<string, number>
}

type Storage =
  | { readonly kind: "file"; readonly segments: number; readonly logBytes: number; readonly indexBytes: number }
  | { readonly kind: "postgres"; readonly schema: string; readonly heapBytes: number; readonly indexBytes: number; readonly totalBytes: number }

const fileStorage = (directory: string): Effect.Effect<Storage, CliError> =>
  Effect.tryPromise({
    try: async () => {
      const segments = await listSegments(directory)
      const size = (name: string) => fs.stat(path.join(directory, name)).then((stats) => stats.size, () => 0)
      const logs = await Promise.all(segments.map((segment) => size(segmentName(segment))))
      const indexes = await Promise.all(segments.map((segment) => size(idxName(segment))))
      const sum = (values: ReadonlyArray<number>) => values.reduce((total, value) => total + value, 0)
      return { kind: "file" as const, segments: segments.length, logBytes: sum(logs), indexBytes: sum(indexes) }
    },
    catch: (cause) => new CliError({ exitCode: exitCodes.unavailable, reason: `listing the segments of ${directory}: ${String(cause)}` })
  })

const storageOf = (location: Location): Effect.Effect<Storage, CliError> =>
  location._tag === "File"
    ? fileStorage(location.directory)
    : Effect.flatMap(loadPostgres, (postgres) => postgres.tableSizes(location.url, location.schema)).pipe(
      Effect.map((sizes) => ({ kind: "postgres" as const, schema: location.schema, ...sizes }))
    )

const report = (census: Census, storage: Storage): ReadonlyArray<string> => {
  const lines = [
    `events          ${count(census.events)}`,
    `streams         ${count(census.streams.size)}`,
    `categories      ${count(census.categories.size)}`,
    `types           ${count(census.types.size)}`,
    `payload bytes   ${bytes(census.payloadBytes)} (data and metadata as JSON text)`,
    `last position   ${census.lastPosition}`,
    `first write     ${census.firstWrite === undefined ? "-" : time(census.firstWrite)}`,
    `last write      ${census.lastWrite === undefined ? "-" : time(census.lastWrite)}`,
    storage.kind === "file"
      ? `segments        ${storage.segments}: ${bytes(storage.logBytes)} of log, ${bytes(storage.indexBytes)} of index files`
      : `table           ${storage.schema}.es_events: ${bytes(storage.totalBytes)} (${bytes(storage.heapBytes)} rows, ${bytes(storage.indexBytes)} indexes)`
  ]
  const types = [...census.types].sort(([a], [b]) => a < b ? -1 : a > b ? 1 : 0)
  return types.length === 0 ? lines : [...lines, "", ...table(["TYPE", "EVENTS"], types.map(([type, events]) => [type, count(events)]))]
}

/** @internal */
export const stats: Command = {
  name: "stats",
  summary: "count events, streams, categories and types; storage sizes",
  usage: `usage: es-kernel stats <store> [--json]

Reads the whole log once and prints its counts — events, streams, categories, types (and
events per type), payload bytes — its last position and first and last write, and the
storage underneath: a file store's segments and their bytes, or the size of the
PostgreSQL events table and its indexes.

${locationHelp}
  --json  one JSON object instead of the text report`,
  options: { ...locationOptions, json: { type: "boolean" } },
  run: (invocation) =>
    Effect.gen(function*() {
      const [storeArgument = ""] = yield* positionals(invocation, ["store"])
      const location = yield* locationOf(storeArgument, invocation)
      const store = yield* openStore(location, "read")
      const census: Census = {
        events: 0,
        payloadBytes: 0,
        lastPosition: 0,
        firstWrite: undefined,
        lastWrite: undefined,
        streams: new Set(),
        categories: new Set(),
        types: new Map()
      }
      yield* scanAll(store, location, {}, (events) =>
        Effect.sync(() => {
          for (const event of events) {
            census.events++
            census.payloadBytes += jsonBytes(event.data, event.metadata)
            census.lastPosition = event.position
            census.firstWrite ??= event.recordedAt
            census.lastWrite = event.recordedAt
            census.streams.add(event.streamId)
            census.categories.add(categoryOf(event.streamId))
            census.types.set(event.type, (census.types.get(event.type) ?? 0) + 1)
          }
        }))
      const storage = yield* storageOf(location)
      if (flag(invocation, "json")) {
        yield* writeLines([JSON.stringify({
          events: census.events,
          streams: census.streams.size,
          categories: census.categories.size,
          types: Object.fromEntries(census.types),
          payloadBytes: census.payloadBytes,
          lastPosition: census.lastPosition,
          firstWrite: census.firstWrite?.toISOString() ?? null,
          lastWrite: census.lastWrite?.toISOString() ?? null,
          storage
        })])
      } else {
        yield* writeLines(report(census, storage))
      }
      return exitCodes.ok
    }).pipe(Effect.scoped)
}
