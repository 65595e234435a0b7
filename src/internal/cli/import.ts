/**
 * `es-kernel import <store>`: an export (NDJSON, see `ndjson.ts`) appended into a store of
 * any layer, keeping every stream's versions and every event id, in the export's global
 * order, and idempotent when run again.
 *
 * @internal
 */
import { Effect, Option, Stream } from "effect"
import { limits } from "../../EventStore.js"
import type { AppendError, EventStore, NewEvent } from "../../EventStore.js"
import { quote } from "../text.js"
import type { Command } from "./command.js"
import { CliError, exitCodes, flag, positionals, stringOption, writeLines } from "./command.js"
import { lines } from "./lines.js"
import { parseBodyLine, parseHeader } from "./ndjson.js"
import type { ExportedEvent } from "./ndjson.js"
import { progress } from "./progress.js"
import { count } from "./table.js"
import { describeLocation, loadPostgres, locationHelp, locationOf, locationOptions, openStore, storeFailed } from "./target.js"
import type { Location } from "./target.js"

// One append holds a run of consecutive events of one stream, cut at the contract's
// batch size and at 16 Mi characters of lines (at most 48 MiB of UTF-8, under its 64 MiB).
const runCharacters = 16 * 1024 * 1024

// Batches read ahead of the one being appended.
const readAhead = 2

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
 * `maxEvents` events and `maxRuns` runs) at a time, in the export's order. `prepare`
 * encodes a batch while the batches before it are being appended.
 *
 * @internal
 */
export interface Importer {
  readonly maxEvents: number
  readonly maxRuns: number
  /** How many batches' `attempt`s may be under way at once. */
  readonly concurrency: number
  readonly prepare: (runs: ReadonlyArray<Run>) => Effect.Effect<PreparedBatch>
}

/** A batch, encoded, and its two ways into the store. @internal */
export interface PreparedBatch {
  /** The fast way: whether the batch went in. */
  readonly attempt: Effect.Effect<boolean, CliError>
  /** For a batch its attempt did not take in: one batch at a time, in order, with every check. */
  readonly fallback: Effect.Effect<void, CliError>
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

/** What an import read. */
interface Tally {
  line: number
  events: number
  appends: number
  readonly streams: Set<string>
  ended: number | undefined
}

/**
 * Cuts the export's events into runs (consecutive events of one stream, at most the
 * contract's batch size and `runCharacters`) and the runs into batches an importer takes
 * (each stream at most once, at most `maxRuns` runs and `maxEvents` events), keeping the
 * export's order.
 */
class Batcher {
  private run: Run | undefined = undefined
  private batch: Array<Run> = []
  private batchEvents = 0
  private readonly batchStreams = new Set<string>()
  private completed: Array<ReadonlyArray<Run>> = []

  constructor(private readonly importer: Importer, private readonly tally: Tally) {}

  add(event: ExportedEvent, characters: number): void {
    const newEvent: NewEvent = {
      eventId: event.eventId,
      type: event.type,
      data: event.data,
      metadata: event.metadata,
      schemaVersion: event.schemaVersion
    }
    const run = this.run
    if (
      run !== undefined && run.streamId === event.streamId && run.lastVersion + 1 === event.version &&
      run.events.length < limits.batchEvents && run.characters + characters <= runCharacters
    ) {
      run.events.push(newEvent)
      run.lastVersion = event.version
      run.characters += characters
      return
    }
    this.closeRun()
    this.run = { streamId: event.streamId, firstVersion: event.version, lastVersion: event.version, events: [newEvent], characters }
  }

  /** The batches completed since the last call. */
  take(): ReadonlyArray<ReadonlyArray<Run>> {
    const completed = this.completed
    this.completed = []
    return completed
  }

  /** Completes the run and the batch being filled. */
  end(): void {
    this.closeRun()
    this.closeBatch()
  }

  private closeRun(): void {
    const run = this.run
    if (run === undefined) return
    this.run = undefined
    const fits = this.batch.length === 0 || (
      !this.batchStreams.has(run.streamId) && this.batch.length < this.importer.maxRuns &&
      this.batchEvents + run.events.length <= this.importer.maxEvents
    )
    if (!fits) this.closeBatch()
    this.batch.push(run)
    this.batchEvents += run.events.length
    this.batchStreams.add(run.streamId)
  }

  private closeBatch(): void {
    if (this.batch.length === 0) return
    this.completed.push(this.batch)
    this.tally.appends += this.batch.length
    this.batch = []
    this.batchEvents = 0
    this.batchStreams.clear()
  }
}

/**
 * Reads the export's lines in order: the header, the events (handed to the batcher) and
 * the trailer. A line that is none of these stops the import, naming the line.
 */
class ExportReader {
  constructor(
    private readonly input: string | undefined,
    private readonly tally: Tally,
    private readonly batcher: Batcher
  ) {}

