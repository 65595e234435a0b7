/**
 * Codecs for the events of composed deciders. Generic, and small enough to move into the
 * library (`EventCodec`, `Decider`) as they are.
 *
 * `Decider.compose` tags events as fp-ts `Either`s and `Decider.many` as `{ id, value }`;
 * a store records `{ type, data }`. Two ways across:
 *
 * - `either(a, b)`: when the two sides' event type names are distinct, `Left(e)` and
 *   `Right(e)` are stored as `e` itself, and a stored event finds its side by its type
 *   name. It gives the codec of the untagged union and the `Decider.Mapping` (`untagged`)
 *   that `Decider.mapEvent` needs to give the composed decider those events.
 * - `addressed(codec)`: `{ id, value }` is stored as `{ type: value.type, data: { id,
 *   data: value.data } }`, through the inner codec, so the inner events keep their names,
 *   versions and upcasters.
 */
import * as Either from "fp-ts/lib/Either.js"
import { EventCodec } from "es-kernel"
import type { CommandHandler, Decider, EventStore } from "es-kernel"

/** What a handler needs of a codec, plus the type names it reads (for `readAll` filters). */
export interface Codec<E> extends CommandHandler.Codec<E> {
  readonly storedTypes: ReadonlyArray<string>
}

/** `Left(e)` and `Right(e)` as plain `e`, and back by `isLeft`: for `Decider.mapEvent` over `Decider.compose`. */
export const untagged = <E1, E2>(isLeft: (event: E1 | E2) => event is E1): Decider.Mapping<Either.Either<E1, E2>, E1 | E2> => ({
  to: (event) => Either.isLeft(event) ? event.left : event.right,
  from: (event) => isLeft(event) ? Either.left(event) : Either.right(event)
})

interface Typed {
  readonly type: string
}

/**
 * The codec of `E1 | E2`, from the codecs of each; the guard that tells the two apart; and
 * the mapping from `Either<E1, E2>` for `Decider.mapEvent`. Throws at once if a type name
 * is read by both: a stored event would not know its side.
 */
export const either = <E1 extends Typed, E2 extends Typed>(left: Codec<E1>, right: Codec<E2>) => {
  const leftTypes: ReadonlySet<string> = new Set(left.storedTypes)
  const shared = right.storedTypes.filter((type) => leftTypes.has(type))
  if (shared.length > 0) throw new Error(`both sides read the event types ${shared.join(", ")}`)
  const isLeft = (event: E1 | E2): event is E1 => leftTypes.has(event.type)
  const codec: Codec<E1 | E2> = {
    storedTypes: [...left.storedTypes, ...right.storedTypes],
    encode: (event) => isLeft(event) ? left.encode(event) : right.encode(event),
    decode: (recorded) => leftTypes.has(recorded.type) ? left.decode(recorded) : right.decode(recorded)
  }
  return { codec, isLeft, mapping: untagged<E1, E2>(isLeft) }
}

const isAddress = (data: EventStore.Json): data is { readonly id: string; readonly data: EventStore.Json } =>
  typeof data === "object" && data !== null && "id" in data && typeof data.id === "string" && "data" in data

/** The codec of `Decider.many`'s `{ id, value }` events, stored through the codec of `value`. */
export const addressed = <E>(inner: Codec<E>): Codec<Decider.Addressed<string, E>> => ({
  storedTypes: inner.storedTypes,
  encode: ({ id, value }) => Either.map((encoded: EventCodec.EncodedEvent) => ({ ...encoded, data: { id, data: encoded.data } }))(inner.encode(value)),
  decode: (recorded) => {
    const address = recorded.data
    if (!isAddress(address)) {
      const { streamId, version, type, schemaVersion } = recorded
      const issues = ["expected { id: string, data } around the event's payload"]
      return Either.left(new EventCodec.PayloadDecodeFailed({ streamId, version, type, schemaVersion, at: { type, schemaVersion }, issues }))
    }
    const decoded = inner.decode({ ...recorded, data: address.data })
    return Either.map((value: E | EventCodec.Skipped) => EventCodec.isSkipped(value) ? value : { id: address.id, value })(decoded)
  }
})
