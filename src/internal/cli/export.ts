/**
 * `es-kernel export <store>`: the whole global log as NDJSON (see `ndjson.ts`), to
 * standard out or a file.
 *
 * @internal
 */
import * as fs from "node:fs/promises"
import { Effect } from "effect"
import type { Command } from "./command.js"
import { CliError, exitCodes, positionals, stringOption, writeLines } from "./command.js"
import { exportLine, headerLine, trailerLine } from "./ndjson.js"
import { scanAll } from "./scan.js"
import { count } from "./table.js"
import { locationHelp, locationOf, locationOptions, openStore } from "./target.js"

type Sink = (lines: ReadonlyArray<string>) => Effect.Effect<void, CliError>

// A file is written whole and synced; `<file>.partial` is renamed to `<file>` only then,
// so a file by the final name is always a complete export.
const fileSink = (file: string) => {
  const partial = `${file}.partial`
  const failed = (what: string) => (cause: unknown) =>
    new CliError({ exitCode: exitCodes.unavailable, reason: `${what} ${partial}: ${String(cause)}; check the path and free space` })
  return Effect.acquireRelease(
    Effect.tryPromise({ try: () => fs.open(partial, "w"), catch: failed("creating") }),
    (handle) => Effect.promise(() => handle.close().catch(() => undefined))
  ).pipe(Effect.map((handle) => {
    const sink: Sink = (lines) =>
      lines.length === 0 ? Effect.void : Effect.tryPromise({ try: () => handle.write(`${lines.join("\n")}\n`), catch: failed("writing") })
    const complete = Effect.tryPromise({
      try: async () => {
        await handle.sync()
        await fs.rename(partial, file)
      },
      catch: failed("completing")
    })
    return { sink, complete }
  }))
}

/** @internal */
export const exportCommand: Command = {
  name: "export",
  summary: "write the global log as NDJSON (for import, backups, other tools)",
  usage: `usage: es-kernel export <store> [--output <file>]

Writes every event of the store, in global order, as NDJSON: a header line naming the
format and its version, one line per event (position, eventId, streamId, version, type,
schemaVersion, data, metadata, recordedAt), and a trailer line with the event count, so
that a cut-short file is recognised. Safe while other processes write: the export holds
the log up to the moment it reached the end. The format is described in docs/CLI.md.

${locationHelp}
  -o, --output <file>  write to <file> (through <file>.partial, renamed when complete)
                       instead of standard out`,
  options: { ...locationOptions, output: { type: "string", short: "o" } },
  run: (invocation) =>
    Effect.gen(function*() {
      const [storeArgument = ""] = yield* positionals(invocation, ["store"])
      const location = yield* locationOf(storeArgument, invocation)
      const output = stringOption(invocation, "output")
      const store = yield* openStore(location, "read")
      const file = output === undefined ? undefined : yield* fileSink(output)
      const sink: Sink = file?.sink ?? writeLines
      const started = Date.now()
      yield* sink([headerLine(location._tag === "File" ? "file" : "postgres", new Date())])
      const events = yield* scanAll(store, location, {}, (chunk) => sink(chunk.map(exportLine)))
      yield* sink([trailerLine(events)])
      if (file !== undefined) {
        yield* file.complete
        const seconds = (Date.now() - started) / 1000
        yield* Effect.sync(() => console.error(`exported ${count(events)} event(s) to ${output} in ${seconds.toFixed(1)} s`))
      }
      return exitCodes.ok
    }).pipe(Effect.scoped)
}
