/**
 * The PostgreSQL event store: many application processes, on many machines, writing to
 * one database. Its own entry point, `es-kernel/postgres`, so that only applications that
 * use it need `@effect/sql-pg` (Effect's PostgreSQL client, an optional peer dependency).
 *
 * - **Schema.** The layer owns its schema (`options.schema`, default `es_kernel`): the
 *   table `es_events`, the key/value table `es_meta` (schema version, transaction-id
 *   offset) and the view `events`, the order-processing tutorial's table by its own column
 *   names (`aggregate_id`, `event_type`, `version`, `data`, `timestamp`). Versioned
 *   migrations run at start, in one transaction under an advisory lock, so processes that
 *   start together are safe. Several stores share a database under different schemas.
 * - **Payloads.** `data` and `metadata` are stored as `json`, the exact JSON text: key
 *   order, duplicate-free objects and strings containing U+0000 read back as appended
 *   (`jsonb` would reorder keys and refuse U+0000). `json` still supports `->` and `->>`.
 * - **Global order.** `position = (transaction id + offset) × 16384 + n`: events are
 *   numbered by the transaction that wrote them, with no sequence and no lock. Since
 *   transactions commit out of order, `readAll` and `subscribe` read only below a
 *   horizon under which no running writer of this table can add a row. A subscriber
 *   never skips an event that commits late, and never needs a timeout to give up on a gap.
 * - **Appends.** Concurrent appends in a process share one statement and one transaction
 *   (group commit), each keeping its own expected-version and idempotency outcome; a
 *   group the server aborts (a race with another process) is re-run one append at a time.
 * - **Wake-ups.** A commit wakes this process's subscribers at once and other processes'
 *   through a debounced `pg_notify` sent outside the append transaction; subscribers also
 *   poll (`pollInterval`) as a backstop.
 *
 * Limits: positions are exact numbers while the cluster's transaction ids (plus offset)
 * stay below 2^39, about 5.5 × 10^11 write transactions (the layer refuses to start past
 * it). An event of the contract's largest size needs a client whose `maxMessageSize` is
 * at least `maxRowBytes`. A transaction that holds this table's lock for long (an append statement
 * stuck behind a lock, a manual `INSERT` left open) holds subscribers back until it ends:
 * `lag` reports it. After a dump/restore into another cluster the layer refuses to start
 * with `PositionsWouldGoBackwards` until the offset is raised as its message says.
 *
 * @since 0.1.0
 */
import { Context, Duration, Effect, Layer, Redacted } from "effect"
import type { Scope } from "effect"
import * as PgClient from "@effect/sql-pg/PgClient"
import type { SqlError } from "effect/sql/SqlError"
import { EventStore, limits, StorageError } from "./EventStore.js"
import { migrate, PositionsWouldGoBackwards, SchemaTooNew } from "./internal/postgres/schema.js"
import { makeSnapshotStore } from "./internal/postgres/snapshots.js"
import { invalidSchemaName, statements } from "./internal/postgres/sql.js"
import { makeStore } from "./internal/postgres/store.js"
import type { Lag as StoreLag } from "./internal/postgres/store.js"
import { SnapshotStore } from "./SnapshotStore.js"

export {
  /**
   * @since 0.1.0
   */
  PositionsWouldGoBackwards,
  /**
   * @since 0.1.0
   */
  SchemaTooNew
}

/**
 * What subscribers cannot see yet: `horizon` (positions below it are final), `head` (the
 * highest committed position) and `heldBack` (committed events at or past the horizon,
 * waiting for the writers before them to finish).
 *
 * @since 0.1.0
 */
export type Lag = StoreLag

/**
 * The PostgreSQL store's own report, beside its `EventStore`.
 *
 * @since 0.1.0
 */
export class PostgresStore extends Context.Service<PostgresStore, {
  /** How far subscribers are held back right now. */
  readonly lag: Effect.Effect<Lag, StorageError>
  /** The schema the store lives in. */
  readonly schema: string
}>()("es-kernel/EventStorePostgres/PostgresStore") {}

/**
 * Options of the PostgreSQL layer. Give either `url` (the layer opens its own pool) or
 * `client` (an `@effect/sql-pg` client layer you configure, e.g. for TLS).
 *
 * - `schema`: where the store's tables live (default `es_kernel`); lower-case letters,
 *   digits and `_`.
 * - `maxConnections`: the pool size when the layer opens it from `url` (default 10).
 * - `lanes`: appends in flight at once, each a group on its own connection (default 2).
 * - `pollInterval`: how often an idle subscriber looks anyway (default 500 ms).
 * - `notifyDebounce`: the least time between two notifications to other processes
 *   (default 20 ms).
 *
 * @since 0.1.0
 */
