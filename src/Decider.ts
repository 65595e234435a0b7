/**
 * Deciders: an aggregate as four pure things.
 *
 * - `decide(command, state)` → the new events, or a typed rejection (an fp-ts `Either`).
 * - `evolve(state, event)` → the next state. Total and pure.
 * - `initialState`: the state before any event.
 * - `isTerminal(state)` (optional): no command is accepted any more; default never.
 *
 * Nothing here does I/O or knows about a store: a decider can be unit-tested with no
 * runtime at all. Combinators are small free functions in the shape of Jérémie
 * Chassaing's "functional event sourcing deciders": `compose`, `many`, `adapt` and its
 * `map…` family, and `neutral`, the identity of `compose`.
 *
 * @since 0.1.0
 */
import * as Either from "fp-ts/lib/Either.js"
import { PersistentMap } from "./internal/persistentMap.js"

/**
 * A decider for commands `C`, state `S`, events `E` and rejections `R`.
 *
 * @since 0.1.0
 */
export interface Decider<C, S, E, R = never> {
  readonly decide: (command: C, state: S) => Either.Either<R, ReadonlyArray<E>>
  readonly evolve: (state: S, event: E) => S
  readonly initialState: S
  readonly isTerminal?: (state: S) => boolean
}

/** @since 0.1.0 */
export type CommandOf<D> = D extends Decider<infer C, infer _S, infer _E, infer _R> ? C : never
/** @since 0.1.0 */
export type StateOf<D> = D extends Decider<infer _C, infer S, infer _E, infer _R> ? S : never
/** @since 0.1.0 */
export type EventOf<D> = D extends Decider<infer _C, infer _S, infer E, infer _R> ? E : never
/** @since 0.1.0 */
export type RejectionOf<D> = D extends Decider<infer _C, infer _S, infer _E, infer R> ? R : never

/**
 * Builds a decider, inferring its types from the functions. Identity at run time.
 *
 * @since 0.1.0
 */
export const make = <C, S, E, R = never>(decider: Decider<C, S, E, R>): Decider<C, S, E, R> => decider

/**
 * A decision that accepts the command with these events.
 *
 * @since 0.1.0
 */
export const accept = <E>(...events: ReadonlyArray<E>): Either.Either<never, ReadonlyArray<E>> => Either.right(events)

/**
 * A decision that rejects the command.
 *
 * @since 0.1.0
 */
export const reject = <R>(rejection: R): Either.Either<R, never> => Either.left(rejection)

/**
 * Whether the decider will accept no further commands in this state.
 *
 * @since 0.1.0
 */
export const isTerminal = <C, S, E, R>(decider: Decider<C, S, E, R>, state: NoInfer<S>): boolean =>
  decider.isTerminal !== undefined && decider.isTerminal(state)

/**
 * Folds events into a state, starting from `state` (default: the initial state).
 * Replay is deterministic: the same events always give the same state.
 *
 * @since 0.1.0
 */
export const fold = <C, S, E, R>(
  decider: Decider<C, S, E, R>,
  events: Iterable<NoInfer<E>>,
  state: NoInfer<S> = decider.initialState
): S => {
  let current = state
  for (const event of events) current = decider.evolve(current, event)
  return current
}

/**
 * The outcome of running a command: the events decided and the state they lead to.
 *
 * @since 0.1.0
 */
export interface Outcome<S, E> {
  readonly events: ReadonlyArray<E>
  readonly state: S
}

/**
 * Decides a command against a state and evolves the state with the resulting events.
 *
 * @since 0.1.0
 */
export const run = <C, S, E, R>(
  decider: Decider<C, S, E, R>,
  command: NoInfer<C>,
  state: NoInfer<S> = decider.initialState
): Either.Either<R, Outcome<S, E>> => {
  const decision = decider.decide(command, state)
  return Either.isLeft(decision)
    ? decision
    : Either.right({ events: decision.right, state: fold(decider, decision.right, state) })
}

// ---------------------------------------------------------------------------
// Combinators
// ---------------------------------------------------------------------------

/**
 * The decider that accepts no command and ignores every event: the identity of
 * `compose` (up to isomorphism). Its state is `undefined` and it is always terminal.
 *
 * @since 0.1.0
 */
export const neutral: Decider<never, undefined, never, never> = {
  decide: () => Either.right([]),
  evolve: (state) => state,
  initialState: undefined,
  isTerminal: () => true
}

/**
 * Two deciders side by side. Commands and events are tagged per side (`Left` for `a`,
 * `Right` for `b`); the state is the pair of states; each side sees only its own
 * commands and events. Terminal when both sides are (never, when either side has no
 * `isTerminal`).
 *
 * @since 0.1.0
 */
export const compose = <C1, S1, E1, R1, C2, S2, E2, R2>(
  a: Decider<C1, S1, E1, R1>,
  b: Decider<C2, S2, E2, R2>
): Decider<Either.Either<C1, C2>, readonly [S1, S2], Either.Either<E1, E2>, R1 | R2> => {
  const composed: Decider<Either.Either<C1, C2>, readonly [S1, S2], Either.Either<E1, E2>, R1 | R2> = {
    decide: (command, [s1, s2]) =>
      Either.isLeft(command)
        ? Either.map((events: ReadonlyArray<E1>) => events.map(Either.left))(a.decide(command.left, s1))
        : Either.map((events: ReadonlyArray<E2>) => events.map(Either.right))(b.decide(command.right, s2)),
    evolve: ([s1, s2], event) =>
      Either.isLeft(event) ? [a.evolve(s1, event.left), s2] : [s1, b.evolve(s2, event.right)],
    initialState: [a.initialState, b.initialState]
  }
  return a.isTerminal === undefined || b.isTerminal === undefined
    ? composed
    : { ...composed, isTerminal: ([s1, s2]) => isTerminal(a, s1) && isTerminal(b, s2) }
}

