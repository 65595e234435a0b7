/**
 * Views: read models as pure reducers over recorded events.
 *
 * A view is a decider's read-side cousin: an initial state and an `evolve` that also sees
 * where the event was recorded (stream, version, position, time), because a read model is
 * usually keyed by stream and ordered by time. Views never decide anything and never do
 * I/O; `Projection` runs them over a store.
 *
 * @since 0.1.0
 */
import type { RecordedEvent } from "./EventStore.js"

/**
 * Where an event was recorded: everything of a `RecordedEvent` but its payload.
 *
 * @since 0.1.0
 */
export type Envelope = Omit<RecordedEvent, "data" | "type">

/**
 * A read model of events `E`.
 *
 * @since 0.1.0
 */
export interface View<S, E> {
  readonly initialState: S
  readonly evolve: (state: S, event: E, envelope: Envelope) => S
}

/**
 * Builds a view, inferring its types. Identity at run time.
 *
 * @since 0.1.0
 */
export const make = <S, E>(view: View<S, E>): View<S, E> => view

/**
 * Folds events with their envelopes into a view's state (default: from its initial state).
 *
 * @since 0.1.0
 */
export const fold = <S, E>(
  view: View<S, E>,
  events: Iterable<readonly [E, Envelope]>,
  state: S = view.initialState
): S => {
  let current = state
  for (const [event, envelope] of events) current = view.evolve(current, event, envelope)
  return current
}

/**
 * Two views fed from the same events: their states as a pair. Nest it for more.
 *
 * @since 0.1.0
 */
export const both = <S1, S2, E>(a: View<S1, E>, b: View<S2, E>): View<readonly [S1, S2], E> => ({
  initialState: [a.initialState, b.initialState],
  evolve: ([s1, s2], event, envelope) => [a.evolve(s1, event, envelope), b.evolve(s2, event, envelope)]
})
