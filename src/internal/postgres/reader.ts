/**
 * Reading the PostgreSQL store: one stream by version, the global log below the horizon,
 * and subscriptions on top of the shared subscription loop.
 *
 * The global log is read only below the horizon (see `sql.ts`): positions above it may
 * still be filled in by a transaction that commits later. A `readAll` fixes its horizon
 * when it starts, so it sees the log as of then. A subscription gets its next horizon
 * with each page, from the same statement, and reads the following page with it: a
 * horizon only holds for statements that start after the one that computed it.
 *
 * @internal
 */
import { Array as Arr, Cause, Effect, Stream } from "effect"
import type { Pull } from "effect"
import type { SqlClient } from "effect/sql/SqlClient"
import type { SqlError } from "effect/sql/SqlError"
import { StorageError } from "../../EventStore.js"
import type {
  EventFilter,
  Position,
  ReadAllOptions,
  ReadError,
  ReadStreamOptions,
  RecordedEvent,
  SubscribeOptions
} from "../../EventStore.js"
import * as Subscription from "../subscription.js"
import { asOfMillis, checkReadAll, checkReadStream, checkSubscribe } from "../contract.js"
import { pageQuery } from "./checks.js"
import { decode, integer, integerOrNull, recordedEvent } from "./rows.js"
import type { Row, UnexpectedColumn } from "./rows.js"
import { indexBits } from "./sql.js"
import type { Statements } from "./sql.js"
import type { Wakeup } from "./wakeup.js"

/** Rows per page: large enough that round trips vanish, small enough that stopping early is cheap. */
const pageSize = 1000

const maxVersion = 2 ** 31 - 1

const storage = (what: string) => (error: SqlError | UnexpectedColumn) =>
  new StorageError({ reason: `${what}: ${error.message}`, cause: error })

/** What a reader needs. */
export interface ReaderContext {
  readonly sql: SqlClient
  readonly statements: Statements
  readonly offset: number
  readonly wakeup: Wakeup
}

/** The first position a transaction at `horizon` (offset not yet added) could take. */
const bound = (context: ReaderContext, horizon: number): bigint =>
  BigInt(horizon + context.offset) << BigInt(indexBits)

interface Page {
  readonly items: ReadonlyArray<RecordedEvent>
  /** How far the page looked: every position up to it is read, matching or not. */
  readonly scanned: number
  /** Whether positions below the bound are left to read. */
  readonly more: boolean
  readonly nextHorizon: number | undefined
}

// A page of the filtered log below `until`, the filter in SQL: its indexes find the
// matching rows. A full page may have more after it; a short one read everything below
// `until`.
const readPage = (
  context: ReaderContext,
  live: boolean,
  after: Position,
  until: bigint,
  filter: EventFilter | undefined
): Effect.Effect<Page, StorageError> => {
  const { shape, parameters } = pageQuery(filter)
  const statement = context.statements.history.page(shape, live)
  return context.sql.unsafe<Row>(statement, [BigInt(after), until, pageSize, ...parameters]).pipe(
    Effect.flatMap((rows) =>
      decode((): Page => {
        const first = rows[0]
        const items = rows.flatMap((row) => (row.position === null || row.position === undefined ? [] : [recordedEvent(row)]))
        const last = items[items.length - 1]
        const more = items.length >= pageSize
        return {
          items,
          more,
          scanned: more && last !== undefined ? last.position : Math.max(after, Number(until) - 1),
          nextHorizon: live && first !== undefined ? integerOrNull(first, "next_horizon") : undefined
        }
      })
    ),
    Effect.mapError(storage("reading the global log"))
  )
}

/**
 * The horizon as of now: valid for statements that start after it returns.
 *
 * @internal
 */
export const horizon = (context: ReaderContext): Effect.Effect<number, StorageError> =>
  context.sql.unsafe<Row>(context.statements.horizon).pipe(
    Effect.flatMap((rows) =>
      decode(() => {
        const row = rows[0]
        return row === undefined ? 0 : integer(row, "horizon")
      })
    ),
    Effect.mapError(storage("reading the horizon"))
  )

/**
 * One stream, in pages by version.
 *
 * @internal
 */
