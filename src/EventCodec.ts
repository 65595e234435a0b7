/**
 * Event codecs: how an aggregate's domain events become stored `{ type, data,
 * schemaVersion }` records and come back.
 *
 * An aggregate's codec is a registry: for each event type, its name (the stored `type`),
 * its current schema version, a codec for its payload, the upcasters that bring older
 * versions up to date, and the names it was stored under before a rename. Payload codecs
 * are io-ts codecs (`EventCodec.io`) or Effect Schemas (`EventCodec.schema`); both go
 * through the same port.
 *
 * Domain events take the store's own shape, `{ type, data }`: the union is discriminated
 * by `type`, a payload needs no discriminant of its own, and a payload field called
 * `type` cannot collide with it.
 *
 * ```ts
 * const codec = EventCodec.make({
 *   AccountOpened: EventCodec.io(t.type({ owner: t.string })),
 *   MoneyDeposited: EventCodec.io(t.type({ amount: t.number, currency: t.string }), {
 *     version: 2,
 *     upcast: { 1: Upcaster.io(t.type({ amount: t.number }), (v1) => ({ ...v1, currency: "EUR" })) }
 *   })
 * })
 * type AccountEvent = EventCodec.Event<typeof codec>
 * codec.encode({ type: "AccountOpened", data: { owner: "ada" } })   // Right({ type, data, schemaVersion: 1 })
 * codec.decode(recordedEvent)                                      // Either<DecodeError, AccountEvent>
 * ```
 *
 * Writes always use a type's current version. Reads upcast, then decode; every failure is
 * a typed error naming the stream, the event's version, its stored type and schema
 * version. An event type the codec does not know follows the codec's policy: `"fail"`
 * (the default, an `UnknownEventType` error) or `"skip"` (a `Skipped` value the caller
 * can count and report). Both are pure: no Effect services, no exceptions.
 *
 * @since 0.1.0
 */
import { Data } from "effect"
import * as Either from "fp-ts/lib/Either.js"
import type * as t from "io-ts"
import type { Mapping } from "./Decider.js"
import { untagged } from "./Decider.js"
import type { Json } from "./EventStore.js"
import type { Issues, PayloadCodec, PureSchema } from "./internal/payloadCodec.js"
import { fromIoTs, fromSchema } from "./internal/payloadCodec.js"
import * as Upcaster from "./Upcaster.js"
import { quote, quoteList } from "./internal/text.js"

/**
 * The upcasting errors, re-exported so that one import covers every way decoding fails.
 *
 * @since 0.1.0
 */
export { MissingUpcaster, PayloadDecodeFailed, SchemaVersionTooNew, UpcastFailed } from "./Upcaster.js"

// ---------------------------------------------------------------------------
// Definitions: one event type
// ---------------------------------------------------------------------------

/**
 * How an event type evolves:
 *
 * - `version`: its current schema version (default 1). Writes record it.
 * - `upcast`: upcasters keyed by the version they start from (`{ 1: v1ToV2 }`).
 * - `renamedFrom`: names this type was stored under before, each with its own version
 *   chain and the version of this type it joins (see `Upcaster.RenameOptions`).
 *
 * @since 0.1.0
 */
export interface DefinitionOptions {
  readonly version?: number
  readonly upcast?: Upcaster.Steps
  readonly renamedFrom?: { readonly [oldType: string]: Upcaster.RenameOptions }
}

/**
 * One event type of a registry: a payload codec with its versions. Build one with `io` or
 * `schema`.
 *
 * @since 0.1.0
 */
export interface Definition<A> {
  readonly _tag: "EventDefinition"
  readonly payload: PayloadCodec<A>
  readonly version: number
  readonly upcast: Upcaster.Steps
  readonly renamedFrom: { readonly [oldType: string]: Upcaster.RenameOptions }
}

const define = <A>(payload: PayloadCodec<A>, options: DefinitionOptions): Definition<A> => ({
  _tag: "EventDefinition",
  payload,
  version: options.version ?? 1,
  upcast: options.upcast ?? {},
  renamedFrom: options.renamedFrom ?? {}
})

/**
 * An event type whose payload is an io-ts codec. The codec's output (`O`) is what is
 * stored, so it must be JSON; its type (`A`) is what the domain sees.
 *
 * @since 0.1.0
 */
export const io = <A, O>(codec: t.Type<A, O, unknown>, options: DefinitionOptions = {}): Definition<A> =>
  define(fromIoTs(codec), options)

/**
 * An event type whose payload is an Effect Schema (one that needs no services). Its
 * encoded side is what is stored, so it must be JSON.
 *
 * @since 0.1.0
 */
export const schema = <S extends PureSchema>(schema: S, options: DefinitionOptions = {}): Definition<S["Type"]> =>
  define(fromSchema(schema), options)

