/**
 * Upcasters: how an event stored at an old schema version is read by today's code.
 *
 * Events are a storage format: once written, their bytes are never rewritten. When a
 * payload's shape changes, its type's schema version goes up by one and an upcaster — a
 * pure function from the version `n` payload to the version `n + 1` payload — is added.
 * On read, the steps run one after the other from the stored version up to the current
 * one, then the current codec decodes the result. Every payload in a chain is JSON, the
 * stored form: an upcaster maps stored payloads to stored payloads.
 *
 * A step may decode its input with the old version's codec (`Upcaster.io`,
 * `Upcaster.schema`) so that it is typed, and so that a payload the step does not
 * understand becomes a typed `PayloadDecodeFailed` instead of a crash; `Upcaster.json`
 * takes the raw JSON.
 *
 * A renamed event type keeps its old name in the store. The old name has its own chain of
 * versions, which joins the new name's chain at a version of the new name (`rename`).
 *
 * Upcasters must not mutate their input — it is the recorded event, shared with whoever
 * else reads it. Nothing here copies or freezes it (that would cost every read); the law
 * checker in `es-kernel/testing` runs your steps on frozen inputs to catch a mutation.
 *
 * @since 0.1.0
 */
import { Data } from "effect"
import * as Either from "fp-ts/lib/Either.js"
import type * as t from "io-ts"
import type { Json } from "./EventStore.js"
import type { Issues, PureSchema } from "./internal/payloadCodec.js"
import { fromIoTsDecoder, fromSchemaDecoder } from "./internal/payloadCodec.js"
import { quote } from "./internal/text.js"

// ---------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------

/**
 * Which recorded event a read error is about: its stream, its version in the stream, and
 * the type and schema version it was stored with.
 *
 * @since 0.1.0
 */
export interface EventAt {
  readonly streamId: string
  readonly version: number
  readonly type: string
  readonly schemaVersion: number
}

/**
 * A point in an upcaster chain: a payload of event type `type` at schema version
 * `schemaVersion`. For a renamed type, `type` may be the new name while the error's own
 * `type` is the stored, old one.
 *
 * @since 0.1.0
 */
export interface ChainPoint {
  readonly type: string
  readonly schemaVersion: number
}

const describe = (event: EventAt): string =>
  `event ${quote(event.type)} v${event.schemaVersion} at stream ${quote(event.streamId)} version ${event.version}`

// At most the first five issues, each cut short: a payload's issues can be as long as the payload.
const showIssues = (issues: Issues): string => {
  const shown = issues.slice(0, 5).map((issue) => issue.length > 200 ? `${issue.slice(0, 200)}…` : issue).join("; ")
  return issues.length > 5 ? `${shown}; and ${issues.length - 5} more` : shown
}

/**
 * The event was stored with a schema version newer than this code knows — typically
 * written by a newer deployment. Upgrade the reader; never guess.
 *
 * @since 0.1.0
 */
export class SchemaVersionTooNew extends Data.TaggedError("SchemaVersionTooNew")<
  EventAt & { readonly currentVersion: number }
> {
  override get message(): string {
    return `${describe(this)}: schema version ${this.schemaVersion} is newer than the current version ${this.currentVersion} this code knows. It was written by newer code: deploy that code here too, never read it with the old codec`
  }
}

/**
 * No upcaster leads out of version `at.schemaVersion` of `at.type`, so the event cannot
 * reach the current version. Also the error for a stored schema version that is not a
 * positive integer.
 *
 * @since 0.1.0
 */
export class MissingUpcaster extends Data.TaggedError("MissingUpcaster")<
  EventAt & { readonly at: ChainPoint; readonly currentVersion: number }
> {
  override get message(): string {
    return `${describe(this)}: no upcaster from ${quote(this.at.type)} v${this.at.schemaVersion} to v${
      this.at.schemaVersion + 1
    } (current version ${this.currentVersion}). Add that upcaster to the type's definition in the codec`
  }
}

/**
 * The payload did not decode: either an upcaster's input at `at`, or the current
 * version's codec after upcasting. `issues` says what was wrong, one line per problem.
 *
 * @since 0.1.0
 */
export class PayloadDecodeFailed extends Data.TaggedError("PayloadDecodeFailed")<
  EventAt & { readonly at: ChainPoint; readonly issues: Issues }