export const readStream = (
  context: ReaderContext,
  streamId: string,
  options: ReadStreamOptions = {}
): Stream.Stream<RecordedEvent, ReadError> => {
  const invalid = checkReadStream(streamId, options)
  if (invalid !== undefined) return Stream.fail(invalid)
  const forward = (options.direction ?? "forward") === "forward"
  const asOf = asOfMillis(options)
  const { statements } = context
  const statement = asOf === undefined
    ? (forward ? statements.readStreamForward : statements.readStreamBackward)
    : (forward ? statements.history.readStreamForwardAsOf : statements.history.readStreamBackwardAsOf)
  const asOfParameter = asOf === undefined ? [] : [asOf]
  const clamp = (version: number) => Math.min(version, maxVersion)
  return Stream.fromPull(Effect.sync(() => {
    let next = forward ? Math.max(options.from ?? 1, 1) : clamp(options.from ?? maxVersion)
    const end = forward ? clamp(options.to ?? maxVersion) : Math.max(options.to ?? 1, 1)
    let remaining = options.limit ?? Number.POSITIVE_INFINITY
    let finished = false
    const pull: Pull.Pull<Arr.NonEmptyReadonlyArray<RecordedEvent>, ReadError> = Effect.suspend(() => {
      if (finished || remaining <= 0 || (forward ? next > end : next < end) || next > maxVersion) return Cause.done()
      const wanted = Math.min(pageSize, remaining)
      return context.sql.unsafe<Row>(statement, [streamId, next, end, wanted, ...asOfParameter]).pipe(
        Effect.flatMap((rows) => decode(() => rows.map(recordedEvent))),
        Effect.mapError(storage(`reading stream ${streamId.slice(0, 80)}`)),
        Effect.flatMap((events) => {
          const last = events[events.length - 1]
          finished = events.length < wanted || last === undefined
          remaining -= events.length
          if (last !== undefined) next = forward ? last.version + 1 : last.version - 1
          return Arr.isReadonlyArrayNonEmpty(events) ? Effect.succeed(events) : Cause.done()
        })
      )
    })
    return pull
  }))
}

/**
 * The global log as of when the read starts, after the checkpoint `from`.
 *
 * @internal
 */
export const readAll = (context: ReaderContext, options: ReadAllOptions = {}): Stream.Stream<RecordedEvent, ReadError> => {
  const invalid = checkReadAll(options)
  if (invalid !== undefined) return Stream.fail(invalid)
  return Stream.fromPull(Effect.map(horizon(context), (fixed) => {
    const until = bound(context, fixed)
    let checkpoint = options.from ?? 0
    let remaining = options.limit ?? Number.POSITIVE_INFINITY
    const pull: Pull.Pull<Arr.NonEmptyReadonlyArray<RecordedEvent>, ReadError> = Effect.suspend(() => {
      if (remaining <= 0) return Cause.done()
      return Effect.flatMap(readPage(context, false, checkpoint, until, options.filter), (page) => {
        checkpoint = page.scanned
        const items = page.items.length > remaining ? page.items.slice(0, remaining) : page.items
        remaining -= items.length
        if (!page.more) remaining = 0
        return Arr.isReadonlyArrayNonEmpty(items) ? Effect.succeed(items) : Cause.done()
      })
    })
    return pull
  }))
}

/**
 * Catch-up then live, from the checkpoint `from`.
 *
 * @internal
 */
export const subscribe = (
  context: ReaderContext,
  options: SubscribeOptions = {}
): Stream.Stream<RecordedEvent, ReadError> => {
  const invalid = checkSubscribe(options)
  if (invalid !== undefined) return Stream.fail(invalid)
  return Stream.suspend(() => subscribeFrom(context, options))
}

// One run of a subscription, with its own state.
const subscribeFrom = (context: ReaderContext, options: SubscribeOptions): Stream.Stream<RecordedEvent, ReadError> => {
  // The horizon the next page reads below, and the wake-up generation noted before the
  // statement that computed it: a commit after that note may sit above the horizon.
  let current: { readonly horizon: number; readonly generation: number } | undefined
  // The generation that goes with the horizon the last page used.
  let used = 0
  const next = (): Effect.Effect<{ readonly horizon: number; readonly generation: number }, StorageError> => {
    if (current !== undefined) return Effect.succeed(current)
    const generation = context.wakeup.current
    return Effect.map(horizon(context), (value) => ({ horizon: value, generation }))
  }
  return Subscription.subscribe(options.from ?? 0, {
    readPage: (after) =>
      Effect.flatMap(next(), (using) => {
        const generation = context.wakeup.current
        return Effect.map(
          readPage(context, true, after, bound(context, using.horizon), options.filter),
          (page): Subscription.Page<RecordedEvent> => {
            used = using.generation
            current = page.nextHorizon === undefined ? undefined : { horizon: page.nextHorizon, generation }
            return { items: page.items, next: page.scanned }
          }
        )
      }),
    awaitBeyond: () => context.wakeup.awaitChange(used)
  })
}
