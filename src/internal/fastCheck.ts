/**
 * fast-check, loaded for the checkers that need it and only for them.
 *
 * fast-check is an optional peer dependency: an application that tests its deciders with
 * `DeciderSpec` alone need not install it. So no module that `es-kernel/testing` imports
 * statically imports fast-check: it (or a module built on it) is loaded once, when
 * `es-kernel/testing` is first imported, and a checker asks for it when called — which is
 * when a missing fast-check is reported, with the command that installs it, instead of an
 * import failure that would take `DeciderSpec` down too.
 *
 * @internal
 */
import { Data } from "effect"
import type * as FastCheck from "fast-check"

/**
 * A checker that needs fast-check was called, but fast-check could not be loaded.
 *
 * @since 0.1.0
 */
export class FastCheckUnavailable extends Data.TaggedError("FastCheckUnavailable")<{
  readonly checker: string
  readonly cause: unknown
}> {
  override get message(): string {
    return isFastCheckMissing(this.cause)
      ? `es-kernel/testing: ${this.checker} needs fast-check, an optional peer dependency that is not installed. ` +
        `Install it beside es-kernel: npm install --save-dev fast-check`
      : `es-kernel/testing: ${this.checker} could not load fast-check: ${String(this.cause).slice(0, 300)}`
  }
}

const isFastCheckMissing = (cause: unknown): boolean =>
  cause instanceof Error && "code" in cause && cause.code === "ERR_MODULE_NOT_FOUND" && cause.message.includes("'fast-check'")

/**
 * A module that needs fast-check, or why it could not be loaded.
 *
 * @internal
 */
export type Optional<A> = { readonly _tag: "Loaded"; readonly module: A } | { readonly _tag: "Failed"; readonly cause: unknown }

/**
 * Loads a module that imports fast-check, keeping a failure for `need` to report.
 *
 * @internal
 */
export const loadOptional = <A>(load: () => Promise<A>): Promise<Optional<A>> =>
  load().then(
    (module): Optional<A> => ({ _tag: "Loaded", module }),
    (cause: unknown): Optional<A> => ({ _tag: "Failed", cause })
  )

/**
 * The module, or a `FastCheckUnavailable` thrown on behalf of `checker`.
 *
 * @internal
 */
export const need = <A>(checker: string, optional: Optional<A>): A => {
  if (optional._tag === "Failed") throw new FastCheckUnavailable({ checker, cause: optional.cause })
  return optional.module
}

const loaded = await loadOptional(() => import("fast-check"))

/**
 * fast-check for the checker named `checker`, or a `FastCheckUnavailable` thrown saying
 * how to install it.
 *
 * @internal
 */
export const fastCheck = (checker: string): typeof FastCheck => need(checker, loaded)
