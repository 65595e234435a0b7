/**
 * The import into PostgreSQL: batches of runs, each in one statement and one
 * transaction, positions in the export's order.
 *
 * A batch goes in by `fresh`, whole or not at all, with the least work per event. Two
 * batches are under way at once on one connection, pipelined: the server runs the second
 * as soon as the first committed, and the second goes in only if the first did.
 * Encoding a batch happens while the ones before it are in the database. The runs of a
 * batch `fresh` did not take in (an id already recorded: a re-run; a stream not at the
 * run's version) go through the store's own append one by one, in order, which decides
 * between an idempotent success and a precise error. Other processes' subscribers see
 * the imported events at their next poll: a batch sends no notification.
 *
 * @internal
 */
import { Context, Deferred, Effect, Layer, Redacted } from "effect"
import type { Scope } from "effect"
import * as PgClient from "@effect/sql-pg/PgClient"
import * as EventStorePostgres from "../../EventStorePostgres.js"
import { encodeAppend, EventColumns } from "../postgres/checks.js"
import type { EncodedAppend } from "../postgres/checks.js"
import { integer } from "../postgres/rows.js"
import type { Row } from "../postgres/rows.js"
import { checkedOffset } from "../postgres/schema.js"
import { importAppend, maxEventsPerTransaction, statements } from "../postgres/sql.js"
import type { Json, NewEvent } from "../../EventStore.js"
import { isObject, parseJson } from "../files.js"
import { CliError, exitCodes } from "./command.js"
import type { Importer, PreparedBatch, Run } from "./import.js"

/** The events of a batch as the `fresh` statement takes them: streams, versions and the encoded columns. */
interface BatchColumns {
  readonly streams: ReadonlyArray<string>
  readonly versions: ReadonlyArray<number>
  readonly events: EventColumns
}

const batchColumns = (appends: ReadonlyArray<EncodedAppend>): BatchColumns => {
  const streams: Array<string> = []
  const versions: Array<number> = []
  const events = new EventColumns()
  for (const append of appends) {
    const before = versionBefore(append)
    append.events.forEach((event, index) => {
      streams.push(append.streamId)
      versions.push(before + index + 1)
      events.push(event)
    })
  }
  return { streams, versions, events }
}

/** A run as a batch keeps it once encoded: its events are the batch's columns from `start`. */
interface RunShape {
  readonly streamId: string
  readonly firstVersion: number
  readonly start: number
  readonly count: number
}

// The runs of a batch, rebuilt from its columns for the store's append (the only copy a
// batch keeps while it waits, so that the parsed events die young).
const runsOf = (shapes: ReadonlyArray<RunShape>, columns: EventColumns): Array<Run> =>
  shapes.map(({ streamId, firstVersion, start, count }) => {
    const events: Array<NewEvent> = []
    for (let index = start; index < start + count; index++) {
      events.push({
        eventId: columns.eventIds[index] ?? "",
        type: columns.types[index] ?? "",
        schemaVersion: columns.schemaVersions[index] ?? 1,
        data: parseJson(columns.data[index] ?? "null") ?? null,
        metadata: parseMetadata(columns.metadata[index] ?? "{}")
      })
    }
    return { streamId, firstVersion, lastVersion: firstVersion + count - 1, characters: 0, events }
  })

const parseMetadata = (text: string): { readonly [key: string]: Json } => {
  const parsed = parseJson(text)
  return parsed !== undefined && isObject(parsed) ? parsed : {}
}

// An import's appends expect exact versions.
const versionBefore = (append: EncodedAppend): number => typeof append.expected === "number" ? append.expected : 0

/**
 * The version each stream is at once every batch prepared so far went in. A run that
 * continues it needs no look-up of its stream's version: a batch goes in only after the
 * batch before it (see `fresh`), whole, so its streams are where the batches before left
 * them, unless another process appended to them since, and then the run's first
 * version is recorded already and the statement fails on the unique index. A batch that
 * did not go in at first and went in by the store's checks leaves its streams at the
 * same versions; one that cannot go in stops the import.
 */
class Versions {
  private readonly last = new Map<string, number>()

  /** The runs whose stream's version the statement must look up (streams, versions before), the batch's versions counted in. */
  advance(appends: ReadonlyArray<EncodedAppend>): readonly [Array<string>, Array<number>] {
    const streams: Array<string> = []
    const versions: Array<number> = []
    for (const append of appends) {
      const before = versionBefore(append)
      if (this.last.get(append.streamId) !== before) {
        streams.push(append.streamId)
        versions.push(before)
      }
      this.last.set(append.streamId, before + append.events.length)
    }
    return [streams, versions]
  }
}

