/**
 * Where a command finds its store: a `postgres://` (or `postgresql://`) URL, or else a
 * file store's directory. Opening for reading never writes: a file store is opened
 * read-only, beside the process that writes it, and a PostgreSQL schema must already
 * exist. Opening for writing (import) creates the store when it is missing.
 *
 * @internal
 */
import * as fs from "node:fs/promises"
import { Context, Effect, Layer } from "effect"
import type { Scope } from "effect"
import { EventStore } from "../../EventStore.js"
import * as EventStoreFile from "../../EventStoreFile.js"
import { CliError, exitCodes, stringOption, usageError } from "./command.js"
import type { Invocation, Options } from "./command.js"

/** @internal */
export type Location =
  | { readonly _tag: "File"; readonly directory: string }
  | { readonly _tag: "Postgres"; readonly url: string; readonly schema: string }

/** The option every command that opens a store takes. @internal */
export const locationOptions: Options = { schema: { type: "string" } }

/** The help text of `<store>` and `--schema`. @internal */
export const locationHelp = `  <store>          a file store's directory, or a postgres:// URL
  --schema <name>  the PostgreSQL schema of the store (default es_kernel)`

/** Where `text` (a command's `<store>` argument) points. @internal */
export const locationOf = (text: string, invocation: Invocation): Effect.Effect<Location, CliError> => {
  const schema = stringOption(invocation, "schema")
  if (/^postgres(ql)?:\/\//.test(text)) return Effect.succeed({ _tag: "Postgres", url: text, schema: schema ?? "es_kernel" })
  if (schema !== undefined) return Effect.fail(usageError("--schema applies to a postgres:// store only"))
  return Effect.succeed({ _tag: "File", directory: text })
}

/** The location as messages show it (a URL without its password). @internal */
export const describeLocation = (location: Location): string => {
  if (location._tag === "File") return location.directory
  try {
    const url = new URL(location.url)
    url.password = ""
    return `${url.toString()} (schema ${location.schema})`
  } catch {
    return `a PostgreSQL URL (schema ${location.schema})`
  }
}

// The one place that decides how the command line reads a file store.
const fileForReading = (directory: string) => EventStoreFile.layerReadOnly({ directory })

const fileLayer = (directory: string, access: "read" | "write") =>
  access === "write" ? EventStoreFile.layer({ directory }) : Layer.unwrap(
    Effect.as(
      Effect.tryPromise({
        try: () => fs.stat(directory),
        catch: () => new CliError({ exitCode: exitCodes.unavailable, reason: `${directory}: no such directory; give a file store's directory` })
      }).pipe(
        Effect.filterOrFail(
          (stats) => stats.isDirectory(),
          () => new CliError({ exitCode: exitCodes.unavailable, reason: `${directory}: not a directory; give a file store's directory` })
        )
      ),
      fileForReading(directory)
    )
  )

const postgresLayer = (url: string, schema: string, access: "read" | "write") =>
  Layer.unwrap(Effect.map(loadPostgres, (postgres) => postgres.open(url, schema, access)))

/**
 * The command line's PostgreSQL module, imported on first use. Its absence is reported
 * as what to install.
 *
 * @internal
 */
export const loadPostgres = Effect.tryPromise({
  try: () => import("./postgres.js"),
  catch: (cause) =>
    new CliError({
      exitCode: exitCodes.unavailable,
      reason: `PostgreSQL stores need the optional peer dependency @effect/sql-pg; install it (npm install @effect/sql-pg) and retry (${String(cause).slice(0, 200)})`
    })
})

/**
 * The store at `location`, open for this scope. Every way opening can fail is a
 * `CliError`: a lock or a refused connection is exit 3, a corrupt file store exit 1.
 *
 * @internal
 */
export const openStore = (location: Location, access: "read" | "write"): Effect.Effect<EventStore["Service"], CliError, Scope.Scope> => {
  const layer: Layer.Layer<EventStore, CliError | { readonly _tag: string; readonly message: string }> = location._tag === "File"
    ? fileLayer(location.directory, access)
    : postgresLayer(location.url, location.schema, access)
  return Layer.build(layer).pipe(
    Effect.map((context) => Context.get(context, EventStore)),
    Effect.mapError((error) =>
      error instanceof CliError ? error : new CliError({
        exitCode: error._tag === "FileStoreCorrupt" ? exitCodes.found : exitCodes.unavailable,
        reason: `opening ${describeLocation(location)}: ${error.message}`
      })
    )
  )
}

/**
 * A failure of the open store (a read or an append), as the command line reports it.
 *
 * @internal
 */
export const storeFailed = (location: Location, what: string) => (error: { readonly message: string }): CliError =>
  new CliError({ exitCode: exitCodes.unavailable, reason: `${what} ${describeLocation(location)}: ${error.message}` })
