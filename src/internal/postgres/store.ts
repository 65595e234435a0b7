/**
 * The PostgreSQL `EventStore` service, assembled: schema at start, group-committed
 * appends, reads, wake-ups, and the lag report.
 *
 * @internal
 */
import { Effect, FiberSet, Stream } from "effect"
import type { Duration, Scope } from "effect"
import type { PgClient } from "@effect/sql-pg/PgClient"
import type { SqlError } from "effect/sql/SqlError"
import { EventIdConflict, EventStore, StorageError, WrongExpectedVersion } from "../../EventStore.js"
import type { AppendError, AppendResult, ExpectedVersion, NewEvent, Position } from "../../EventStore.js"
import { couldBeStored, encodeAppend, EventColumns } from "./checks.js"
import type { EncodedAppend } from "./checks.js"
import { GroupCommitter } from "./groupCommit.js"
import type { Outcome, RunGroup } from "./groupCommit.js"
import * as Reader from "./reader.js"
import type { ReaderContext } from "./reader.js"
import { judgeRetry } from "../contract.js"
import * as StoreProbe from "../storeProbe.js"
import { boolean, decode, integer, integerOrNull, recordedEvent, text } from "./rows.js"
import type { Row, UnexpectedColumn } from "./rows.js"
import { checkedOffset, migrate } from "./schema.js"
import type { PositionsWouldGoBackwards, SchemaTooNew } from "./schema.js"
import { indexBits, maxTransaction } from "./sql.js"
import type { Statements } from "./sql.js"
import { Wakeup } from "./wakeup.js"

/** How the store runs. */
export interface StoreSettings {
  readonly lanes: number
  readonly poll: Duration.Duration
  readonly notifyDebounce: Duration.Duration
}

/** What subscribers cannot see yet, and why. */
export interface Lag {
  /** Positions below this are final: no transaction can still add one. */
  readonly horizon: Position
  /** The highest committed position. */
  readonly head: Position
  /** Committed events at or past the horizon, held back until the writers before them finish. */
  readonly heldBack: number
  /** When the oldest of them was recorded (absent when none is held back). */
  readonly heldSince?: Date
}

/** The service and its lag report. */
export interface Store {
  readonly store: EventStore["Service"]
  readonly lag: Effect.Effect<Lag, StorageError>
}

const storage = (what: string) => (error: SqlError | UnexpectedColumn) =>
  new StorageError({ reason: `${what}: ${error.message}`, cause: error })

const expectedCode = (expected: ExpectedVersion): number =>
  expected === "any" ? -1 : expected === "streamExists" ? -2 : expected === "noStream" ? 0 : expected

const outcomeOf = (row: Row): Outcome => {
  const actual = integer(row, "actual")
  if (boolean(row, "recorded")) return { _tag: "IdsRecorded", actual }
  const lastPosition = integerOrNull(row, "last_position")
  return lastPosition === undefined ? { _tag: "WrongExpectedVersion", actual } : { _tag: "Appended", lastPosition, actual }
}

export const groupRunner = (sql: PgClient, statements: Statements, offset: number): RunGroup => (group) => {
  const appendIndex: Array<number> = []
  const streams: Array<string> = []
  const expected: Array<number> = []
  const recordedAt: Array<number> = []
  const eventAppend: Array<number> = []
  const ordinal: Array<number> = []
  const columns = new EventColumns()
  group.forEach(({ append, recordedAt: at }, index) => {
    appendIndex.push(index)
    streams.push(append.streamId)
    expected.push(expectedCode(append.expected))
    recordedAt.push(at)
    append.events.forEach((event, ord) => {
      eventAppend.push(index)
      ordinal.push(ord + 1)
      columns.push(event)
    })
  })
  return sql.unsafe<Row>(statements.append, [
    appendIndex,
    streams,
    expected,
    recordedAt,
    eventAppend,
    ordinal,
    columns.eventIds,
    columns.chosen,
    columns.types,
    columns.schemaVersions,
    columns.data,
    columns.metadata,
    BigInt(offset),
    columns.correlationIds
  ]).pipe(
    // A row the statement cannot have produced is a defect of this module, not a race.
    Effect.flatMap((rows) => Effect.orDie(decode(() => rows.map(outcomeOf))))
  )
}

/**
 * The wake-up signal, with its listener for other processes' notifications and its
 * debounced notifier for theirs, running in the scope.
 */
const startWakeups = (
  sql: PgClient,
  statements: Statements,
  settings: StoreSettings
): Effect.Effect<Wakeup, never, Scope.Scope> =>
  Effect.gen(function*() {
    const background = yield* FiberSet.make<void>()
    const runInBackground = yield* FiberSet.runtime(background)<never>()
    const wakeup = new Wakeup(
      settings.poll,
      settings.notifyDebounce,
      // NOTIFY gives its transaction an id, so it commits with a WAL flush like an append
      // would: asynchronous commit spares that flush (a lost notification costs a poll).
      Effect.ignore(sql.withTransaction(
        Effect.andThen(sql.unsafe(statements.asyncCommit), sql.unsafe(statements.notify, [statements.channel]))
      )),
      sql.unsafe<Row>(statements.listeners, [`LISTEN "${statements.channel}"`]).pipe(
        Effect.flatMap((rows) => decode(() => (rows[0] === undefined ? 2 : integer(rows[0], "listeners")))),
        Effect.orElseSucceed(() => 2)
      ),
      (effect) => {
        runInBackground(effect)
      }
    )
    // Other processes' commits. Without the listener (a lost connection) subscribers
    // still see them by polling.
    const notifications = yield* Effect.option(sql.listen(statements.channel))
    if (notifications._tag === "Some") {
      yield* Effect.forkScoped(
        Effect.ignore(Stream.runForEach(Stream.fromQueue(notifications.value), () => Effect.sync(wakeup.bump)))
      )
    }
    return wakeup
  })

