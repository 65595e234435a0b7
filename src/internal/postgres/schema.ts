/**
 * The store's schema, owned by the layer: created and migrated at start, and checked
 * against the server's transaction ids before the first append.
 *
 * Migrations run in one transaction under an advisory lock keyed by the schema name, so
 * processes that start at once wait for each other and exactly one of them migrates;
 * the others find the schema at its version and carry on. A start that finds the schema
 * current creates and alters nothing, so a role without CREATE privileges can run it.
 *
 * @internal
 */
import { Data, Effect } from "effect"
import type { SqlClient } from "effect/sql/SqlClient"
import type { SqlError } from "effect/sql/SqlError"
import { StorageError } from "../../EventStore.js"
import type { Metadata } from "../../EventStore.js"
import { boolean, decode, integer, text } from "./rows.js"
import type { Row, UnexpectedColumn } from "./rows.js"
import { correlationKey } from "./checks.js"
import { historyVersion, maxTransaction, schemaVersion } from "./sql.js"
import type { Statements } from "./sql.js"

/**
 * The store's last position belongs to a transaction id this server has not reached: the
 * database was restored into another cluster (dump/restore, logical replication), whose
 * transaction ids start lower. New appends would get lower positions than recorded ones,
 * and subscribers resuming from a checkpoint would skip them, so the layer refuses to
 * start. Raise the store's offset as the message says, then start again.
 *
 * @internal
 */
export class PositionsWouldGoBackwards extends Data.TaggedError("PositionsWouldGoBackwards")<{
  readonly schema: string
  readonly lastTransaction: number
  readonly nextTransaction: number
  readonly offset: number
}> {
  override get message(): string {
    const offset = this.lastTransaction - this.nextTransaction + 1
    return `schema ${this.schema}: the last recorded position belongs to transaction ${this.lastTransaction}, ` +
      `but this server's next transaction id plus the store's offset is ${this.nextTransaction + this.offset}; ` +
      `after a restore into a new cluster run UPDATE "${this.schema}".es_meta SET value = ${offset} WHERE key = 'xid_offset' ` +
      `(or any larger value), then start again`
  }
}

/**
 * The schema was migrated by a newer es-kernel than this one.
 *
 * @internal
 */
export class SchemaTooNew extends Data.TaggedError("SchemaTooNew")<{
  readonly schema: string
  readonly found: number
  readonly supported: number
}> {
  override get message(): string {
    return `schema ${this.schema} is at version ${this.found}, this es-kernel knows versions up to ${this.supported}: upgrade es-kernel`
  }
}

const storage = (what: string) => (error: SqlError | UnexpectedColumn) =>
  new StorageError({ reason: `${what}: ${error.message}`, cause: error })

const firstInteger = (rows: ReadonlyArray<Row>, column: string): number | undefined => {
  const row = rows[0]
  return row === undefined ? undefined : integer(row, column)
}

const readInteger = (sql: SqlClient, statement: string, column: string) =>
  Effect.flatMap(sql.unsafe<Row>(statement), (rows) => decode(() => firstInteger(rows, column)))

const isMetadata = (value: unknown): value is Metadata => typeof value === "object" && value !== null && !Array.isArray(value)

// Fills in `correlation_id` for the rows recorded before the column existed, computed
// from the metadata exactly as an append computes it (in JavaScript: PostgreSQL cannot
// take apart a `json` value holding U+0000 or a lone surrogate).
const backfillCorrelation = (sql: SqlClient, statements: Statements) =>
  Effect.gen(function*() {
    let after = 0n
    for (;;) {
      const rows = yield* sql.unsafe<Row>(statements.history.correlationBackfill, [after, 1000]).unprepared
      const last = rows[rows.length - 1]
      if (last === undefined) return
      const positions: Array<bigint> = []
      const keys: Array<string> = []
      for (const row of rows) {
        const metadata: unknown = JSON.parse(yield* decode(() => text(row, "metadata")))
        const key = isMetadata(metadata) ? correlationKey(metadata) : null
        if (key === null) continue
        positions.push(BigInt(yield* decode(() => integer(row, "position"))))
        keys.push(key)
      }
      if (positions.length > 0) yield* sql.unsafe(statements.history.setCorrelation, [positions, keys]).unprepared
      after = BigInt(yield* decode(() => integer(last, "position")))
    }
  })

/**
 * Creates or migrates the schema to the version this module's statements expect.
 *
 * @internal
 */
export const migrate = (sql: SqlClient, statements: Statements): Effect.Effect<void, StorageError | SchemaTooNew> =>
  sql.withTransaction(Effect.gen(function*() {
    yield* sql.unsafe("SELECT pg_advisory_xact_lock(hashtext($1))", [statements.lockKey]).unprepared
    const present = yield* Effect.flatMap(sql.unsafe<Row>(statements.metaExists), (rows) => decode(() => rows[0] !== undefined && boolean(rows[0], "present")))
    if (!present) for (const statement of statements.createMeta.split(";")) yield* sql.unsafe(statement).unprepared
    const found = (yield* readInteger(sql, statements.readSchemaVersion, "value")) ?? 0
    if (found > schemaVersion) {
      return yield* new SchemaTooNew({ schema: statements.schema, found, supported: schemaVersion })
    }
    for (let version = found; version < schemaVersion; version++) {
      for (const statement of statements.migrations[version] ?? []) yield* sql.unsafe(statement).unprepared
      if (version + 1 === historyVersion && found > 0) yield* backfillCorrelation(sql, statements)
    }
    if (found < schemaVersion) yield* sql.unsafe(statements.writeSchemaVersion, [schemaVersion]).unprepared
  })).pipe(
    Effect.catchTags({
      SqlError: storage(`migrating schema ${statements.schema}`),
      UnexpectedColumn: storage(`reading schema ${statements.schema}'s version`)
    })
  )

/**
 * The store's xid offset, after checking that new positions will follow the recorded ones
 * and stay exact as numbers.
 *
 * @internal
 */
export const checkedOffset = (
  sql: SqlClient,
  statements: Statements
): Effect.Effect<number, StorageError | PositionsWouldGoBackwards> =>
  Effect.gen(function*() {
    const offset = (yield* readInteger(sql, statements.readOffset, "value")) ?? 0
    const rows = yield* sql.unsafe<Row>(statements.checkOffset)
    const row = rows[0]
    if (row === undefined) return yield* new StorageError({ reason: "the offset check returned no row" })
    const [lastTransaction, nextTransaction] = yield* decode(() =>
      [integer(row, "last_transaction"), integer(row, "next_xid")] as const
    )
    if (lastTransaction >= nextTransaction + offset) {
      return yield* new PositionsWouldGoBackwards({ schema: statements.schema, lastTransaction, nextTransaction, offset })
    }
    if (nextTransaction + offset >= maxTransaction) {
      return yield* new StorageError({
        reason: `schema ${statements.schema}: transaction ids have reached ${nextTransaction + offset}, ` +
          `past which positions are no longer exact numbers (${maxTransaction}); move the store to a new schema`
      })
    }
    return offset
  }).pipe(
    Effect.catchTags({
      SqlError: storage(`checking schema ${statements.schema}'s positions`),
      UnexpectedColumn: storage(`checking schema ${statements.schema}'s positions`)
    })
  )
