/**
 * The command line's PostgreSQL side, loaded only when a command is given a `postgres://`
 * URL, so that the command line works on file stores without `@effect/sql-pg` installed.
 *
 * @internal
 */
import { Context, Effect, Layer, Redacted } from "effect"
import type { Scope } from "effect"
import * as PgClient from "@effect/sql-pg/PgClient"
import type { EventStore, StorageError } from "../../EventStore.js"
import type { PositionsWouldGoBackwards, SchemaTooNew } from "../../EventStorePostgres.js"
import * as EventStorePostgres from "../../EventStorePostgres.js"
import { encodeAppend } from "../postgres/checks.js"
import { checkedOffset } from "../postgres/schema.js"
import { importAppend, inspectionStatements, invalidSchemaName, maxEventsPerTransaction, statements } from "../postgres/sql.js"
import type { Submitted } from "../postgres/groupCommit.js"
import { groupRunner } from "../postgres/store.js"
import type { Importer, Run } from "./import.js"
import { integer } from "../postgres/rows.js"
import type { Row } from "../postgres/rows.js"
import { CliError, exitCodes } from "./command.js"

/** The events table's sizes in bytes. @internal */
export interface TableSizes {
  readonly heapBytes: number
  readonly indexBytes: number
  readonly totalBytes: number
}

const unavailable = (what: string) => (error: { readonly message: string }) =>
  new CliError({ exitCode: exitCodes.unavailable, reason: `${what}: ${error.message}` })

const query = <A>(url: string, schema: string, run: (client: PgClient.PgClient) => Effect.Effect<A, CliError>) => {
  const invalid = invalidSchemaName(schema)
  if (invalid !== undefined) return Effect.fail(new CliError({ exitCode: exitCodes.usage, reason: `--schema: ${invalid}` }))
  return Effect.gen(function*() {
    const client = yield* PgClient.PgClient
    return yield* run(client)
  }).pipe(
    Effect.provide(PgClient.layer({ url: Redacted.make(url), maxConnections: 1 })),
    Effect.mapError((error) => error instanceof CliError ? error : unavailable("connecting to PostgreSQL")(error))
  )
}

const firstRow = (rows: ReadonlyArray<Row>, what: string): Effect.Effect<Row, CliError> => {
  const [row] = rows
  return row === undefined
    ? Effect.fail(new CliError({ exitCode: exitCodes.unavailable, reason: `${what}: the server returned no row` }))
    : Effect.succeed(row)
}

const checkPresent = (url: string, schema: string) =>
  query(url, schema, (client) =>
    client.unsafe<Row>(inspectionStatements(schema).storePresent).pipe(
      Effect.mapError(unavailable("looking for the store")),
      Effect.flatMap((rows) => firstRow(rows, "looking for the store")),
      Effect.flatMap((row) =>
        row.present === true ? Effect.void : Effect.fail(
          new CliError({
            exitCode: exitCodes.unavailable,
            reason: `no es-kernel store in schema "${schema}" of that database; check the URL and --schema (reading never creates a store)`
          })
        )
      )
    ))

/**
 * The store at `url` in `schema`. For `"read"` the store must exist (reading never
 * creates a schema); for `"write"` the layer creates or migrates it.
 *
 * @internal
 */
export const open = (
  url: string,
  schema: string,
  access: "read" | "write"
): Layer.Layer<EventStore, CliError | StorageError | SchemaTooNew | PositionsWouldGoBackwards> =>
  Layer.unwrap(
    Effect.as(
      access === "read" ? checkPresent(url, schema) : Effect.void,
      EventStorePostgres.layer({ url, schema, maxConnections: 4 })
    )
  )

/** The sizes of the store's events table. @internal */
export const tableSizes = (url: string, schema: string): Effect.Effect<TableSizes, CliError> =>
  query(url, schema, (client) =>
    client.unsafe<Row>(inspectionStatements(schema).tableSizes).pipe(
      Effect.mapError(unavailable("reading the table sizes")),
      Effect.flatMap((rows) => firstRow(rows, "reading the table sizes")),
      Effect.flatMap((row) =>
        Effect.try({
          try: () => ({
            heapBytes: integer(row, "heap_bytes"),
            indexBytes: integer(row, "index_bytes"),
            totalBytes: integer(row, "total_bytes")
          }),
          catch: (error) => unavailable("reading the table sizes")({ message: String(error) })
        })
      )
    ))

/**
 * An importer that appends a batch of runs (each stream at most once) in one statement
 * and one transaction, positions in the batch's order: what makes an import fast. A run
 * the statement leaves out — its ids already recorded (a re-run) or its stream not at the
 * expected version — and every run of a batch whose transaction failed go through
 * `fallback` (the store's own append), which decides between an idempotent success and
 * a precise error. Other processes' subscribers see the imported events at their next
 * poll: the batch sends no notification.
 *
 * @internal
 */
export const bulkImporter = (
  url: string,
  schema: string,
  fallback: (run: Run) => Effect.Effect<void, CliError>
): Effect.Effect<Importer, CliError, Scope.Scope> =>
  Effect.gen(function*() {
    const context = yield* Layer.build(PgClient.layer({ url: Redacted.make(url), maxConnections: 1, maxMessageSize: EventStorePostgres.maxRowBytes }))
    const sql = Context.get(context, PgClient.PgClient)
    const bound = statements(schema)
    const offset = yield* checkedOffset(sql, bound)
    const runGroup = groupRunner(sql, { ...bound, append: importAppend(schema) }, offset)
    const appendBatch = (runs: ReadonlyArray<Run>) =>
      Effect.gen(function*() {
        const recordedAt = Date.now()
        const submitted: Array<Submitted> = []
        for (const run of runs) {
          const append = encodeAppend(run.streamId, run.events, run.firstVersion - 1)
          // The store's append reports an invalid run precisely.
          if (append instanceof Error) return yield* Effect.forEach(runs, fallback, { discard: true })
          submitted.push({ append, recordedAt })
        }
        const outcomes = yield* Effect.option(runGroup(submitted))
        if (outcomes._tag === "None") return yield* Effect.forEach(runs, fallback, { discard: true })
        for (const [index, run] of runs.entries()) {
          if (outcomes.value[index]?._tag !== "Appended") yield* fallback(run)
        }
      })
    return { maxEvents: maxEventsPerTransaction, maxRuns: 200, appendBatch }
  }).pipe(Effect.mapError((error) => error instanceof CliError ? error : unavailable("preparing the import")(error)))
