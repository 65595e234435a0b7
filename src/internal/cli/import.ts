/**
 * `es-kernel import <store>`: an export (NDJSON, see `ndjson.ts`) appended into a store of
 * any layer, keeping every stream's versions and every event id, in the export's global
 * order, and idempotent when run again.
 *
 * @internal
 */
import { createReadStream } from "node:fs"
import * as fs from "node:fs/promises"
import { createInterface } from "node:readline"
import { Effect, Option, Stream } from "effect"
import { limits } from "../../EventStore.js"
import type { AppendError, EventStore, NewEvent, RecordedEvent } from "../../EventStore.js"
import { quote } from "../text.js"
import type { Command } from "./command.js"
import { CliError, exitCodes, flag, positionals, stringOption, writeLines } from "./command.js"
import { parseBodyLine, parseHeader } from "./ndjson.js"
import { progress } from "./progress.js"
import { count } from "./table.js"
import { describeLocation, loadPostgres, locationHelp, locationOf, locationOptions, openStore, storeFailed } from "./target.js"
import type { Location } from "./target.js"

// One append holds a run of consecutive events of one stream, cut at the contract's
// batch size and at 16 Mi characters of lines (at most 48 MiB of UTF-8, under its 64 MiB).
const runCharacters = 16 * 1024 * 1024

/** Consecutive events of one stream in the export, appended together. @internal */
export interface Run {
  readonly streamId: string
  readonly firstVersion: number
  readonly events: Array<NewEvent>
  lastVersion: number
  characters: number
}

/**
 * How runs reach the store: a batch of runs (each stream at most once, at most
 * `maxEvents` events) at a time, in the export's order.
 *
 * @internal
 */
export interface Importer {
  readonly maxEvents: number
  readonly maxRuns: number
  readonly appendBatch: (runs: ReadonlyArray<Run>) => Effect.Effect<void, CliError>
}

const found = (reason: string) => new CliError({ exitCode: exitCodes.found, reason })

const appendFailed = (location: Location, run: Run) => (error: AppendError): CliError => {
  const where = `stream ${quote(run.streamId)} versions ${run.firstVersion}–${run.lastVersion}`
  switch (error._tag) {
    case "WrongExpectedVersion":
      return found(
        `${where}: the target's stream is at version ${error.actual}, not ${run.firstVersion - 1}: it holds other events of this stream. Import into an empty store, or remove that stream first`
      )
    case "EventIdConflict":
      return found(`${where}: ${error.message}`)
    case "InvalidAppend":
      return found(`${where}: ${error.message}`)
    case "StorageError":
      return storeFailed(location, "appending to")(error)
  }
}

// The lines of the input. The reader is created when the stream starts: lines a
// readline interface emits before its iteration begins would be lost.
const lines = (input: string | undefined) =>
  Effect.gen(function*() {
    const total = input === undefined ? undefined : yield* Effect.tryPromise({
      try: () => fs.stat(input).then((stats) => stats.size),
      catch: (cause) => new CliError({ exitCode: exitCodes.unavailable, reason: `reading ${input}: ${String(cause)}` })
    })
    let bytesRead = 0
    const stream = Stream.suspend(() => {
      const source = input === undefined ? process.stdin : createReadStream(input)
      source.on("data", (chunk: Buffer | string) => {
        bytesRead += chunk.length
      })
      return Stream.fromAsyncIterable(
        createInterface({ input: source, crlfDelay: Infinity }),
        (cause) => new CliError({ exitCode: exitCodes.unavailable, reason: `reading ${input ?? "standard input"}: ${String(cause)}` })
      ).pipe(Stream.ensuring(Effect.sync(() => source.destroy())))
    })
    return { stream, total, bytesRead: () => bytesRead }
  })

/** What an import did. */
interface Tally {
  line: number
  events: number
  appends: number
  readonly streams: Set<string>
  ended: number | undefined
}

// Decides, at the export's first event, whether importing may go ahead: into an empty
// store, into one that begins with that same event (a re-run), or anywhere with --force.
const checkTarget = (store: EventStore["Service"], location: Location, first: RecordedEvent, force: boolean) =>
  Effect.gen(function*() {
    if (force) return
    const head = yield* store.readAll({ limit: 1 }).pipe(Stream.runHead, Effect.mapError(storeFailed(location, "reading")))
    if (Option.isNone(head) || head.value.eventId === first.eventId) return
    return yield* found(
      `${describeLocation(location)} is not empty and does not begin with this export (its first event is ${quote(head.value.eventId)} of stream ${
        quote(head.value.streamId)
      }): importing would interleave the export's events with its own. Import into an empty store, or pass --force to append after its events`
    )
  })

