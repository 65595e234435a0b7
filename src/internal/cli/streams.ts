/**
 * `es-kernel streams <store>`: every stream with its version and last write.
 *
 * @internal
 */
import { Effect } from "effect"
import type { Command } from "./command.js"
import { exitCodes, flag, listOption, positionals, writeLines } from "./command.js"
import { scanAll } from "./scan.js"
import { count, table, time } from "./table.js"
import { locationHelp, locationOf, locationOptions, openStore } from "./target.js"

interface StreamSummary {
  version: number
  lastWrite: Date
}

/** @internal */
export const streams: Command = {
  name: "streams",
  summary: "list the streams: id, version, last write",
  usage: `usage: es-kernel streams <store> [--category <name>]... [--json]

Lists every stream of the store, sorted by id, with its version (its number of events)
and the time of its last event. Reads the whole log once (a progress line shows on a
terminal).

${locationHelp}
  --category <name>  only streams of this category (the id before its first "-"); repeat for several
  --json             one JSON object per line: {"streamId","version","lastWrite"}`,
  options: { ...locationOptions, category: { type: "string", multiple: true }, json: { type: "boolean" } },
  run: (invocation) =>
    Effect.gen(function*() {
      const [storeArgument = ""] = yield* positionals(invocation, ["store"])
      const location = yield* locationOf(storeArgument, invocation)
      const categories = listOption(invocation, "category")
      const store = yield* openStore(location, "read")
      const summaries = new Map<string, StreamSummary>()
      yield* scanAll(store, location, categories.length > 0 ? { filter: { categories } } : {}, (events) =>
        Effect.sync(() => {
          for (const event of events) {
            const summary = summaries.get(event.streamId)
            if (summary === undefined) summaries.set(event.streamId, { version: event.version, lastWrite: event.recordedAt })
            else {
              summary.version = event.version
              summary.lastWrite = event.recordedAt
            }
          }
        }))
      const ids = [...summaries.keys()].sort()
      const rows = ids.flatMap((id) => {
        const summary = summaries.get(id)
        return summary === undefined ? [] : [{ id, ...summary }]
      })
      if (flag(invocation, "json")) {
        yield* writeLines(rows.map(({ id, version, lastWrite }) => JSON.stringify({ streamId: id, version, lastWrite: time(lastWrite) })))
      } else {
        yield* writeLines(table(["STREAM", "VERSION", "LAST WRITE"], rows.map(({ id, version, lastWrite }) => [id, String(version), time(lastWrite)])))
        yield* writeLines([`${count(rows.length)} stream(s)`])
      }
      return exitCodes.ok
    }).pipe(Effect.scoped)
}
