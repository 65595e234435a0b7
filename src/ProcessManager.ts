/**
 * Process managers: react to events with commands to other aggregates, with compensation
 * when a later step is rejected.
 *
 * A process manager is a pure `react(event, envelope)` that returns the commands to send
 * (`send(handler, id, command)`), each with an optional `onRejected` that returns the
 * compensating commands. It runs as a `Projector` handler projection: it follows the
 * store from its checkpoint, survives restarts, and has one live runner.
 *
 * Idempotent by construction:
 *
 * - The `k`-th command sent for an event gets the command id `eventIdFor(name:eventId, k)`,
 *   and a compensating command the id derived from the command it undoes. The command
 *   handler derives its event ids from the command id, so a redelivered event (after a
 *   crash, between a send and the checkpoint) finds its commands already handled and
 *   appends nothing twice.
 * - A rejection is recorded before it is compensated: one event in the stream
 *   `<name>-<command id>` (type `CommandRejected`, the rejection as JSON). A redelivered
 *   event whose command was rejected goes straight to the compensation, even if the
 *   target would accept the command now. Rejections must therefore be JSON values (plain
 *   objects, strings, numbers); `onRejected` receives them read back from that event on
 *   a redelivery.
 *
 * Commands carry the triggering event's correlation id (or its event id) and name the
 * event as their cause. The sends of one event run in order, one at a time, like the
 * steps of a saga: once one is rejected and compensated, the rest are not sent. A
 * rejected command without
 * `onRejected`, a rejected compensation, or a failing store stops the runner
 * (`ProjectionFailed`): it needs a fix, and resumes from its checkpoint on restart.
 *
 * @since 0.2.0
 */
import { Data, Effect, Option, Stream } from "effect"
import type { Scope } from "effect"
import type { CheckpointStore } from "./CheckpointStore.js"
import type { Codec, CommandHandler, CommandOptions, HandleError } from "./CommandHandler.js"
import { eventIdFor, Rejected } from "./CommandHandler.js"
import type { AppendError, EventFilter, Json, StorageError } from "./EventStore.js"
import { EventStore } from "./EventStore.js"
import { copyJson, NotJson } from "./internal/json.js"
import { quote } from "./internal/text.js"
import * as Projector from "./Projector.js"
import type { Envelope } from "./View.js"

/**
 * One command to send: to which aggregate, and what to send instead if it is rejected.
 * `R`: the services its handler needs (`EventStore`, and a `SnapshotStore` for a handler
 * made with snapshots).
 *
 * @since 0.2.0
 */
export interface Send<R = EventStore> {
  /** The target stream, for messages. */
  readonly target: string
  readonly dispatch: (options: CommandOptions) => Effect.Effect<unknown, HandleError<unknown>, R>
  readonly onRejected?: (rejection: Json) => ReadonlyArray<Send<R>>
}

/**
 * A command for the aggregate `id` of `handler`; `onRejected` gives the compensation.
 *
 * @since 0.2.0
 */
export const send = <C, S, E, Rejection, Env, R = EventStore>(
  handler: CommandHandler<C, S, E, Rejection, Env>,
  id: string,
  command: C,
  options: { readonly onRejected?: (rejection: Json) => ReadonlyArray<Send<R>> } = {}
): Send<Env | R> => {
  const target = handler.streamIdOf(id)
  const dispatch = (commandOptions: CommandOptions) => handler.handle(id, command, commandOptions)
  return options.onRejected === undefined ? { target, dispatch } : { target, dispatch, onRejected: options.onRejected }
}

/**
 * A process manager over events `E`.
 *
 * @since 0.2.0
 */
export interface ProcessManager<E, R = EventStore> {
  /** Its projection name (letters, digits, `.`, `_`, `-`), also the category of its rejection records. */
  readonly name: string
  readonly version?: number
  readonly codec: Codec<E>
  readonly filter?: EventFilter
  readonly react: (event: E, envelope: Envelope) => ReadonlyArray<Send<R>>
}

/**
 * Builds a process manager, inferring its types. Identity at run time.
 *
 * @since 0.2.0
 */
export const make = <E, R = EventStore>(manager: ProcessManager<E, R>): ProcessManager<E, R> => manager

