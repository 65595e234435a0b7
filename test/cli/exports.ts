/**
 * Exports written by the tests themselves (es-kernel export's format), for imports of
 * many batches without building a store first.
 */
import { writeFile } from "node:fs/promises"
import type { EventStore } from "es-kernel"

/** An event as the synthetic exports hold it. */
export interface Line {
  readonly eventId: string
  readonly streamId: string
  readonly version: number
  readonly type: string
  readonly data: { readonly n: number; readonly note: string }
  readonly metadata: { readonly correlationId: string }
}

/** Events of `streams` streams taking turns in runs of 1 to 3: far more runs than one batch of an import takes. */
export const exportedEvents = (streams: number, perStream: number): Array<Line> => {
  const versions = new Array<number>(streams).fill(0)
  const events: Array<Line> = []
  for (let turn = 0; events.length < streams * perStream; turn++) {
    const stream = (turn * 7919) % streams
    const run = 1 + (turn % 3)
    for (let k = 0; k < run && (versions[stream] ?? 0) < perStream; k++) {
      const version = (versions[stream] ?? 0) + 1
      versions[stream] = version
      events.push({
        eventId: `e-${stream}-${version}`,
        streamId: `s-${stream}`,
        version,
        type: version % 2 === 0 ? "Paid" : "Placed",
        data: { n: events.length, note: "ü€😀" },
        metadata: { correlationId: `c-${stream}` }
      })
    }
  }
  return events
}

const lineOf = (event: Line, index: number) =>
  JSON.stringify({ position: index + 1, ...event, schemaVersion: 1, recordedAt: new Date(1_700_000_000_000 + index).toISOString() })

const header = JSON.stringify({ format: "es-kernel/export", version: 1, exportedAt: new Date().toISOString(), source: "file" })

/** Writes an export of `events` to `file`: without its trailer, or with one line replaced, when asked. */
export const writeExport = async (file: string, events: ReadonlyArray<Line>, options: { readonly trailer?: boolean; readonly replace?: readonly [number, string] } = {}) => {
  const lines = events.map(lineOf)
  if (options.replace !== undefined) lines[options.replace[0]] = options.replace[1]
  const trailer = options.trailer === false ? [] : [JSON.stringify({ end: "es-kernel/export", events: events.length })]
  await writeFile(file, [header, ...lines, ...trailer].join("\n") + "\n")
  return file
}


/** What an import must keep of each event, to compare with the export's `Line`s. */
export const contents = (stored: ReadonlyArray<EventStore.RecordedEvent>) =>
  stored.map(({ eventId, streamId, version, type, data, metadata }) => ({ eventId, streamId, version, type, data, metadata }))