/**
 * Migrates the schema, checks positions, starts the lanes and the listener, and returns
 * the service. Everything it starts stops with the scope.
 *
 * @internal
 */
export const makeStore = (
  sql: PgClient,
  statements: Statements,
  settings: StoreSettings
): Effect.Effect<Store, StorageError | SchemaTooNew | PositionsWouldGoBackwards, Scope.Scope> =>
  Effect.gen(function*() {
    yield* migrate(sql, statements)
    const offset = yield* checkedOffset(sql, statements)
    const wakeup = yield* startWakeups(sql, statements, settings)
    const committer = new GroupCommitter(groupRunner(sql, statements, offset), wakeup.committed)
    for (let lane = 0; lane < settings.lanes; lane++) yield* Effect.forkScoped(committer.lane)
    yield* Effect.addFinalizer(() => Effect.sync(() => committer.close()))

    const context: ReaderContext = { sql, statements, offset, wakeup }
    // The last transaction whose positions are still exact numbers, with room for a group.
    const lastSafePosition = (maxTransaction - 1) * 2 ** indexBits

    // Some of the append's chosen ids are recorded: the contract decides between a
    // faithful retry and a conflict, from the recorded events with those ids.
    const judgeRecorded = (append: EncodedAppend): Effect.Effect<AppendResult, AppendError> =>
      sql.unsafe<Row>(statements.recordedByIds, [append.events.filter((e) => e.chosen).map((e) => e.eventId)]).pipe(
        Effect.flatMap((rows) => decode(() => new Map(rows.map((row) => [text(row, "event_id"), recordedEvent(row)])))),
        Effect.mapError(storage("looking up recorded event ids")),
        Effect.flatMap((recorded) => {
          const judged = judgeRetry(append.prepared, append.events.map((e) => (e.chosen ? recorded.get(e.eventId) : undefined)))
          return judged instanceof EventIdConflict ? Effect.fail(judged) : Effect.succeed(judged)
        })
      )

    const append = (
      streamId: string,
      events: ReadonlyArray<NewEvent>,
      expected: ExpectedVersion = "any"
    ): Effect.Effect<AppendResult, AppendError> =>
      Effect.gen(function*() {
        const encoded = encodeAppend(streamId, events, expected)
        if (encoded instanceof Error) return yield* encoded
        const recordedAt = yield* Effect.clockWith((clock) => Effect.succeed(clock.currentTimeMillisUnsafe()))
        const outcome = yield* committer.submit({ append: encoded, recordedAt })
        switch (outcome._tag) {
          case "Appended": {
            if (outcome.lastPosition >= lastSafePosition) {
              return yield* new StorageError({
                reason: `position ${outcome.lastPosition} is past the last exact one (${lastSafePosition}); ` +
                  `the append was recorded, but move the store to a new schema`
              })
            }
            return { streamId, nextExpectedVersion: outcome.actual + encoded.events.length, position: outcome.lastPosition }
          }
          case "WrongExpectedVersion":
            return yield* new WrongExpectedVersion({ streamId, expected: encoded.expected, actual: outcome.actual })
          case "IdsRecorded":
            return yield* judgeRecorded(encoded)
        }
      })

    const streamVersion = (streamId: string): Effect.Effect<number, StorageError> =>
      !couldBeStored(streamId) ? Effect.succeed(0) : sql.unsafe<Row>(statements.streamVersion, [streamId]).pipe(
        Effect.flatMap((rows) =>
          decode(() => {
            const row = rows[0]
            return row === undefined ? 0 : integer(row, "version")
          })
        ),
        Effect.mapError(storage(`reading the version of stream ${streamId.slice(0, 80)}`))
      )

    const lag: Effect.Effect<Lag, StorageError> = Effect.gen(function*() {
      const horizon = yield* Reader.horizon(context)
      const firstHeld = BigInt(horizon + offset) << BigInt(indexBits)
      const rows = yield* sql.unsafe<Row>(statements.lag, [firstHeld]).pipe(Effect.mapError(storage("reading the lag")))
      const row = rows[0]
      if (row === undefined) return { horizon: Number(firstHeld), head: 0, heldBack: 0 }
      const [head, heldBack] = yield* decode(() => [integer(row, "head"), integer(row, "held_back")] as const).pipe(
        Effect.mapError(storage("reading the lag"))
      )
      const heldSince = row.held_since
      return { horizon: Number(firstHeld), head, heldBack, ...(heldSince instanceof Date ? { heldSince } : {}) }
    })

    const store = StoreProbe.attach(EventStore.of({
      append,
      readStream: (streamId, options) => Reader.readStream(context, streamId, options),
      readAll: (options) => Reader.readAll(context, options),
      subscribe: (options) => Reader.subscribe(context, options),
      streamVersion
    }), committer.probe)
    return { store, lag }
  })

