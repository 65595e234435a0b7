/**
 * The memory layer's records: the global log, each stream's events and the index of
 * caller-chosen event ids, and the one way to change them, `append`. Everything here
 * runs synchronously, so an append is atomic and appends are serialised with no lock.
 *
 * Layout: position `p` is at index `p - 1` of the log (positions are 1-based and
 * gapless here); version `v` of a stream is at index `v - 1` of its events.
 *
 * @internal
 */
import { InvalidAppend } from "../../EventStore.js"
import type { AppendError, AppendResult, Position, RecordedEvent } from "../../EventStore.js"
import * as Contract from "../contract.js"
import type { Page } from "../subscription.js"
import { ShardedMap } from "./shardedMap.js"

// A stream's events in version order. A stream of one event is the event itself, not an
// array of one: stores with many short streams (one per order, per request...) keep an
// array per stream forever, and that array (two objects, 56 bytes) was a seventh of what
// a one-event stream costs in memory and in garbage-collector work. The array replaces
// the event at the stream's second event.
type StreamEvents = RecordedEvent | Array<RecordedEvent>

const streamLength = (stream: StreamEvents | undefined): number =>
  stream === undefined ? 0 : Array.isArray(stream) ? stream.length : 1

const streamArray = (stream: StreamEvents | undefined): ReadonlyArray<RecordedEvent> =>
  stream === undefined ? [] : Array.isArray(stream) ? stream : [stream]

/** @internal */
export class MemoryLog {
  private readonly log: Array<RecordedEvent> = []
  private readonly streams = new ShardedMap<StreamEvents>()
  // Caller-chosen event id → position. Generated ids are found from the log instead.
  private readonly byEventId = new ShardedMap<Position>()
  private readonly ids = new GeneratedIds()
  private readonly clock = new SharedDates()

  /** How many events are recorded: the position of the last one. */
  get length(): number {
    return this.log.length
  }

  streamVersion(streamId: string): number {
    return streamLength(this.streams.get(streamId))
  }

  /**
   * The stream's events. Later appends to the stream may grow the array given: a reader
   * that must see the stream as it was fixes its length when it starts.
   */
  streamEvents(streamId: string): ReadonlyArray<RecordedEvent> {
    return streamArray(this.streams.get(streamId))
  }

  /**
   * Up to `budget` events after position `after` and before `until` that `matches`,
   * scanning at most `scan` events.
   */
  page(
    after: Position,
    until: Position,
    matches: ((event: RecordedEvent) => boolean) | undefined,
    budget: number,
    scan: number
  ): Page<RecordedEvent> {
    const end = Math.min(until, after + scan)
    if (end <= after) return { items: [], next: after }
    if (matches === undefined) {
      const items = this.log.slice(after, Math.min(end, after + budget))
      return { items, next: after + items.length }
    }
    const items: Array<RecordedEvent> = []
    let index = after
    while (index < end && items.length < budget) {
      const event = this.log[index++]
      if (event !== undefined && matches(event)) items.push(event)
    }
    return { items, next: index }
  }

  /** Decides a checked append by the contract's rules and records it when it holds. */
  append(batch: Contract.PreparedAppend, now: number): AppendResult | AppendError {
    const retried = this.retry(batch)
    if (retried !== undefined) return retried
    const { streamId, events } = batch
    const stream = this.streams.get(streamId)
    const current = streamLength(stream)
    const wrong = Contract.checkExpected(streamId, batch.expected, current)
    if (wrong !== undefined) return wrong
    const recordedAt = this.clock.dateAt(now)
    if (events.length === 1) {
      const [event] = events
      if (event === undefined) return new InvalidAppend({ streamId, reason: "the batch is empty" })
      this.recordOne(streamId, stream, event, current, recordedAt)
    } else {
      this.recordMany(streamId, stream, batch, current, recordedAt)
    }
    return { streamId, nextExpectedVersion: current + events.length, position: this.log.length }
  }

  // The outcome when some of the batch's ids are already recorded, or `undefined` when
  // none is.
  private retry(batch: Contract.PreparedAppend): AppendResult | AppendError | undefined {
    if (!batch.chosenIds) return undefined
    let found = false
    const recorded = batch.events.map(({ eventId }) => {
      const event = eventId === undefined ? undefined : this.recordedById(eventId)
      if (event !== undefined) found = true
      return event
    })
    return found ? Contract.judgeRetry(batch, recorded) : undefined
  }

  private recordedById(eventId: string): RecordedEvent | undefined {
    const chosen = this.byEventId.get(eventId)
    if (chosen !== undefined) return this.log[chosen - 1]
    const position = this.ids.positionOf(eventId)
    const event = position === undefined ? undefined : this.log[position - 1]
    return event !== undefined && event.eventId === eventId ? event : undefined
  }

