/**
 * The floor of the `memory` suite: what plain JavaScript needs to keep what the store
 * contract makes every event keep, with nothing else around it.
 *
 * Per event: a deep copy of its data, frozen (callers cannot change history through the
 * object they passed in: STORE.md); a 36-character id; a frozen record of the nine
 * `RecordedEvent` fields, with one `Date` per millisecond shared by the events recorded
 * in it; the record pushed onto the log and onto its stream's array. No Effect, no
 * validation of names, versions or JSON values, no expected-version check, no id index.
 * A store that keeps those objects cannot append faster than this loop, whatever the code
 * around it does; the memory layer does exactly this plus the contract's checks.
 */
import { now } from "../workloads.js"
import type { Payload, Target } from "../workloads.js"

type Json = null | boolean | number | string | ReadonlyArray<Json> | { readonly [key: string]: Json }

const isFields = (value: object): value is { readonly [key: string]: unknown } => !Array.isArray(value)

// The deep frozen copy, in the form V8 runs fastest (a for-in reading keys through its
// enum cache, as the layer's own copy does).
const copy = (value: unknown): Json => {
  if (value === null || typeof value === "string" || typeof value === "number" || typeof value === "boolean") return value
  if (typeof value !== "object") throw new Error("not JSON")
  if (!isFields(value)) {
    const items: Array<unknown> = Array.isArray(value) ? value : []
    const out = new Array<Json>(items.length)
    for (let index = 0; index < items.length; index++) out[index] = copy(items[index])
    return Object.freeze(out)
  }
  const out: Record<string, Json> = {}
  for (const key in value) out[key] = copy(value[key])
  return Object.freeze(out)
}

interface Kept {
  readonly eventId: string
  readonly streamId: string
  readonly type: string
  readonly data: Json
  readonly metadata: object
  readonly version: number
  readonly position: number
  readonly schemaVersion: number
  readonly recordedAt: Date
}

const noMetadata = Object.freeze({})

class FloorLog {
  readonly log: Array<Kept> = []
  readonly streams = new Map<string, Array<Kept>>()
  private readonly prefix = globalThis.crypto.randomUUID().slice(0, 24)
  // The prefix with the zeros that pad a position of each hex length to 12 digits.
  private readonly padded = Array.from({ length: 13 }, (_, digits) => this.prefix + "0".repeat(12 - digits))
  private lastMillis = -1
  private lastDate = new Date(0)

  private idFor(position: number): string {
    const hex = position.toString(16)
    return (this.padded[hex.length] ?? this.prefix) + hex
  }

  append(streamId: string, data: ReadonlyArray<Payload>): void {
    const millis = Date.now()
    if (millis !== this.lastMillis) {
      this.lastMillis = millis
      this.lastDate = new Date(millis)
    }
    let stream = this.streams.get(streamId)
    if (stream === undefined) {
      stream = []
      this.streams.set(streamId, stream)
    }
    for (const payload of data) {
      const position = this.log.length + 1
      const kept: Kept = Object.freeze({
        eventId: this.idFor(position),
        streamId,
        type: "ItemAdded",
        data: copy(payload),
        metadata: noMetadata,
        version: stream.length + 1,
        position,
        schemaVersion: 1,
        recordedAt: this.lastDate
      })
      this.log.push(kept)
      stream.push(kept)
    }
  }
}

const payloadAt = (data: ReadonlyArray<Payload>, i: number): Payload => {
  const payload = data[i % data.length]
  if (payload === undefined) throw new Error("no payloads")
  return payload
}

export const jsFloor: Target = {
  name: "plain JS floor",
  role: "limit",
  runners: {
    roundRobin: async (spec, data) => {
      const log = new FloorLog()
      const names = Array.from({ length: spec.streams }, (_, s) => `bench-${s}`)
      const batches = Array.from({ length: spec.events }, (_, i) => [payloadAt(data, i)])
      const t0 = now()
      for (let i = 0; i < spec.events; i++) log.append(names[i % spec.streams] ?? "", batches[i] ?? [])
      const seconds = (now() - t0) / 1000
      if (log.log.length !== spec.events) throw new Error("the floor lost events")
      return { events: spec.events, seconds }
    },
    batches: async (spec, data) => {
      const log = new FloorLog()
      const batches = Array.from({ length: spec.batches }, (_, b) =>
        Array.from({ length: spec.batchSize }, (_, i) => payloadAt(data, b * spec.batchSize + i)))
      const writers = Math.max(1, spec.concurrency ?? 1)
      const t0 = now()
      for (let b = 0; b < spec.batches; b++) log.append(`bench-${b % writers}`, batches[b] ?? [])
      const seconds = (now() - t0) / 1000
      return { events: spec.batches * spec.batchSize, seconds }
    }
  }
}
