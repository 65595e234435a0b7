/**
 * `es-kernel tail <store>`: the end of the global log, or everything after a position,
 * and with `--follow` the events as they are recorded.
 *
 * @internal
 */
import { Effect, Stream } from "effect"
import type { EventFilter, RecordedEvent } from "../../EventStore.js"
import { matcher } from "../contract.js"
import type { Command } from "./command.js"
import { exitCodes, flag, integerOption, listOption, positionals, writeLines } from "./command.js"
import { renderEvents } from "./events.js"
import { scanAll } from "./scan.js"
import { locationHelp, locationOf, locationOptions, openStore, storeFailed } from "./target.js"

/** @internal */
export const tail: Command = {
  name: "tail",
  summary: "print the last events of the global log, or follow it live",
  usage: `usage: es-kernel tail <store> [--from <position> | -n <count>] [--follow] [--category <name>]... [--type <type>]... [--correlation <id>]... [--json]

Prints events of the global log, one line each: position, stream@version, type, recorded
time and data (cut to 80 characters). Without --from, the last <count> events (reading
the whole log to find them); with --from, every event after that position. With --follow
it then keeps printing events as they are recorded, until Ctrl-C (exit 130).

${locationHelp}
  --from <position>    print the events after this position (exclusive; 0 = all)
  -n, --limit <count>  without --from: how many of the last events to print (default 10)
  -f, --follow         keep printing new events as they are recorded
  --category <name>    only events of streams of this category; repeat for several
  --type <type>        only events of this type; repeat for several
  --correlation <id>   only events whose metadata's correlationId is this; repeat for several
  --json               one JSON object per event (the export format's event line)`,
  options: {
    ...locationOptions,
    from: { type: "string" },
    limit: { type: "string", short: "n" },
    follow: { type: "boolean", short: "f" },
    category: { type: "string", multiple: true },
    type: { type: "string", multiple: true },
    correlation: { type: "string", multiple: true },
    json: { type: "boolean" }
  },
  run: (invocation) =>
    Effect.gen(function*() {
      const [storeArgument = ""] = yield* positionals(invocation, ["store"])
      const location = yield* locationOf(storeArgument, invocation)
      const from = yield* integerOption(invocation, "from")
      const limit = (yield* integerOption(invocation, "limit")) ?? 10
      const categories = listOption(invocation, "category")
      const types = listOption(invocation, "type")
      const correlationIds = listOption(invocation, "correlation")
      const filter: EventFilter = {
        ...(categories.length > 0 ? { categories } : {}),
        ...(types.length > 0 ? { types } : {}),
        ...(correlationIds.length > 0 ? { correlationIds } : {})
      }
      const json = flag(invocation, "json")
      const print = (events: ReadonlyArray<RecordedEvent>) => writeLines(renderEvents(events, json))
      const store = yield* openStore(location, "read")
      let after = from ?? 0
      if (from === undefined) {
        // The last `limit` matching events, and the end of the log to follow from.
        const last: Array<RecordedEvent> = []
        const keep = matcher(filter) ?? (() => true)
        yield* scanAll(store, location, {}, (events) =>
          Effect.sync(() => {
            for (const event of events) {
              after = event.position
              if (!keep(event.streamId, event.type, event.metadata, event.recordedAt.getTime())) continue
              last.push(event)
              if (last.length > limit) last.shift()
            }
          }))
        yield* print(last)
      } else if (!flag(invocation, "follow")) {
        yield* scanAll(store, location, { from, filter }, print)
      }
      if (flag(invocation, "follow")) {
        yield* store.subscribe({ from: after, filter }).pipe(
          Stream.mapError(storeFailed(location, "following")),
          Stream.runForEachArray(print)
        )
      }
      return exitCodes.ok
    }).pipe(Effect.scoped)
}
