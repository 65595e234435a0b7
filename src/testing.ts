/**
 * `es-kernel/testing`: what users import to test their own deciders, codecs and stores.
 *
 * - `DeciderSpec`: given / when / then specifications with readable failures.
 * - `DeciderLaws`: fast-check laws (replay determinism, purity, terminal states).
 *
 * @since 0.1.0
 */
export * as DeciderLaws from "./testing/DeciderLaws.js"
export * as DeciderSpec from "./testing/DeciderSpec.js"
