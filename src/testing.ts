/**
 * `es-kernel/testing`: what users import to test their own deciders, codecs and stores.
 *
 * - `DeciderSpec`: given / when / then specifications with readable failures.
 * - `DeciderLaws`: fast-check laws (replay determinism, purity, terminal states).
 * - `CodecLaws`: fast-check laws for event codecs and their upcasters.
 * - `StoreConformance`: the event store contract as a suite, for any `EventStore` layer.
 *
 * fast-check is an optional peer dependency. Without it this module still loads and
 * `DeciderSpec` works; a law checker or the store suite, when called, throws
 * `FastCheckUnavailable` naming the install command. The law checkers' declarations name
 * fast-check's types, so an application without fast-check that type-checks its
 * libraries imports `es-kernel/testing/DeciderSpec` instead, which needs nothing beyond
 * es-kernel's peers.
 *
 * @since 0.1.0
 */
export * as CodecLaws from "./testing/CodecLaws.js"
export * as DeciderLaws from "./testing/DeciderLaws.js"
export * as DeciderSpec from "./testing/DeciderSpec.js"
export * as StoreConformance from "./testing/StoreConformance.js"