/**
 * A command addressed to one instance of a `many` decider.
 *
 * @since 0.1.0
 */
export interface Addressed<K extends string, A> {
  readonly id: K
  readonly value: A
}

/**
 * Many independent instances of one decider, keyed by id. A command or event addressed to
 * `id` reaches only that instance; an instance is created on its first event from the
 * inner initial state. Terminal instances stay in the map, so a finished instance is never
 * silently restarted; the fleet itself is never terminal (it has no `isTerminal`).
 *
 * The state reads as a `ReadonlyMap` (`get`, `has`, `size`, iteration in the order
 * instances first appeared) and is a persistent map underneath: each event replaces one
 * instance and shares the rest with the previous state, so a command or event costs
 * O(log n) in a fleet of n instances and replaying a fleet is linear in its events. Every
 * earlier state stays valid and unchanged. (A plain `Map` handed in as a state works too;
 * it is copied once, on the first event.)
 *
 * @since 0.1.0
 */
export const many = <C, S, E, R, K extends string = string>(
  decider: Decider<C, S, E, R>
): Decider<Addressed<K, C>, ReadonlyMap<K, S>, Addressed<K, E>, R> => ({
  decide: ({ id, value }, states) =>
    Either.map((events: ReadonlyArray<E>) => events.map((event) => ({ id, value: event })))(
      decider.decide(value, states.get(id) ?? decider.initialState)
    ),
  evolve: (states, { id, value }) => {
    const persistent = states instanceof PersistentMap ? states : PersistentMap.from(states)
    return persistent.set(id, decider.evolve(states.get(id) ?? decider.initialState, value))
  },
  initialState: PersistentMap.empty<K, S>()
})

/**
 * A two-way mapping between an inner and an outer type: `to` goes out, `from` comes back.
 * `from` returns `undefined` for an outer value the inner decider does not know.
 *
 * @since 0.1.0
 */
export interface Mapping<Inner, Outer> {
  readonly to: (inner: Inner) => Outer
  readonly from: (outer: Outer) => Inner | undefined
}

/**
 * `Left(e)` and `Right(e)` as plain `e`, and back by `isLeft`: with `mapEvent`, it gives
 * `compose(a, b)` the untagged events `E1 | E2` a single codec can store (see
 * `EventCodec.either`, which also supplies `isLeft`).
 *
 * @since 0.1.0
 */
export const untagged = <E1, E2>(isLeft: (event: E1 | E2) => event is E1): Mapping<Either.Either<E1, E2>, E1 | E2> => ({
  to: (event) => (Either.isLeft(event) ? event.left : event.right),
  from: (event) => (isLeft(event) ? Either.left(event) : Either.right(event))
})

/**
 * Re-types a decider's commands (contravariant): the new decider takes `C2` and hands
 * `f(command)` to the inner one. A command `f` maps to `undefined` is accepted with no
 * events, as a decider accepts a command that does not concern it.
 *
 * @since 0.1.0
 */
export const mapCommand = <C, S, E, R, C2>(
  decider: Decider<C, S, E, R>,
  f: (command: C2) => C | undefined
): Decider<C2, S, E, R> => ({
  ...decider,
  decide: (command, state) => {
    const inner = f(command)
    return inner === undefined ? Either.right([]) : decider.decide(inner, state)
  }
})

/**
 * Re-types a decider's events (invariant: events go out of `decide` and back into
 * `evolve`). An outer event `from` does not recognise leaves the state unchanged.
 *
 * @since 0.1.0
 */
export const mapEvent = <C, S, E, R, E2>(
  decider: Decider<C, S, E, R>,
  mapping: Mapping<E, E2>
): Decider<C, S, E2, R> => ({
  ...decider,
  decide: (command, state) =>
    Either.map((events: ReadonlyArray<E>) => events.map(mapping.to))(decider.decide(command, state)),
  evolve: (state, event) => {
    const inner = mapping.from(event)
    return inner === undefined ? state : decider.evolve(state, inner)
  }
})

/**
 * Re-types a decider's state through an isomorphism (`from` must invert `to`).
 *
 * @since 0.1.0
 */
export const mapState = <C, S, E, R, S2>(
  decider: Decider<C, S, E, R>,
  iso: { readonly to: (state: S) => S2; readonly from: (state: S2) => S }
): Decider<C, S2, E, R> => {
  const { isTerminal: terminal } = decider
  const mapped: Decider<C, S2, E, R> = {
    decide: (command, state) => decider.decide(command, iso.from(state)),
    evolve: (state, event) => iso.to(decider.evolve(iso.from(state), event)),
    initialState: iso.to(decider.initialState)
  }
  return terminal === undefined ? mapped : { ...mapped, isTerminal: (state) => terminal(iso.from(state)) }
}

/**
 * Re-types a decider's rejections.
 *
 * @since 0.1.0
 */
export const mapRejection = <C, S, E, R, R2>(
  decider: Decider<C, S, E, R>,
  f: (rejection: R) => R2
): Decider<C, S, E, R2> => ({
  ...decider,
  decide: (command, state) => Either.mapLeft(f)(decider.decide(command, state))
})

/**
 * Re-types commands and events at once: how a decider written in its own small
 * vocabulary joins a larger one (the profunctor `adapt` of Chassaing's deciders).
 *
 * @since 0.1.0
 */
export const adapt = <C, S, E, R, C2, E2>(
  decider: Decider<C, S, E, R>,
  adapter: {
    readonly command: (command: C2) => C | undefined
    readonly event: Mapping<E, E2>
  }
): Decider<C2, S, E2, R> => mapEvent(mapCommand(decider, adapter.command), adapter.event)
