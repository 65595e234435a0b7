/**
 * `es-kernel read <store> <stream>`: the events of one stream, as a table or NDJSON, up to
 * a version or a time.
 *
 * @internal
 */
import { Effect, Stream } from "effect"
import type { RecordedEvent } from "../../EventStore.js"
import type { Command, Invocation } from "./command.js"
import type { CliError } from "./command.js"
import { exitCodes, flag, positionals, stringOption, usageError, writeLines } from "./command.js"
import { streamTable } from "./events.js"
import { eventLine } from "./ndjson.js"
import { count, time } from "./table.js"
import { locationHelp, locationOf, locationOptions, openStore, storeFailed } from "./target.js"

type Until = { readonly _tag: "Version"; readonly version: number } | { readonly _tag: "Time"; readonly at: Date } | undefined

const untilOf = (invocation: Invocation): Effect.Effect<Until, CliError> => {
  const text = stringOption(invocation, "at")
  if (text === undefined) return Effect.succeed(undefined)
  if (/^\d+$/.test(text)) return Effect.succeed({ _tag: "Version", version: Number(text) })
  const at = new Date(text)
  return Number.isNaN(at.getTime()) || !/^\d{4}-\d{2}-\d{2}/.test(text)
    ? Effect.fail(usageError(`--at takes a version (an integer) or an ISO time (2026-01-31T12:00:00Z), got ${JSON.stringify(text.slice(0, 40))}`))
    : Effect.succeed({ _tag: "Time", at })
}

/** @internal */
export const read: Command = {
  name: "read",
  summary: "print the events of one stream, as of a version or a time",
  usage: `usage: es-kernel read <store> <stream> [--at <version|time>] [--json]

Prints the events of <stream> in version order: a table of version, position, type,
recorded time and data (cut to 80 characters), or with --json one export-format line
per event, data and metadata whole. A stream without events prints nothing and says so
on stderr.

${locationHelp}
  <stream>               the stream id, e.g. order-42
  --at <version|time>    the stream as it was: up to this version (an integer), or up to
                         this time (ISO 8601, e.g. 2026-01-31T12:00:00Z: events recorded at
                         or before it)
  --json                 one JSON object per event line (the export format)`,
  options: { ...locationOptions, at: { type: "string" }, json: { type: "boolean" } },
  run: (invocation) =>
    Effect.gen(function*() {
      const [storeArgument = "", streamId = ""] = yield* positionals(invocation, ["store", "stream"])
      const location = yield* locationOf(storeArgument, invocation)
      const until = yield* untilOf(invocation)
      const store = yield* openStore(location, "read")
      if (until?._tag === "Version" && until.version === 0) return exitCodes.ok
      const events = store.readStream(streamId, until?._tag === "Version" ? { to: until.version } : {}).pipe(
        Stream.filter((event) => until?._tag !== "Time" || event.recordedAt.getTime() <= until.at.getTime()),
        Stream.mapError((error) => error._tag === "InvalidRead" ? usageError(error.message) : storeFailed(location, "reading")(error))
      )
      let shown = 0
      let last: RecordedEvent | undefined
      if (flag(invocation, "json")) {
        // Streamed: a long stream is never held in memory for its NDJSON.
        yield* Stream.runForEachArray(events, (chunk) => {
          shown += chunk.length
          return writeLines(chunk.map(eventLine))
        })
      } else {
        const all = yield* Stream.runCollect(events)
        shown = all.length
        last = all[all.length - 1]
        if (last !== undefined) {
          yield* writeLines(streamTable(all))
          yield* writeLines([`${count(all.length)} event(s); version ${last.version}, last written ${time(last.recordedAt)}`])
        }
      }
      if (shown === 0) {
        yield* Effect.sync(() => console.error(`${JSON.stringify(streamId.slice(0, 256))}: no events${until === undefined ? "" : " at that point"}`))
      }
      return exitCodes.ok
    }).pipe(Effect.scoped)
}