const runsBetweenYields = 50

const batchesBetweenDrains = 8

/** A batch's place in the order batches go in. */
interface Link {
  /** The last event id of the batch before ('' for the first): the statement's guard. */
  readonly previousLastId: string
  /** What the batch waits for before it goes out. */
  readonly wait: Effect.Effect<void>
  /** Settled when the batch's statement is done, however it ended. */
  readonly done: Deferred.Deferred<void>
}

/**
 * The order batches go in. Each names the last event id of the batch before it, and
 * every few batches one waits until the batch before it is done, which empties the
 * pipeline: the client frees what it keeps of the statements on the wire only when none
 * is left.
 */
class Chain {
  private lastId = ""
  private previousDone = Deferred.makeUnsafe<void>()
  private count = 0

  constructor() {
    Deferred.doneUnsafe(this.previousDone, Effect.void)
  }

  next(lastId: string): Link {
    const before = this.previousDone
    const link: Link = {
      previousLastId: this.lastId,
      wait: ++this.count % batchesBetweenDrains === 0 ? Deferred.await(before) : Effect.void,
      done: Deferred.makeUnsafe<void>()
    }
    this.lastId = lastId
    this.previousDone = link.done
    return link
  }
}

/** How many rows `fresh` inserted: 0 when the batch did not go in. */
const insertedRows = (rows: ReadonlyArray<Row>): number => {
  const [row] = rows
  return row === undefined ? 0 : integer(row, "inserted")
}

/**
 * The importer into the PostgreSQL store at `url`, `schema`. `fallback` is the store's own
 * append of one run.
 *
 * @internal
 */
export const bulkImporter = (
  url: string,
  schema: string,
  fallback: (run: Run) => Effect.Effect<void, CliError>
): Effect.Effect<Importer, CliError, Scope.Scope> =>
  Effect.gen(function*() {
    const context = yield* Layer.build(PgClient.layer({ url: Redacted.make(url), maxConnections: 1, multiplex: true, maxMessageSize: EventStorePostgres.maxRowBytes }))
    const sql = Context.get(context, PgClient.PgClient)
    const bound = statements(schema)
    const offset = yield* checkedOffset(sql, bound)
    const fresh = importAppend(schema)
    const versions = new Versions()
    const chain = new Chain()
    const fallbackAll = (runs: ReadonlyArray<Run>) => Effect.forEach(runs, fallback, { discard: true })

    const prepare = (runs: ReadonlyArray<Run>): Effect.Effect<PreparedBatch> =>
      Effect.gen(function*() {
        const recordedAt = Date.now()
        const appends: Array<EncodedAppend> = []
        for (const [index, run] of runs.entries()) {
          if (index % runsBetweenYields === runsBetweenYields - 1) yield* Effect.yieldNow
          const append = encodeAppend(run.streamId, run.events, run.firstVersion - 1)
          // The store's append reports an invalid run precisely.
          if (append instanceof Error) return { attempt: Effect.succeed(false), fallback: fallbackAll(runs) }
          appends.push(append)
        }
        const { streams, versions: eventVersions, events } = batchColumns(appends)
        const link = chain.next(events.eventIds.at(-1) ?? "")
        const parameters = [
          ...versions.advance(appends),
          recordedAt,
          BigInt(offset),
          streams,
          eventVersions,
          events.eventIds,
          events.types,
          events.schemaVersions,
          events.data,
          events.metadata,
          events.correlationIds,
          link.previousLastId
        ]
        const shapes: Array<RunShape> = []
        let start = 0
        for (const run of runs) {
          shapes.push({ streamId: run.streamId, firstVersion: run.firstVersion, start, count: run.events.length })
          start += run.events.length
        }
        return {
          attempt: link.wait.pipe(
            Effect.andThen(sql.unsafe<Row>(fresh, parameters)),
            Effect.map((rows) => insertedRows(rows) > 0),
            Effect.orElseSucceed(() => false),
            Effect.ensuring(Deferred.succeed(link.done, undefined))
          ),
          fallback: Effect.suspend(() => fallbackAll(runsOf(shapes, events)))
        }
      })
    return { maxEvents: maxEventsPerTransaction, maxRuns: 400, concurrency: 2, prepare }
  }).pipe(
    Effect.mapError((error) => new CliError({ exitCode: exitCodes.unavailable, reason: `preparing the import: ${error.message}` }))
  )
