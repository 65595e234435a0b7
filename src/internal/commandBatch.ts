/**
 * Deciding a batch of commands for one stream: one after another, each against the state
 * the accepted ones before it lead to, into one list of events to append together. Pure:
 * the command handler appends the result and, on a conflict, decides the batch again on
 * the newer state.
 */
import { createHash } from "node:crypto"
import * as Either from "fp-ts/lib/Either.js"
import type { Codec, CommandOptions } from "../CommandHandler.js"
import type { Decider } from "../Decider.js"
import type { EncodeFailed } from "../EventCodec.js"
import type { Metadata, NewEvent } from "../EventStore.js"

/** See `CommandHandler.eventIdFor`. */
export const eventIdFor = (commandId: string, index: number): string => {
  const hex = createHash("sha256").update(`${commandId}\u0000${index}`).digest("hex")
  const variant = ((parseInt(hex.slice(16, 17), 16) & 0x3) | 0x8).toString(16)
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-8${hex.slice(13, 16)}-${variant}${hex.slice(17, 20)}-${hex.slice(20, 32)}`
}

export interface Request<C> {
  readonly command: C
  readonly options: CommandOptions
}

/** Where a batch starts: the stream's state at a version and the command ids recorded up to there. */
export interface Start<S> {
  readonly version: number
  readonly state: S
  readonly commandIds: ReadonlySet<string>
}

/**
 * What became of one command of the batch.
 *
 * - `Accepted`: its events (maybe none) and the stream's state and version right after them.
 * - `Repeated`: its command id is that of an earlier command of this batch, which appended `events`.
 * - `Recorded`: its command id was recorded in the stream before the batch started.
 */
export type Verdict<S, E, R> =
  | { readonly _tag: "Accepted"; readonly events: ReadonlyArray<E>; readonly state: S; readonly version: number }
  | { readonly _tag: "Rejected"; readonly rejection: R }
  | { readonly _tag: "EncodeFailed"; readonly error: EncodeFailed }
  | { readonly _tag: "Repeated"; readonly events: ReadonlyArray<E> }
  | { readonly _tag: "Recorded"; readonly commandId: string }

export interface Plan<S, E, R> {
  readonly verdicts: ReadonlyArray<Verdict<S, E, R>>
  /** Every accepted command's events, encoded, in order: one append. */
  readonly events: ReadonlyArray<NewEvent>
  /** The state and version after all of them. */
  readonly state: S
  readonly version: number
  /** The command ids the append records. */
  readonly commandIds: ReadonlyArray<string>
}

const noMetadata: Metadata = {}
const noCommandIds: ReadonlyArray<string> = []

const metadataFor = (options: CommandOptions): Metadata => {
  const { commandId, metadata } = options
  if (commandId === undefined && metadata === undefined && options.correlationId === undefined && options.causationId === undefined) {
    return noMetadata
  }
  const correlationId = options.correlationId ?? commandId
  const causationId = options.causationId ?? commandId
  return {
    ...metadata,
    ...(correlationId === undefined ? {} : { correlationId }),
    ...(causationId === undefined ? {} : { causationId }),
    ...(commandId === undefined ? {} : { commandId })
  }
}

/** Encodes one command's events onto `into`; on a failure `into` is left as it was. */
const encodeOnto = <E>(
  codec: Codec<E>,
  events: ReadonlyArray<E>,
  options: CommandOptions,
  into: Array<NewEvent>
): EncodeFailed | undefined => {
  const metadata = metadataFor(options)
  const { commandId } = options
  const before = into.length
  for (const [index, event] of events.entries()) {
    const result = codec.encode(event)
    if (Either.isLeft(result)) {
      into.length = before
      return result.left
    }
    const { type, data, schemaVersion } = result.right
    into.push(
      commandId === undefined
        ? { type, data, schemaVersion, metadata }
        : { type, data, schemaVersion, metadata, eventId: eventIdFor(commandId, index) }
    )
  }
  return undefined
}

/** Decides `requests` in order from `start`. A rejected or unencodable command leaves the state as it was. */
export const decide = <C, S, E, R>(
  decider: Decider<C, S, E, R>,
  codec: Codec<E>,
  start: Start<S>,
  requests: ReadonlyArray<Request<C>>
): Plan<S, E, R> => {
  const verdicts: Array<Verdict<S, E, R>> = []
  const events: Array<NewEvent> = []
  // Most commands come without an id: the list is made for the first that has one.
  let commandIds: Array<string> | undefined
  // The events of the commands accepted earlier in this batch, by command id.
  let recordedHere: Map<string, ReadonlyArray<E>> | undefined
  let { state, version } = start
  for (const { command, options } of requests) {
    const { commandId } = options
    if (commandId !== undefined && start.commandIds.has(commandId)) {
      verdicts.push({ _tag: "Recorded", commandId })
      continue
    }
    const earlier = commandId === undefined ? undefined : recordedHere?.get(commandId)
    if (earlier !== undefined) {
      verdicts.push({ _tag: "Repeated", events: earlier })
      continue
    }
    const decision = decider.decide(command, state)
    if (Either.isLeft(decision)) {
      verdicts.push({ _tag: "Rejected", rejection: decision.left })
      continue
    }
    const decided = decision.right
    const error = decided.length === 0 ? undefined : encodeOnto(codec, decided, options, events)
    if (error !== undefined) {
      verdicts.push({ _tag: "EncodeFailed", error })
      continue
    }
    for (const event of decided) state = decider.evolve(state, event)
    version += decided.length
    if (commandId !== undefined && decided.length > 0) {
      recordedHere ??= new Map()
      recordedHere.set(commandId, decided)
      commandIds ??= []
      commandIds.push(commandId)
    }
    verdicts.push({ _tag: "Accepted", events: decided, state, version })
  }
  return { verdicts, events, state, version, commandIds: commandIds ?? noCommandIds }
}

/**
 * Whether some command with a `commandId` appends nothing under `plan` (rejected, not
 * encodable, or accepted with no events). Against a state whose earlier command ids are
 * unknown (a stream loaded from a snapshot), such a command may be a retry of one
 * recorded before the snapshot: only the ids before it can tell. A retry that appends
 * events needs no such check: its derived event ids are already recorded, and the store
 * refuses them with `EventIdConflict`.
 */
export const appendsNothingForAnId = <S, E, R, C>(plan: Plan<S, E, R>, requests: ReadonlyArray<Request<C>>): boolean =>
  plan.verdicts.some((verdict, index) =>
    requests[index]?.options.commandId !== undefined &&
    (verdict._tag === "Rejected" || verdict._tag === "EncodeFailed" || (verdict._tag === "Accepted" && verdict.events.length === 0))
  )
