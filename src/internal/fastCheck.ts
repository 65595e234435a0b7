/**
 * fast-check, loaded for the law checkers only.
 *
 * fast-check is an optional peer dependency: an application that tests its deciders with
 * `DeciderSpec` alone need not install it. So nothing imports it statically; this module
 * tries once, when `es-kernel/testing` is first imported, and a law checker asks for it
 * when it is called — which is when a missing fast-check is reported, with the command
 * that installs it, instead of an import failure that would take `DeciderSpec` down too.
 *
 * @internal
 */
import { Data } from "effect"
import type * as FastCheck from "fast-check"

/**
 * A law checker was called but fast-check could not be loaded.
 *
 * @since 0.1.0
 */
export class FastCheckUnavailable extends Data.TaggedError("FastCheckUnavailable")<{
  readonly checker: string
  readonly cause: unknown
}> {
  override get message(): string {
    return isNotFound(this.cause)
      ? `es-kernel/testing: ${this.checker} needs fast-check, an optional peer dependency that is not installed. ` +
        `Install it beside es-kernel: npm install --save-dev fast-check`
      : `es-kernel/testing: ${this.checker} could not load fast-check: ${String(this.cause).slice(0, 300)}`
  }
}

const isNotFound = (cause: unknown): boolean =>
  typeof cause === "object" && cause !== null && "code" in cause &&
  (cause.code === "ERR_MODULE_NOT_FOUND" || cause.code === "MODULE_NOT_FOUND")

type Loaded = { readonly _tag: "Loaded"; readonly fastCheck: typeof FastCheck } | { readonly _tag: "Failed"; readonly cause: unknown }

const loaded: Loaded = await import("fast-check").then(
  (fastCheck): Loaded => ({ _tag: "Loaded", fastCheck }),
  (cause: unknown): Loaded => ({ _tag: "Failed", cause })
)

/**
 * fast-check for the law checker named `checker`, or a `FastCheckUnavailable` thrown
 * saying how to install it.
 */
export const fastCheck = (checker: string): typeof FastCheck => {
  if (loaded._tag === "Failed") throw new FastCheckUnavailable({ checker, cause: loaded.cause })
  return loaded.fastCheck
}