> {
  override get message(): string {
    return `${describe(this)}: payload does not decode as ${quote(this.at.type)} v${this.at.schemaVersion}: ${
      showIssues(this.issues)
    }. Fix the codec if it no longer accepts what was written, or add an upcaster for the old shape (stored events are never rewritten)`
  }
}

/**
 * An upcaster threw. Upcasters should be total; this keeps a bug in one from crashing a
 * read and names the step that failed.
 *
 * @since 0.1.0
 */
export class UpcastFailed extends Data.TaggedError("UpcastFailed")<
  EventAt & { readonly at: ChainPoint; readonly cause: unknown }
> {
  override get message(): string {
    const reason = this.cause instanceof Error ? this.cause.message : String(this.cause)
    return `${describe(this)}: upcaster from ${quote(this.at.type)} v${this.at.schemaVersion} threw: ${
      reason.slice(0, 500)
    }. Upcasters must be total: fix it to handle this payload`
  }
}

/**
 * Every way bringing a payload to the current version can fail.
 *
 * @since 0.1.0
 */
export type UpcastError = SchemaVersionTooNew | MissingUpcaster | PayloadDecodeFailed | UpcastFailed

// ---------------------------------------------------------------------------
// Steps
// ---------------------------------------------------------------------------

/**
 * Why a single step could not run: its input did not decode, or it threw.
 *
 * @since 0.1.0
 */
export type StepFailure =
  | { readonly _tag: "Rejected"; readonly issues: Issues }
  | { readonly _tag: "Threw"; readonly cause: unknown }

/**
 * One upcaster: the version `n` payload to the version `n + 1` payload. Build one with
 * `io`, `schema` or `json`; `run` is what the chain calls.
 *
 * @since 0.1.0
 */
export interface Step {
  readonly _tag: "UpcastStep"
  readonly run: (payload: Json) => Either.Either<StepFailure, Json>
}

const makeStep = <A>(decode: (payload: Json) => Either.Either<Issues, A>, migrate: (payload: A) => Json): Step => ({
  _tag: "UpcastStep",
  run: (payload) => {
    const input = decode(payload)
    if (Either.isLeft(input)) return Either.left({ _tag: "Rejected", issues: input.left })
    try {
      return Either.right(migrate(input.right))
    } catch (cause) {
      return Either.left({ _tag: "Threw", cause })
    }
  }
})

/**
 * A step whose input is decoded with the old version's io-ts codec, so `migrate` is typed.
 *
 * ```ts
 * const MoneyDepositedV1 = t.type({ amount: t.number })
 * Upcaster.io(MoneyDepositedV1, (v1) => ({ ...v1, currency: "EUR" }))
 * ```
 *
 * @since 0.1.0
 */
export const io = <A>(from: t.Decoder<unknown, A>, migrate: (payload: A) => Json): Step =>
  makeStep(fromIoTsDecoder(from).decode, migrate)

/**
 * A step whose input is decoded with the old version's Effect Schema.
 *
 * @since 0.1.0
 */
export const schema = <S extends PureSchema>(from: S, migrate: (payload: S["Type"]) => Json): Step =>
  makeStep(fromSchemaDecoder(from).decode, migrate)

/**
 * A step over the raw JSON payload, for changes that need no typed view (renaming a
 * field, say). The function must cope with any JSON it is given.
 *
 * @since 0.1.0
 */
export const json = (migrate: (payload: Json) => Json): Step => makeStep((payload) => Either.right(payload), migrate)

// ---------------------------------------------------------------------------
// Chains
// ---------------------------------------------------------------------------

/**
 * Upcasters keyed by the version they start from: `{ 1: v1ToV2, 2: v2ToV3 }`.
 *
 * @since 0.1.0
 */
export interface Steps {
  readonly [fromVersion: number]: Step
}

/**
 * The versions of one event type name: the latest `version`, and the steps that lead to
 * it from older ones.
 *
 * @since 0.1.0
 */
export interface Chain {
  readonly type: string
  readonly version: number
  readonly steps: ReadonlyMap<number, Step>
}

const isVersion = (n: number): boolean => Number.isInteger(n) && n >= 1