export type PostgresStoreOptions =
  & (
    | { readonly url: string; readonly maxConnections?: number }
    | { readonly client: Layer.Layer<PgClient.PgClient, SqlError> }
  )
  & {
    readonly schema?: string
    readonly lanes?: number
    readonly pollInterval?: Duration.Input
    readonly notifyDebounce?: Duration.Input
  }

/**
 * The largest server message the layer's own client accepts: one row holding the
 * largest event the contract allows. A `client` you configure needs at least this as
 * its `maxMessageSize` to read such events back.
 *
 * @since 0.1.0
 */
export const maxRowBytes = 2 * limits.eventBytes + 1024 * 1024

const clientLayer = (options: PostgresStoreOptions): Layer.Layer<PgClient.PgClient, SqlError> =>
  "client" in options
    ? options.client
    : PgClient.layer({
      url: Redacted.make(options.url),
      maxConnections: options.maxConnections ?? 10,
      // One row can hold an event of up to `limits.eventBytes` of JSON, text-escaped.
      maxMessageSize: maxRowBytes
    })

/**
 * The PostgreSQL `EventStore`, and its `PostgresStore` report. Building the layer
 * connects, creates or migrates the schema and checks positions; closing its scope stops
 * the writers and the listener and, with `url`, closes the pool.
 *
 * @since 0.1.0
 */
export const layer = (
  options: PostgresStoreOptions
): Layer.Layer<EventStore | PostgresStore, StorageError | SchemaTooNew | PositionsWouldGoBackwards> => {
  const schema = options.schema ?? "es_kernel"
  const invalid = invalidSchemaName(schema)
  if (invalid !== undefined) return Layer.effectContext(Effect.fail(new StorageError({ reason: invalid })))
  const build = Effect.gen(function*() {
    const sql = yield* PgClient.PgClient
    const { store, lag } = yield* makeStore(sql, statements(schema), {
      lanes: Math.max(1, options.lanes ?? 2),
      poll: Duration.fromInputUnsafe(options.pollInterval ?? "500 millis"),
      notifyDebounce: Duration.fromInputUnsafe(options.notifyDebounce ?? "20 millis")
    })
    return Context.make(EventStore, store).pipe(Context.add(PostgresStore, PostgresStore.of({ lag, schema })))
  })
  return withClient(options, build)
}

/** A layer built by `build` over the client `options` describe; a failure to connect is a `StorageError`. */
const withClient = <A, E>(
  options: PostgresStoreOptions,
  build: Effect.Effect<Context.Context<A>, E, PgClient.PgClient | Scope.Scope>
): Layer.Layer<A, E | StorageError> =>
  Layer.effectContext(build).pipe(
    Layer.provide(
      clientLayer(options).pipe(
        Layer.catchTag("SqlError", (error) =>
          Layer.effectContext(Effect.fail(new StorageError({ reason: `connecting to PostgreSQL: ${error.message}`, cause: error }))))
      )
    )
  )

// ---------------------------------------------------------------------------
// Snapshots on PostgreSQL
// ---------------------------------------------------------------------------

/**
 * Options of the PostgreSQL snapshot store: how it connects (`url`, with
 * `maxConnections`, or `client`), and `schema`, the store's schema (default `es_kernel`).
 *
 * @since 0.2.0
 */
export type SnapshotStoreOptions =
  & (
    | { readonly url: string; readonly maxConnections?: number }
    | { readonly client: Layer.Layer<PgClient.PgClient, SqlError> }
  )
  & { readonly schema?: string }

/**
 * The PostgreSQL `SnapshotStore`: snapshots are rows of `es_snapshots` in the store's
 * schema (created or migrated at start, with the store's other tables), one per stream
 * and state version, the state kept as `json` (its exact text). A save is one upsert that
 * keeps the higher version, so processes racing on a stream never replace a newer
 * snapshot by an older one. A snapshot that cannot be read (the query failed) is a miss
 * with its reason, and the stream is replayed: a snapshot is a cache.
 *
 * With `url` the layer opens a pool of its own; pass the event store's `client` layer to
 * share one.
 *
 * @since 0.2.0
 */
export const layerSnapshots = (options: SnapshotStoreOptions): Layer.Layer<SnapshotStore, StorageError | SchemaTooNew> => {
  const schema = options.schema ?? "es_kernel"
  const invalid = invalidSchemaName(schema)
  if (invalid !== undefined) return Layer.effectContext(Effect.fail(new StorageError({ reason: invalid })))
  return withClient(
    options,
    Effect.gen(function*() {
      const sql = yield* PgClient.PgClient
      yield* migrate(sql, statements(schema))
      return Context.make(SnapshotStore, makeSnapshotStore(sql, schema))
    })
  )
}