// ---------------------------------------------------------------------------
// Events
// ---------------------------------------------------------------------------

/**
 * A registry: event type name → its definition. `P` maps each name to its payload type
 * and is inferred by `make`.
 *
 * @since 0.1.0
 */
export type Registry<P> = { readonly [K in keyof P]: Definition<P[K]> }

/**
 * Each event type name of `P`, mapped to its domain event.
 *
 * @since 0.1.0
 */
export type EventMap<P> = { readonly [K in keyof P & string]: { readonly type: K; readonly data: P[K] } }

/**
 * The domain events of payload map `P`: `{ type: "AccountOpened", data: … } | …`.
 *
 * @since 0.1.0
 */
export type EventOf<P> = EventMap<P>[keyof P & string]

/**
 * The domain events of a codec: `EventCodec.Event<typeof codec>`.
 *
 * @since 0.1.0
 */
export type Event<C> = C extends EventCodec<infer P, UnknownTypePolicy> ? EventOf<P> : never

/**
 * An event ready to append: a `NewEvent` without metadata or id, at its type's current
 * schema version.
 *
 * @since 0.1.0
 */
export interface EncodedEvent {
  readonly type: string
  readonly data: unknown
  readonly schemaVersion: number
}

/**
 * What decoding needs of a recorded event (a `RecordedEvent` is one): its stream and
 * version are only used to name it in errors.
 *
 * @since 0.1.0
 */
export interface StoredEvent {
  readonly streamId: string
  readonly version: number
  readonly type: string
  readonly schemaVersion: number
  readonly data: Json
}

/**
 * A recorded event of a type the codec does not know, skipped under the `"skip"` policy.
 * Count or log it: skipping is never silent.
 *
 * @since 0.1.0
 */
export interface Skipped extends Upcaster.EventAt {
  readonly _tag: "Skipped"
}

/**
 * Whether a decoded value is a skipped event rather than a domain event.
 *
 * @since 0.1.0
 */
export const isSkipped = (decoded: unknown): decoded is Skipped =>
  typeof decoded === "object" && decoded !== null && "_tag" in decoded && decoded._tag === "Skipped"

// ---------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------

/**
 * Under the `"fail"` policy: the recorded event's type is neither a current type of this
 * codec nor a former name of one.
 *
 * @since 0.1.0
 */
export class UnknownEventType extends Data.TaggedError("UnknownEventType")<
  Upcaster.EventAt & { readonly knownTypes: ReadonlyArray<string> }
> {
  override get message(): string {
    return `event ${quote(this.type)} v${this.schemaVersion} at stream ${quote(this.streamId)} version ${this.version}: unknown event type (known: ${
      quoteList(this.knownTypes)
    }). Add the type to the codec, or name its old type in renamedFrom, or decode with unknownTypes: "skip"`
  }
}

/**
 * A domain event that cannot be written: its type is not in the registry (only possible
 * from untyped code), or its payload codec refused it. Nothing should be appended.
 *
 * @since 0.1.0
 */
export class EncodeFailed extends Data.TaggedError("EncodeFailed")<{
  readonly type: string
  readonly schemaVersion: number | undefined
  readonly issues: Issues
}> {
  override get message(): string {
    const as = this.schemaVersion === undefined ? "" : ` v${this.schemaVersion}`
    return `event ${quote(this.type)}${as} cannot be encoded: ${
      this.issues.slice(0, 5).join("; ")
    }. Nothing was appended: the event does not match its codec, so fix the decider that made it`
  }
}

/**
 * Every way decoding a recorded event can fail.
 *
 * @since 0.1.0
 */
export type DecodeError = UnknownEventType | Upcaster.UpcastError

// ---------------------------------------------------------------------------
// The codec
// ---------------------------------------------------------------------------

/**
 * What to do with a recorded event whose type the codec does not know.
 *
 * @since 0.1.0
 */
export type UnknownTypePolicy = "fail" | "skip"

/**
 * What `decode` yields on success: the domain event, or under the `"skip"` policy possibly
 * a `Skipped` record.
 *
 * @since 0.1.0
 */
export type Decoded<E, U extends UnknownTypePolicy> = U extends "skip" ? E | Skipped : E

/**
 * One event type as the codec reads and writes it: its current `version`, and each former
 * name with that name's last version and the version of this type it joins.
 *
 * @since 0.1.0
 */
export interface CatalogEntry {
  readonly type: string
  readonly version: number
  readonly renamedFrom: ReadonlyArray<{ readonly type: string; readonly version: number; readonly into: number }>
}

