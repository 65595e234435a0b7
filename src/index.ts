/**
 * es-kernel: pure deciders, typed events, and event stores as Effect services.
 *
 * @since 0.1.0
 */
export * as Decider from "./Decider.js"
export * as EventStore from "./EventStore.js"
