/**
 * Events as the commands print them: a table row for people, an NDJSON line with
 * `--json` (the export format's event line).
 *
 * @internal
 */
import type { RecordedEvent } from "../../EventStore.js"
import { eventLine } from "./ndjson.js"
import { shorten, table, time } from "./table.js"

const dataWidth = 80

/** The events of one stream as a table. @internal */
export const streamTable = (events: ReadonlyArray<RecordedEvent>): ReadonlyArray<string> =>
  table(
    ["VERSION", "POSITION", "TYPE", "RECORDED AT", "DATA"],
    events.map((event) => [String(event.version), String(event.position), event.type, time(event.recordedAt), shorten(JSON.stringify(event.data), dataWidth)])
  )

/** One line per event of the global log, for `tail` (no header: the output grows as events come). @internal */
export const logLine = (event: RecordedEvent): string =>
  `${event.position}  ${event.streamId}@${event.version}  ${event.type}  ${time(event.recordedAt)}  ${shorten(JSON.stringify(event.data), dataWidth)}`

/** The lines of `events`, as NDJSON or for people. @internal */
export const renderEvents = (events: ReadonlyArray<RecordedEvent>, json: boolean): ReadonlyArray<string> =>
  json ? events.map(eventLine) : events.map(logLine)