/**
 * The codec of one aggregate's events. `P` maps each event type name to its payload type
 * (inferred by `make`; name the events with `EventCodec.Event<typeof codec>`), `U` is the
 * unknown-type policy.
 *
 * - `encode(event)`: the stored form at the type's current version, or `EncodeFailed`.
 * - `decode(recorded)`: upcast to the current version and decode; pure and deterministic,
 *   and it never modifies `recorded`.
 * - `catalog`: every event type with its versions and former names.
 * - `storedTypes`: every type name it reads (current and former): a ready `readAll` filter.
 *
 * @since 0.1.0
 */
export interface EventCodec<P, U extends UnknownTypePolicy = "fail"> {
  readonly unknownTypes: U
  readonly catalog: ReadonlyArray<CatalogEntry>
  readonly storedTypes: ReadonlyArray<string>
  readonly encode: (event: EventOf<P>) => Either.Either<EncodeFailed, EncodedEvent>
  readonly decode: (recorded: StoredEvent) => Either.Either<DecodeError, Decoded<EventOf<P>, U>>
}

/**
 * Options of `make`. `unknownTypes` defaults to `"fail"`; choose per stream by making one
 * codec per policy from the same registry.
 *
 * @since 0.1.0
 */
export interface MakeOptions {
  readonly unknownTypes?: UnknownTypePolicy
}

/** How one stored type name is read: the chain it enters and the codec that ends it. */
interface Route<E> {
  readonly upcast: (data: Json, event: Upcaster.EventAt) => Either.Either<Upcaster.UpcastError, Json>
  readonly decode: (payload: Json, event: Upcaster.EventAt) => Either.Either<Upcaster.PayloadDecodeFailed, E>
}

const eventAt = (recorded: StoredEvent): Upcaster.EventAt => ({
  streamId: recorded.streamId,
  version: recorded.version,
  type: recorded.type,
  schemaVersion: recorded.schemaVersion
})

interface Writer {
  readonly version: number
  readonly payload: PayloadCodec<unknown>
}

const routesOf = <P, K extends keyof P & string>(
  type: K,
  definition: Definition<P[K]>,
  routes: Map<string, Route<EventOf<P>>>
): CatalogEntry => {
  const current = Upcaster.chain(type, definition.version, definition.upcast)
  const decode = (payload: Json, event: Upcaster.EventAt): Either.Either<Upcaster.PayloadDecodeFailed, EventOf<P>> => {
    const decoded = definition.payload.decode(payload)
    if (Either.isLeft(decoded)) {
      const at = { type, schemaVersion: current.version }
      return Either.left(new Upcaster.PayloadDecodeFailed({ ...event, at, issues: decoded.left }))
    }
    const domainEvent: EventMap<P>[K] = { type, data: decoded.right }
    return Either.right(domainEvent)
  }
  routes.set(type, { upcast: (data, event) => Upcaster.upcast(current, data, event), decode })
  const renamedFrom: Array<CatalogEntry["renamedFrom"][number]> = []
  for (const [oldType, options] of Object.entries(definition.renamedFrom)) {
    if (routes.has(oldType)) throw new Error(`event type name ${oldType} is used twice in one codec`)
    const rename = Upcaster.rename(oldType, current, options)
    routes.set(oldType, { upcast: (data, event) => Upcaster.upcastRenamed(rename, current, data, event), decode })
    renamedFrom.push({ type: oldType, version: rename.from.version, into: rename.into })
  }
  return { type, version: current.version, renamedFrom }
}

/**
 * Builds an aggregate's codec from its registry. Types infer from the registry: no
 * annotations needed. Throws at once on a malformed registry (a name used twice, a
 * version that is not a positive integer, an upcaster from a version that cannot exist).
 *
 * @since 0.1.0
 */
