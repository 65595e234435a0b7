/**
 * The command line's PostgreSQL side, loaded only when a command is given a `postgres://`
 * URL, so that the command line works on file stores without `@effect/sql-pg` installed.
 *
 * @internal
 */
import { Effect, Layer, Redacted } from "effect"
import * as PgClient from "@effect/sql-pg/PgClient"
import type { EventStore, StorageError } from "../../EventStore.js"
import type { PositionsWouldGoBackwards, SchemaTooNew } from "../../EventStorePostgres.js"
import * as EventStorePostgres from "../../EventStorePostgres.js"
import { inspectionStatements, invalidSchemaName } from "../postgres/sql.js"
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

export { bulkImporter } from "./bulkImport.js"