/**
 * A command was rejected and nothing says how to compensate, or a compensation was
 * itself rejected.
 *
 * @since 0.2.0
 */
export class Uncompensated extends Data.TaggedError("Uncompensated")<{
  readonly target: string
  readonly commandId: string
  readonly rejection: Json
}> {
  override get message(): string {
    return `command ${quote(this.commandId)} to ${quote(this.target)} was rejected and has no compensation (or was one). Give its send an onRejected, or resolve the case by hand; the process manager resumes from this event when started again.`
  }
}

const rejectedType = "CommandRejected"

type StepError = HandleError<unknown> | Uncompensated | AppendError | StorageError

/** The rejection as JSON: what is recorded, and what `onRejected` receives on every path. */
const asJson = (rejection: unknown): Json => {
  const copied = copyJson(rejection, "rejection")
  return copied instanceof NotJson ? { unreadable: quote(String(rejection)) } : copied
}

const recordRejection = (store: EventStore["Service"], name: string, commandId: string, target: string, rejection: Json) =>
  store.append(`${name}-${commandId}`, [{ type: rejectedType, eventId: eventIdFor(commandId, 0), data: { target, rejection } }], "any")

const isObject = (value: Json): value is { readonly [key: string]: Json } =>
  typeof value === "object" && value !== null && !Array.isArray(value)

const recordedRejection = (store: EventStore["Service"], name: string, commandId: string) =>
  Effect.gen(function*() {
    if ((yield* store.streamVersion(`${name}-${commandId}`)) === 0) return undefined
    const first = yield* Stream.runHead(store.readStream(`${name}-${commandId}`, { limit: 1 }))
    if (Option.isNone(first)) return undefined
    const data = first.value.data
    const rejection: Json = isObject(data) ? data.rejection ?? null : null
    return { rejection }
  })

/**
 * Sends `step` with the id `commandId`; on a rejection records it, then sends the
 * compensation with ids derived from `commandId`. `true` when the step went through.
 */
const dispatch = <R>(
  name: string,
  step: Send<R>,
  commandId: string,
  context: { readonly correlationId: string; readonly causationId: string },
  compensating: boolean
): Effect.Effect<boolean, StepError, EventStore | R> =>
  Effect.gen(function*() {
    const store = yield* EventStore
    const earlier = yield* recordedRejection(store, name, commandId)
    let rejection: Json
    if (earlier !== undefined) rejection = earlier.rejection
    else {
      const outcome = yield* step.dispatch({ commandId, ...context }).pipe(
        Effect.map(() => undefined),
        Effect.catch((error) => error instanceof Rejected ? Effect.succeed({ rejection: asJson(error.rejection) }) : Effect.fail(error))
      )
      if (outcome === undefined) return true
      rejection = outcome.rejection
      yield* recordRejection(store, name, commandId, step.target, rejection)
    }
    if (compensating || step.onRejected === undefined) {
      return yield* new Uncompensated({ target: step.target, commandId, rejection })
    }
    const undo = step.onRejected(rejection)
    for (const [index, compensation] of undo.entries()) {
      yield* dispatch(name, compensation, eventIdFor(`${commandId}:undo`, index), context, true)
    }
    return false
  })

/**
 * Starts the process manager as a projection (see `Projector.start`): from its stored
 * checkpoint, with one live runner.
 *
 * @since 0.2.0
 */
export const start = <E, R = EventStore>(
  manager: ProcessManager<E, R>,
  options: Projector.StartOptions = {}
): Effect.Effect<Projector.Running<undefined>, Projector.StartError, EventStore | CheckpointStore | Scope.Scope | R> =>
  Projector.start(
    Projector.handler({
      name: manager.name,
      ...(manager.version === undefined ? {} : { version: manager.version }),
      codec: manager.codec,
      ...(manager.filter === undefined ? {} : { filter: manager.filter }),
      handle: (event: E, envelope: Envelope) =>
        Effect.gen(function*() {
          const context = {
            correlationId: envelope.metadata.correlationId ?? envelope.eventId,
            causationId: envelope.eventId
          }
          for (const [index, step] of manager.react(event, envelope).entries()) {
            const sent = yield* dispatch(manager.name, step, eventIdFor(`${manager.name}:${envelope.eventId}`, index), context, false)
            if (!sent) return
          }
        })
    }),
    options
  )
