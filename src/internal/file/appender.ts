/**
 * The append path: prepare a batch, decide it against the index (reading recorded events
 * back when a retry must be compared with them), then reserve it in the index and queue
 * it on the writer, or wait for the records a retry repeats to be durable.
 *
 * @internal
 */
import { Effect } from "effect"
import { InvalidAppend, StorageError } from "../../EventStore.js"
import type { AppendError, AppendResult, EventStore, ExpectedVersion, NewEvent } from "../../EventStore.js"
import { decide, prepareAppend } from "./decisions.js"
import type { KnownRecord, PreparedAppend } from "./decisions.js"
import { encodeRecord } from "./frame.js"
import type { LogIndex } from "./logIndex.js"
import type { RecordReader } from "./reader.js"
import { toStorageError } from "./reader.js"
import { maxPosition } from "./recordTable.js"
import type { Group, GroupCommitWriter } from "./writer.js"

/**
 * The store's `append`, over its index, writer and reader.
 *
 * @internal
 */
export const makeAppend = (
  directory: string,
  index: LogIndex,
  writer: GroupCommitWriter,
  reader: RecordReader,
  lastRecordedAt: number
): EventStore["Service"]["append"] => {
  const { table, streams } = index
  // The recording time of the last reserved record: reservations are made in position
  // order, so taking the later of it and the clock keeps recording times from going
  // backwards when the clock does.
  let recordedUntil = lastRecordedAt

  const reserve = (prepared: PreparedAppend, clock: number) => {
    const now = Math.max(clock, recordedUntil)
    recordedUntil = now
    const existing = streams.get(prepared.streamId)
    const firstPosition = index.nextPosition
    const frame = encodeRecord({
      streamNo: existing?.streamNo ?? index.streamList.length,
      streamId: prepared.streamId,
      firstPosition,
      firstVersion: (existing?.version ?? 0) + 1,
      recordedAt: now,
      eventIds: prepared.ids
    }, prepared.contents)
    const record = index.add(prepared.streamId, prepared.hashes, frame.length)
    const lastPosition = firstPosition + prepared.ids.length - 1
    const group = writer.enqueue(record, frame, { ids: prepared.ids, contents: prepared.contents }, lastPosition)
    const result: AppendResult = { streamId: prepared.streamId, nextExpectedVersion: table.lastVersion(record), position: lastPosition }
    return Effect.as(settled(group), result)
  }

  const settled = (group: Group): Effect.Effect<void, StorageError> =>
    Effect.callback<void, StorageError>((resume) => {
      writer.onSettled(group, (failed) => resume(failed === undefined ? Effect.void : Effect.fail(failed)))
    })

  // Resolves once `position` is durable; fails if the write making it durable failed.
  const awaitPosition = (position: number): Effect.Effect<void, StorageError> => {
    const group = writer.groupHolding(position)
    if (group !== undefined) return settled(group)
    return writer.failure !== undefined && writer.durablePosition < position ? Effect.fail(writer.failure) : Effect.void
  }

  // The last position of the stream's newest record when that record is still being
  // written: a conflict then waits for it, so that the actual version it reports is the
  // one `streamVersion` and `readStream` show.
  const pendingPosition = (streamId: string): number | undefined => {
    const record = streams.get(streamId)?.records.at(-1)
    return record === undefined || record < writer.durableRecords ? undefined : table.lastPosition(record)
  }

  const fetchRecords = (records: ReadonlyArray<number>, known: Map<number, KnownRecord>) =>
    Effect.tryPromise({ try: () => reader.fetch(records, known), catch: toStorageError(`reading recorded events of ${directory}`) })

  const attempt = (prepared: PreparedAppend, known: Map<number, KnownRecord>, now: number): Effect.Effect<AppendResult, AppendError> => {
    const refusal = writer.refusal()
    if (refusal !== undefined) return Effect.fail(refusal)
    const decision = decide(index, prepared, (record) => writer.pending(record) ?? known.get(record))
    switch (decision._tag) {
      case "Need":
        return Effect.flatMap(fetchRecords(decision.records, known), () => attempt(prepared, known, now))
      case "Append":
        if (index.nextPosition - 1 + prepared.ids.length > maxPosition) {
          return Effect.fail(new StorageError({ reason: `the event store ${directory} is full: it holds at most ${maxPosition} events` }))
        }
        return reserve(prepared, now)
      case "Recorded":
        return Effect.as(awaitPosition(decision.result.position), decision.result)
      case "WrongExpectedVersion": {
        const pending = pendingPosition(prepared.streamId)
        if (pending === undefined) return Effect.fail(decision)
        return Effect.flatMap(awaitPosition(pending), () => attempt(prepared, known, now))
      }
      default:
        return Effect.fail(decision)
    }
  }

  // The recording time comes from Effect's Clock, as in the memory layer, so a test's
  // TestClock decides `recordedAt`.
  const append = (streamId: string, events: ReadonlyArray<NewEvent>, expected: ExpectedVersion = "any") =>
    Effect.clockWith((clock): Effect.Effect<AppendResult, AppendError> => {
      const prepared = prepareAppend(streamId, events, expected)
      if (prepared instanceof InvalidAppend) return Effect.fail(prepared)
      return attempt(prepared, new Map(), clock.currentTimeMillisUnsafe())
    })

  return append
}