  // The common case, without the batch's scratch array.
  private recordOne(
    streamId: string,
    stream: StreamEvents | undefined,
    event: Contract.PreparedEvent,
    current: number,
    recordedAt: Date
  ): void {
    const position = this.log.length + 1
    const generated = event.eventId === undefined ? this.generateId(position) : undefined
    const recorded = record(streamId, event, generated, current + 1, position, recordedAt)
    this.log.push(recorded)
    if (stream === undefined) this.streams.add(streamId, recorded)
    else if (Array.isArray(stream)) stream.push(recorded)
    // Exact size: pushing onto `[]` would make room for 17 events.
    else this.streams.replace(streamId, [stream, recorded])
    if (generated === undefined) this.byEventId.add(recorded.eventId, position)
  }

  private recordMany(
    streamId: string,
    stream: StreamEvents | undefined,
    batch: Contract.PreparedAppend,
    current: number,
    recordedAt: Date
  ): void {
    const { events } = batch
    const base = this.log.length
    const recorded = new Array<RecordedEvent>(events.length)
    // Batch indices of the events whose ids must go into `byEventId`.
    const indexed: Array<number> = []
    // A chosen id shaped like a generated one might be the very id a later event of this
    // batch would get, before it is in the index: such a batch gets random ids instead.
    const forged = batch.chosenIds && events.some((event) => event.eventId !== undefined && this.ids.owns(event.eventId))
    events.forEach((event, index) => {
      const position = base + index + 1
      const generated = event.eventId === undefined && !forged ? this.generateId(position) : undefined
      recorded[index] = record(streamId, event, generated, current + index + 1, position, recordedAt)
      if (generated === undefined) indexed.push(index)
    })
    // A stream of one event becomes an array here; a new stream takes the batch's array
    // as it is, already at its exact size.
    const target = stream === undefined || Array.isArray(stream) ? stream : [stream]
    for (const each of recorded) {
      this.log.push(each)
      target?.push(each)
    }
    if (target === undefined) this.streams.add(streamId, recorded)
    else if (target !== stream) this.streams.replace(streamId, target)
    for (const index of indexed) {
      const each = recorded[index]
      if (each !== undefined) this.byEventId.add(each.eventId, each.position)
    }
  }

  // The generated id for `position`, or `undefined` when a caller already chose it.
  private generateId(position: Position): string | undefined {
    const id = this.ids.forPosition(position)
    return this.byEventId.size === 0 || this.byEventId.get(id) === undefined ? id : undefined
  }
}

const record = (
  streamId: string,
  event: Contract.PreparedEvent,
  generatedId: string | undefined,
  version: number,
  position: Position,
  recordedAt: Date
): RecordedEvent =>
  Object.freeze<RecordedEvent>({
    eventId: event.eventId ?? generatedId ?? globalThis.crypto.randomUUID(),
    streamId,
    type: event.type,
    data: event.data,
    metadata: event.metadata,
    version,
    position,
    schemaVersion: event.schemaVersion,
    recordedAt
  })

/**
 * Generated event ids: this store's random UUID prefix followed by the position in 12 hex
 * digits. Still UUID-shaped and unique, but found from the log by position, so only
 * caller-chosen ids need an entry in the id index.
 */
class GeneratedIds {
  private readonly prefix = globalThis.crypto.randomUUID().slice(0, 24)
  // The prefix with the zeros that pad a position of each hex length to 12 digits.
  private readonly padded = Array.from({ length: 13 }, (_, digits) => this.prefix + "0".repeat(12 - digits))

  forPosition(position: Position): string {
    const hex = position.toString(16)
    return (this.padded[hex.length] ?? this.prefix) + hex
  }

  owns(eventId: string): boolean {
    return eventId.startsWith(this.prefix)
  }

  positionOf(eventId: string): Position | undefined {
    if (eventId.length !== this.prefix.length + 12 || !this.owns(eventId)) return undefined
    return Number.parseInt(eventId.slice(this.prefix.length), 16)
  }
}

/**
 * `recordedAt` dates, which never go backwards: a clock reading earlier than the last one
 * (the system clock stepped back, or a test moved its clock) records at the last time
 * again. Events recorded in the same millisecond share one `Date` (a `Date` per event was
 * a quarter of the memory each event keeps alive).
 */
class SharedDates {
  private lastMillis = Number.NEGATIVE_INFINITY
  private lastDate = new Date(0)

  dateAt(now: number): Date {
    if (now > this.lastMillis) {
      this.lastDate = new Date(now)
      this.lastMillis = now
    }
    return this.lastDate
  }
}
