// The export's lines: ASCII whatever the events hold, and the same JSON values as the
// events themselves, so `import` gets back exactly what was exported.
import { fc, it } from "@fast-check/vitest"
import { describe, expect } from "vitest"
import type { RecordedEvent } from "../../../src/EventStore.js"
import { eventLine, exportLine, parseBodyLine } from "../../../src/internal/cli/ndjson.js"
import { asStored } from "../../../src/internal/testing/model.js"

const text = fc.string({ unit: fc.oneof(fc.constantFrom("ü", "€", "😀", "\u0000", "\ud800", "\"", "\\", "\u2028"), fc.string({ unit: "binary" })) })

const event = fc.record({
  position: fc.integer({ min: 1, max: 2 ** 40 }),
  eventId: text.filter((id) => id.length > 0),
  streamId: text.filter((id) => id.length > 0),
  version: fc.integer({ min: 1, max: 10_000 }),
  type: text.filter((type) => type.length > 0),
  schemaVersion: fc.integer({ min: 1, max: 100 }),
  data: fc.jsonValue().map(asStored),
  metadata: fc.dictionary(text, fc.jsonValue().map(asStored)),
  recordedAt: fc.date({ min: new Date(0), max: new Date(2 ** 42), noInvalidDate: true })
}).map((fields): RecordedEvent => fields)

describe("exportLine", () => {
  it.prop([event])("is ASCII and holds the same JSON as eventLine", (recorded) => {
    const line = exportLine(recorded)
    expect(/^[\x00-\x7f]*$/.test(line)).toBe(true)
    expect(JSON.parse(line)).toEqual(JSON.parse(eventLine(recorded)))
  })

  it.prop([event])("reads back as the event it was written from", (recorded) => {
    const parsed = parseBodyLine(exportLine(recorded))
    expect(parsed).toEqual({
      _tag: "Event",
      event: {
        eventId: recorded.eventId,
        streamId: recorded.streamId,
        version: recorded.version,
        type: recorded.type,
        schemaVersion: recorded.schemaVersion,
        data: JSON.parse(JSON.stringify(recorded.data)),
        metadata: JSON.parse(JSON.stringify(recorded.metadata))
      }
    })
  })

  it("names what is wrong with a line that is not an event", () => {
    expect(parseBodyLine("[1]")).toBe("not a JSON object")
    const good = JSON.parse(exportLine({
      position: 1, eventId: "e", streamId: "s-1", version: 1, type: "T", schemaVersion: 1, data: {}, metadata: {}, recordedAt: new Date(0)
    }))
    expect(parseBodyLine(JSON.stringify({ ...good, metadata: [] }))).toBe("metadata is not an object")
    expect(parseBodyLine(JSON.stringify({ ...good, recordedAt: "yesterday" }))).toBe("recordedAt is not an ISO time")
    expect(parseBodyLine(JSON.stringify({ ...good, version: 0 }))).toBe("version is not a positive integer")
  })
})