/**
 * Builds the chain of event type `type`, whose latest version is `version`. A malformed
 * definition — a version that is not a positive integer, a step from a version outside
 * `1 … version - 1` — is a programming error and throws at once. A missing step is not:
 * it is reported as `MissingUpcaster` if an event at that version is ever read (and by the
 * law checker before that).
 *
 * @since 0.1.0
 */
export const chain = (type: string, version: number, steps: Steps = {}): Chain => {
  if (!isVersion(version)) throw new Error(`${type}: schema version must be a positive integer, got ${version}`)
  const byVersion = new Map<number, Step>()
  for (const [key, step] of Object.entries(steps)) {
    const from = Number(key)
    if (!isVersion(from) || from >= version) {
      throw new Error(`${type}: an upcaster from version ${key} cannot exist when the current version is ${version}`)
    }
    byVersion.set(from, step)
  }
  return { type, version, steps: byVersion }
}

/**
 * Brings `payload` from version `from` of `chain` (by default the event's stored schema
 * version) to `chain.version`. Pure: the payload is never modified, and the same input
 * always gives the same output.
 *
 * @since 0.1.0
 */
export const upcast = (
  chain: Chain,
  payload: Json,
  event: EventAt,
  from: number = event.schemaVersion
): Either.Either<UpcastError, Json> => {
  if (!isVersion(from)) {
    // NaN, 0, -1, 1.5: no version of ours, so no step leads out of it.
    return Either.left(
      new MissingUpcaster({ ...event, at: { type: chain.type, schemaVersion: from }, currentVersion: chain.version })
    )
  }
  if (from > chain.version) {
    return Either.left(new SchemaVersionTooNew({ ...event, currentVersion: chain.version }))
  }
  // Every step is looked up before any runs, so a gap is reported the same way whatever
  // the payload holds.
  const steps: Array<Step> = []
  for (let at = from; at < chain.version; at++) {
    const step = chain.steps.get(at)
    if (step === undefined) {
      return Either.left(
        new MissingUpcaster({ ...event, at: { type: chain.type, schemaVersion: at }, currentVersion: chain.version })
      )
    }
    steps.push(step)
  }
  let current = payload
  for (const [index, step] of steps.entries()) {
    const result = step.run(current)
    if (Either.isLeft(result)) {
      const at = { type: chain.type, schemaVersion: from + index }
      return Either.left(
        result.left._tag === "Rejected"
          ? new PayloadDecodeFailed({ ...event, at, issues: result.left.issues })
          : new UpcastFailed({ ...event, at, cause: result.left.cause })
      )
    }
    current = result.right
  }
  return Either.right(current)
}

// ---------------------------------------------------------------------------
// Renames
// ---------------------------------------------------------------------------

/**
 * How a former name of an event type is read: its own chain of versions (`from`, whose
 * type is the old name) up to its last version, whose payload is then taken as version
 * `into` of the new name and upcast along the new name's chain.
 *
 * @since 0.1.0
 */
export interface Rename {
  readonly from: Chain
  readonly into: number
}

/**
 * What a former name needs: its last version (default 1), the upcasters between its own
 * versions, and the version of the new name its last version's payload equals (default 1).
 * If the shape changed at the rename, add one more step to the old chain — a version of
 * the old name that was never stored — rather than giving the join a function.
 *
 * @since 0.1.0
 */
export interface RenameOptions {
  readonly version?: number
  readonly upcast?: Steps
  readonly into?: number
}

/**
 * Declares that events stored as `oldType` are now read as the type whose chain is `target`.
 *
 * @since 0.1.0
 */
export const rename = (oldType: string, target: Chain, options: RenameOptions = {}): Rename => {
  const into = options.into ?? 1
  if (!isVersion(into) || into > target.version) {
    throw new Error(`${oldType} → ${target.type}: cannot join at version ${into}; ${target.type} has versions 1 … ${target.version}`)
  }
  return { from: chain(oldType, options.version ?? 1, options.upcast ?? {}), into }
}

/**
 * Brings a payload stored under a former name to the current version of the new name.
 *
 * @since 0.1.0
 */
export const upcastRenamed = (
  rename: Rename,
  target: Chain,
  payload: Json,
  event: EventAt
): Either.Either<UpcastError, Json> => {
  const underOldName = upcast(rename.from, payload, event)
  return Either.isLeft(underOldName) ? underOldName : upcast(target, underOldName.right, event, rename.into)
}