  /** Reads `texts`; the batches they complete, or the error at the first bad line. */
  read(texts: ReadonlyArray<string>): ReadonlyArray<ReadonlyArray<Run>> | CliError {
    const tally = this.tally
    for (const text of texts) {
      tally.line++
      if (tally.line === 1) {
        const header = parseHeader(text)
        if (typeof header === "string") return this.atLine(header)
        continue
      }
      if (text.length === 0) continue
      if (tally.ended !== undefined) return this.atLine("a line after the trailer; the file was joined with another")
      const parsed = parseBodyLine(text)
      if (typeof parsed === "string") return this.atLine(parsed)
      if (parsed._tag === "End") {
        tally.ended = parsed.events
        continue
      }
      tally.events++
      tally.streams.add(parsed.event.streamId)
      this.batcher.add(parsed.event, text.length)
    }
    return this.batcher.take()
  }

  /** The batches left when the input ends. */
  end(): ReadonlyArray<ReadonlyArray<Run>> {
    this.batcher.end()
    return this.batcher.take()
  }

  private atLine(reason: string): CliError {
    return found(`${this.input ?? "standard input"} line ${this.tally.line}: ${reason}`)
  }
}

/**
 * A run whose first events are recorded already — an import interrupted in the middle
 * of that run — is finished: its recorded part retried exactly (the store accepts a
 * faithful retry and refuses anything else), then the rest appended after it. Any other
 * run keeps the error it met.
 */
const resumeRun = (store: EventStore["Service"], run: Run, error: AppendError): Effect.Effect<void, AppendError> =>
  Effect.gen(function*() {
    const recorded = (yield* store.streamVersion(run.streamId)) - (run.firstVersion - 1)
    if (recorded <= 0 || recorded >= run.events.length) return yield* Effect.fail(error)
    yield* store.append(run.streamId, run.events.slice(0, recorded), run.firstVersion - 1).pipe(Effect.mapError(() => error))
    yield* store.append(run.streamId, run.events.slice(recorded), run.firstVersion - 1 + recorded)
  })

// Decides, at the export's first event, whether importing may go ahead: into an empty
// store, into one that begins with that same event (a re-run), or anywhere with --force.
const checkTarget = (store: EventStore["Service"], location: Location, firstEventId: string | undefined) =>
  Effect.gen(function*() {
    const head = yield* store.readAll({ limit: 1 }).pipe(Stream.runHead, Effect.mapError(storeFailed(location, "reading")))
    if (Option.isNone(head) || head.value.eventId === firstEventId) return
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
        store.append(run.streamId, run.events, run.firstVersion - 1).pipe(
          Effect.catchTags({
            EventIdConflict: (error) => resumeRun(store, run, error),
            WrongExpectedVersion: (error) => resumeRun(store, run, error)
          }),
          Effect.asVoid,
          Effect.mapError(appendFailed(location, run))
        )
      const importer: Importer = location._tag === "Postgres"
        ? yield* Effect.flatMap(loadPostgres, (postgres) => postgres.bulkImporter(location.url, location.schema, appendRun))
        : {
          maxEvents: 1,
          maxRuns: 1,
          concurrency: 1,
          prepare: (runs) => Effect.succeed({ attempt: Effect.as(Effect.forEach(runs, appendRun, { discard: true }), true), fallback: Effect.void })
        }
      const reader = new ExportReader(input, tally, new Batcher(importer, tally))
      // Reading and appending overlap: the batches read ahead wait in a small buffer while
      // the importer appends the one before them.
      const batches = stream.pipe(
        Stream.mapEffect((texts) => {
          const read = reader.read(texts)
          bar.update(total === undefined ? tally.line : bytesRead())
          return read instanceof CliError ? Effect.fail(read) : Effect.succeed(read)
        }),
        Stream.concat(Stream.sync(() => reader.end())),
        Stream.flattenIterable,
        Stream.mapEffect((runs) => Effect.map(importer.prepare(runs), (batch) => ({ firstEventId: runs[0]?.events[0]?.eventId, batch }))),
        Stream.buffer({ capacity: readAhead })
      )
      // The target is checked before the first batch goes in. Attempts may overlap; a batch
      // its attempt did not take in falls back in the export's order.
      let checked = flag(invocation, "force")
      yield* batches.pipe(
        Stream.tap(({ firstEventId }) => {
          if (checked) return Effect.void
          checked = true
          return checkTarget(store, location, firstEventId)
        }),
        Stream.mapEffect(({ batch }) => Effect.map(batch.attempt, (went) => ({ batch, went })), { concurrency: importer.concurrency }),
        Stream.runForEach(({ batch, went }) => went ? Effect.void : batch.fallback)
      )
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
