/**
 * What an append means for the file store, decided against the in-memory index before
 * anything is written: a checked and encoded-ready batch (`prepareAppend`), and whether
 * it is a new append, a retry of events already recorded, or a conflict (`decide`).
 * Pure functions of their arguments: the store owns the index they read.
 *
 * @internal
 */
import { generatedEventId } from "../eventIds.js"
import { EventIdConflict, InvalidAppend, WrongExpectedVersion } from "../../EventStore.js"
import type { AppendResult, ExpectedVersion, NewEvent } from "../../EventStore.js"
import * as Contract from "../contract.js"
import type { EventContents } from "./frame.js"
import { hashString } from "./frame.js"
import type { LogIndex } from "./logIndex.js"

/**
 * A batch the contract accepted, with the file layer's additions: every event's id
 * (generated when the caller chose none) and its hash.
 *
 * @internal
 */
export interface PreparedAppend {
  readonly streamId: string
  readonly expected: ExpectedVersion
  readonly batch: Contract.PreparedAppend
  readonly ids: ReadonlyArray<string>
  readonly hashes: ReadonlyArray<number>
  readonly contents: ReadonlyArray<EventContents>
}

/**
 * The ids and contents of one recorded batch, to compare a retry with.
 *
 * @internal
 */
export interface KnownRecord {
  readonly ids: ReadonlyArray<string>
  readonly contents: ReadonlyArray<EventContents>
}

/**
 * - `Append`: a new batch at the stream's current version.
 * - `Recorded`: a retry of a batch already recorded; `result` is what its append answered.
 * - `Need`: the id hashes point at records whose ids are not known yet: read them from
 *   disk and decide again.
 *
 * @internal
 */
export type Decision =
  | { readonly _tag: "Append" }
  | { readonly _tag: "Recorded"; readonly result: AppendResult }
  | { readonly _tag: "Need"; readonly records: ReadonlyArray<number> }
  | WrongExpectedVersion
  | EventIdConflict

/**
 * Checks a batch by the store contract and gives every event an id, or says why it
 * cannot be appended.
 *
 * @internal
 */
export const prepareAppend = (
  streamId: string,
  events: ReadonlyArray<NewEvent>,
  expected: ExpectedVersion
): PreparedAppend | InvalidAppend => {
  const batch = Contract.prepareAppend(streamId, events, expected)
  if (batch instanceof InvalidAppend) return batch
  const ids = batch.events.map((event) => event.eventId ?? generatedEventId())
  return { streamId: batch.streamId, expected: batch.expected, batch, ids, hashes: ids.map(hashString), contents: batch.events }
}

/**
 * Decides `prepared` against the index. `contentsOf` gives the ids and contents of a
 * record when they are at hand (being written, or read from disk for this decision).
 *
 * @internal
 */
export const decide = (
  index: LogIndex,
  prepared: PreparedAppend,
  contentsOf: (record: number) => KnownRecord | undefined
): Decision => {
  const current = index.streams.get(prepared.streamId)?.version ?? 0
  // Ids the layer generated are new: only a batch with chosen ids can be a retry.
  if (!prepared.batch.chosenIds) return Contract.checkExpected(prepared.streamId, prepared.expected, current) ?? { _tag: "Append" }
  const { table, ids } = index
  const recorded = new Array<Contract.Recorded | undefined>(prepared.ids.length)
  let foundCount = 0
  const need: Array<number> = []
  for (const [at, hash] of prepared.hashes.entries()) {
    for (const position of ids.candidates(hash)) {
      const record = table.recordAtOrAfter(position)
      const known = contentsOf(record)
      if (known === undefined) {
        need.push(record)
        continue
      }
      const offset = position - table.firstPosition(record)
      const contents = known.contents[offset]
      const eventId = known.ids[offset]
      if (eventId === undefined || eventId !== prepared.ids[at] || contents === undefined) continue
      const streamId = index.streamOf(record).streamId
      recorded[at] = { ...contents, eventId, streamId, version: table.firstVersion(record) + offset, position }
      foundCount++
    }
  }
  if (need.length > 0) return { _tag: "Need", records: need }
  if (foundCount === 0) return Contract.checkExpected(prepared.streamId, prepared.expected, current) ?? { _tag: "Append" }
  const judged = Contract.judgeRetry(prepared.batch, recorded)
  return judged instanceof EventIdConflict ? judged : { _tag: "Recorded", result: judged }
}