export function make<P>(registry: Registry<P>, options?: { readonly unknownTypes?: "fail" }): EventCodec<P, "fail">
export function make<P>(registry: Registry<P>, options: { readonly unknownTypes: "skip" }): EventCodec<P, "skip">
export function make<P>(registry: Registry<P>, options: MakeOptions = {}): EventCodec<P, "fail"> | EventCodec<P, "skip"> {
  const routes = new Map<string, Route<EventOf<P>>>()
  const writers = new Map<string, Writer>()
  const catalog: Array<CatalogEntry> = []
  for (const type in registry) {
    if (routes.has(type)) throw new Error(`event type name ${type} is used twice in one codec`)
    const definition = registry[type]
    catalog.push(routesOf<P, typeof type>(type, definition, routes))
    writers.set(type, { version: definition.version, payload: definition.payload })
  }
  const storedTypes = [...routes.keys()]

  const encode = (event: EventOf<P>): Either.Either<EncodeFailed, EncodedEvent> => {
    const writer = writers.get(event.type)
    if (writer === undefined) {
      return Either.left(new EncodeFailed({ type: event.type, schemaVersion: undefined, issues: ["not an event type of this codec"] }))
    }
    const data = writer.payload.encode(event.data)
    return Either.isLeft(data)
      ? Either.left(new EncodeFailed({ type: event.type, schemaVersion: writer.version, issues: data.left }))
      : Either.right({ type: event.type, data: data.right, schemaVersion: writer.version })
  }

  const decodeKnown = (route: Route<EventOf<P>>, recorded: StoredEvent): Either.Either<DecodeError, EventOf<P>> => {
    const event = eventAt(recorded)
    const upcasted = route.upcast(recorded.data, event)
    return Either.isLeft(upcasted) ? upcasted : route.decode(upcasted.right, event)
  }

  if (options.unknownTypes === "skip") {
    const skipping: EventCodec<P, "skip"> = {
      unknownTypes: "skip",
      catalog,
      storedTypes,
      encode,
      decode: (recorded) => {
        const route = routes.get(recorded.type)
        if (route !== undefined) return decodeKnown(route, recorded)
        const skipped: Skipped = { _tag: "Skipped", ...eventAt(recorded) }
        return Either.right(skipped)
      }
    }
    return skipping
  }
  const failing: EventCodec<P, "fail"> = {
    unknownTypes: "fail",
    catalog,
    storedTypes,
    encode,
    decode: (recorded) => {
      const route = routes.get(recorded.type)
      return route === undefined
        ? Either.left(new UnknownEventType({ ...eventAt(recorded), knownTypes: storedTypes }))
        : decodeKnown(route, recorded)
    }
  }
  return failing
}

// ---------------------------------------------------------------------------
// Codecs of composed deciders
// ---------------------------------------------------------------------------

/**
 * What the combinators below need of a codec: an `EventCodec` is one, and so is what they
 * return, so they nest.
 *
 * @since 0.1.0
 */
export interface Port<E> {
  readonly storedTypes: ReadonlyArray<string>
  readonly encode: (event: E) => Either.Either<EncodeFailed, EncodedEvent>
  readonly decode: (recorded: StoredEvent) => Either.Either<DecodeError, E | Skipped>
}

/**
 * The codec of two aggregates' events side by side — what `Decider.compose` needs in one
 * stream once `mapping` (`Decider.untagged`) turns its `Left`/`Right` events into plain ones:
 * `Decider.mapEvent(Decider.compose(a, b), either(codecA, codecB).mapping)`.
 * Each event is stored under its own name, and a stored event finds its side by its type
 * name, so the two sides must not share one: that throws at once.
 *
 * @since 0.1.0
 */
export const either = <E1 extends { readonly type: string }, E2 extends { readonly type: string }>(
  left: Port<E1>,
  right: Port<E2>
): {
  readonly codec: Port<E1 | E2>
  readonly isLeft: (event: E1 | E2) => event is E1
  readonly mapping: Mapping<Either.Either<E1, E2>, E1 | E2>
} => {
  const leftTypes: ReadonlySet<string> = new Set(left.storedTypes)
  const shared = right.storedTypes.filter((type) => leftTypes.has(type))
  if (shared.length > 0) throw new Error(`both sides read the event types ${shared.join(", ")}`)
  const isLeft = (event: E1 | E2): event is E1 => leftTypes.has(event.type)
  return {
    isLeft,
    mapping: untagged<E1, E2>(isLeft),
    codec: {
      storedTypes: [...left.storedTypes, ...right.storedTypes],
      encode: (event) => (isLeft(event) ? left.encode(event) : right.encode(event)),
      decode: (recorded) => (leftTypes.has(recorded.type) ? left.decode(recorded) : right.decode(recorded))
    }
  }
}

const isAddressed = (data: Json): data is { readonly id: string; readonly data: Json } =>
  typeof data === "object" && data !== null && "id" in data && typeof data.id === "string" && "data" in data

/**
 * The codec of `Decider.many`'s `{ id, value }` events: stored as `{ type: value.type,
 * data: { id, data: value.data } }` through the inner codec, so the inner events keep their
 * names, versions and upcasters.
 *
 * @since 0.1.0
 */
export const addressed = <E>(inner: Port<E>): Port<{ readonly id: string; readonly value: E }> => ({
  storedTypes: inner.storedTypes,
  encode: ({ id, value }) =>
    Either.map((encoded: EncodedEvent) => ({ ...encoded, data: { id, data: encoded.data } }))(inner.encode(value)),
  decode: (recorded) => {
    const address = recorded.data
    if (!isAddressed(address)) {
      const { streamId, version, type, schemaVersion } = recorded
      const issues = ["expected { id: string, data } around the event's payload"]
      return Either.left(new Upcaster.PayloadDecodeFailed({ streamId, version, type, schemaVersion, at: { type, schemaVersion }, issues }))
    }
    return Either.map((value: E | Skipped) => (isSkipped(value) ? value : { id: address.id, value }))(
      inner.decode({ ...recorded, data: address.data })
    )
  }
})
