/**
 * `es-kernel/testing`: what users import to test their own deciders, codecs and stores.
 *
 * - `DeciderSpec`: given / when / then specifications with readable failures.
 * - `DeciderLaws`: fast-check laws (replay determinism, purity, terminal states).
 * - `CodecLaws`: fast-check laws for event codecs and their upcasters.
 *
 * @since 0.1.0
 */
export * as CodecLaws from "./testing/CodecLaws.js"
export * as DeciderLaws from "./testing/DeciderLaws.js"
export * as DeciderSpec from "./testing/DeciderSpec.js"