/** @internal */
export const importCommand: Command = {
  name: "import",
  summary: "append an export into a store of any layer (versions and ids kept)",
  usage: `usage: es-kernel import <store> [--input <file>] [--force]

Appends the events of an export (es-kernel export's NDJSON) into <store>, a file store's
directory (created when missing; no other process may be writing it) or a postgres://
URL (its schema created when missing). Each stream keeps its versions and each event its
id, type, data, metadata and schema version; events are appended in the export's global
order, consecutive events of one stream in one append (into PostgreSQL, many streams' runs
in one transaction). Positions and recorded times are
the target's own.

Running it again with the same export is safe: events already recorded are recognised by
their ids and skipped, so an interrupted import is finished by running it again. The
target must be empty or begin with the export's first event (an earlier run); anything
else is refused (exit 1) unless --force. An event that disagrees with the target (a
stream that already holds other events, an id recorded elsewhere) stops the import with
exit 1, naming the stream and versions; the events before it stay imported.

At the end it prints the count of events, streams and appends, the time and the rate.

${locationHelp}
  -i, --input <file>  read the export from <file> (default: standard input)
  --force             import into a non-empty store that does not begin with this export`,
  options: { ...locationOptions, input: { type: "string", short: "i" }, force: { type: "boolean" } },
  run: (invocation) =>
    Effect.gen(function*() {
      const [storeArgument = ""] = yield* positionals(invocation, ["store"])
      const location = yield* locationOf(storeArgument, invocation)
      const input = stringOption(invocation, "input")
      const { stream, total, bytesRead } = yield* lines(input)
      const store = yield* openStore(location, "write")
      const bar = progress("importing", total === undefined ? "lines" : "bytes", total)
      yield* Effect.addFinalizer(() => Effect.sync(bar.finish))
      const tally: Tally = { line: 0, events: 0, appends: 0, streams: new Set(), ended: undefined }
      const started = Date.now()
      const appendRun = (run: Run) =>
        Effect.asVoid(store.append(run.streamId, run.events, run.firstVersion - 1).pipe(Effect.mapError(appendFailed(location, run))))
      const importer: Importer = location._tag === "Postgres"
        ? yield* Effect.flatMap(loadPostgres, (postgres) => postgres.bulkImporter(location.url, location.schema, appendRun))
        : { maxEvents: 1, maxRuns: 1, appendBatch: (runs) => Effect.forEach(runs, appendRun, { discard: true }) }
      // The run being read, and the batch of runs (each stream at most once) it joins.
      let run: Run | undefined
      let batch: Array<Run> = []
      let batchEvents = 0
      const batchStreams = new Set<string>()
      const flushBatch = Effect.suspend(() => {
        const runs = batch
        batch = []
        batchEvents = 0
        batchStreams.clear()
        tally.appends += runs.length
        return runs.length === 0 ? Effect.void : importer.appendBatch(runs)
      })
      const flush = Effect.suspend(() => {
        const current = run
        if (current === undefined) return Effect.void
        run = undefined
        const fits = batch.length === 0 || (
          !batchStreams.has(current.streamId) && batch.length < importer.maxRuns &&
          batchEvents + current.events.length <= importer.maxEvents
        )
        return Effect.andThen(
          fits ? Effect.void : flushBatch,
          Effect.sync(() => {
            batch.push(current)
            batchEvents += current.events.length
            batchStreams.add(current.streamId)
          })
        )
      })
      const atLine = (reason: string) => found(`${input ?? "standard input"} line ${tally.line}: ${reason}`)
      yield* Stream.runForEach(stream, (text) =>
        Effect.gen(function*() {
          tally.line++
          bar.update(total === undefined ? tally.line : bytesRead())
          if (tally.line === 1) {
            const header = parseHeader(text)
            if (typeof header === "string") return yield* atLine(header)
            return
          }
          if (text.length === 0) return
          if (tally.ended !== undefined) return yield* atLine("a line after the trailer; the file was joined with another")
          const parsed = parseBodyLine(text)
          if (typeof parsed === "string") return yield* atLine(parsed)
          if (parsed._tag === "End") {
            tally.ended = parsed.events
            return
          }
          const event = parsed.event
          if (tally.events === 0) yield* checkTarget(store, location, event, flag(invocation, "force"))
          tally.events++
          tally.streams.add(event.streamId)
          const newEvent: NewEvent = {
            eventId: event.eventId,
            type: event.type,
            data: event.data,
            metadata: event.metadata,
            schemaVersion: event.schemaVersion
          }
          if (
            run !== undefined && run.streamId === event.streamId && run.lastVersion + 1 === event.version &&
            run.events.length < limits.batchEvents && run.characters + text.length <= runCharacters
          ) {
            run.events.push(newEvent)
            run.lastVersion = event.version
            run.characters += text.length
            return
          }
          yield* flush
          run = { streamId: event.streamId, firstVersion: event.version, lastVersion: event.version, events: [newEvent], characters: text.length }
        }))
      yield* flush
      yield* flushBatch
      if (tally.line === 0) return yield* found(`${input ?? "standard input"} is empty; give a file written by es-kernel export`)
      if (tally.ended === undefined) {
        return yield* found(
          `${input ?? "standard input"} ends without the export's trailer: it was cut short. The ${count(tally.events)} event(s) in it were imported; import the complete export (running it again is safe)`
        )
      }
      if (tally.ended !== tally.events) {
        return yield* found(`the trailer counts ${count(tally.ended)} event(s), the file holds ${count(tally.events)}: the export is damaged`)
      }
      const seconds = Math.max(0.001, (Date.now() - started) / 1000)
      bar.finish()
      yield* writeLines([
        `imported ${count(tally.events)} event(s) of ${count(tally.streams.size)} stream(s) in ${count(tally.appends)} append(s) into ${
          describeLocation(location)
        } in ${seconds.toFixed(1)} s (${count(Math.round(tally.events / seconds))} events/s)`
      ])
      return exitCodes.ok
    }).pipe(Effect.scoped)
}
