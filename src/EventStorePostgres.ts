/**
 * The PostgreSQL event store: many application processes, on many machines, writing to
 * one database. Its own entry point, `es-kernel/postgres`, so that only applications that
 * use it need `@effect/sql-pg` (Effect's PostgreSQL client, an optional peer dependency).
 *
 * - **Schema.** The layer owns its schema (`options.schema`, default `es_kernel`): the
 *   table `es_events`, the key/value table `es_meta` (schema version, transaction-id
 *   offset) and the view `events`, the events under the column names an event table often
 *   has (`aggregate_id`, `event_type`, `version`, `data`, `timestamp`). Versioned
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
import { Clock, Context, Duration, Effect, Layer, Redacted } from "effect"
import type { Scope } from "effect"
import * as PgClient from "@effect/sql-pg/PgClient"
import * as SqlClient from "effect/sql/SqlClient"
import type { SqlError } from "effect/sql/SqlError"
import { CheckpointStore } from "./CheckpointStore.js"
import type { Position, ReadError } from "./EventStore.js"
import { EventStore, limits, StorageError } from "./EventStore.js"
import { makeCheckpointStore } from "./internal/postgres/checkpoints.js"
import { migrate, PositionsWouldGoBackwards, SchemaTooNew } from "./internal/postgres/schema.js"
import { makeSnapshotStore } from "./internal/postgres/snapshots.js"
import type { Running, Status } from "./Projector.js"
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
 * highest committed position), `heldBack` (committed events at or past the horizon,
 * waiting for the writers before them to finish) and `heldSince` (when the oldest of
 * those was recorded).
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
  & Connection
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

/**
 * How a layer reaches PostgreSQL: a `url` (it opens its own pool of `maxConnections`,
 * default 10) or a `client` layer you configure.
 *
 * @since 0.2.0
 */
export type Connection =
  | { readonly url: string; readonly maxConnections?: number }
  | { readonly client: Layer.Layer<PgClient.PgClient, SqlError> }

const clientLayer = (options: Connection): Layer.Layer<PgClient.PgClient, SqlError> =>
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
  options: Connection,
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
export type SnapshotStoreOptions = Connection & { readonly schema?: string }

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
  return inSchema(options, (sql, schema) => Context.make(SnapshotStore, makeSnapshotStore(sql, schema)))
}

/**
 * A layer of a service that lives in the store's schema: checks the schema name,
 * connects, creates or migrates the schema, then builds the service's context.
 */
const inSchema = <A>(
  options: Connection & { readonly schema?: string },
  make: (sql: PgClient.PgClient, schema: string) => Context.Context<A>
): Layer.Layer<A, StorageError | SchemaTooNew> => {
  const schema = options.schema ?? "es_kernel"
  const invalid = invalidSchemaName(schema)
  if (invalid !== undefined) return Layer.effectContext(Effect.fail(new StorageError({ reason: invalid })))
  return withClient(
    options,
    Effect.gen(function*() {
      const sql = yield* PgClient.PgClient
      yield* migrate(sql, statements(schema))
      return make(sql, schema)
    })
  )
}

// ---------------------------------------------------------------------------
// Projections on PostgreSQL
// ---------------------------------------------------------------------------

/**
 * Options of the PostgreSQL checkpoint store: how it connects (`url` or `client`), and
 * `schema`, the store's schema (default `es_kernel`), where its tables are created.
 *
 * @since 0.2.0
 */
export type CheckpointStoreOptions = Connection & { readonly schema?: string }

/**
 * The PostgreSQL `CheckpointStore`, with its client: the layer provides the
 * `CheckpointStore` and the `SqlClient` / `PgClient` it writes through.
 *
 * - **Checkpoints** are rows of `es_checkpoints` in the store's schema (created or
 *   migrated at start, like the store's tables); active versions are rows of
 *   `es_projection_versions`. A view's state is saved in the row with its position.
 * - **Exactly once.** The runner applies each batch of a handler projection and saves its
 *   checkpoint in one transaction on this client. A handler that writes its read model
 *   through the `SqlClient` this layer provides (`yield* SqlClient.SqlClient`) commits
 *   those writes with the checkpoint, or rolls both back: after a crash every event is
 *   applied exactly once. Writes elsewhere (another client, a file, a remote call) stay
 *   at least once.
 * - **One live runner** per projection across processes and machines: a runner holds a
 *   session-level advisory lock on a connection reserved from the pool for its lifetime
 *   (so the pool needs a connection per running projection, plus one per batch in
 *   flight). The server releases it when the connection ends, however the process dies.
 *   A second runner fails with `ProjectionAlreadyRunning`, naming the holder's process.
 *   Each save also checks a fencing token written at claim time, so a runner that lost its
 *   lock connection cannot commit after another one took over.
 *
 * Not through PgBouncer or RDS Proxy in transaction mode: a session-level lock needs a
 * session of its own.
 *
 * @since 0.2.0
 */
export const layerCheckpoints = (
  options: CheckpointStoreOptions
): Layer.Layer<CheckpointStore | SqlClient.SqlClient | PgClient.PgClient, StorageError | SchemaTooNew> =>
  inSchema(options, (sql, schema) =>
    Context.make(CheckpointStore, makeCheckpointStore(sql, schema)).pipe(
      Context.add(PgClient.PgClient, sql),
      Context.add(SqlClient.SqlClient, sql)
    ))

/**
 * A projection's status on PostgreSQL: `Projector.Status` (`behind` and `lagMs` count the
 * events the runner can see and has not applied), plus what the store's horizon still
 * hides from every subscriber:
 *
 * - `committedHead`: the highest committed position, visible or not (`head` is the
 *   highest visible one);
 * - `heldBack`: committed events at or past the horizon, of any type, waiting for an
 *   older write transaction to end;
 * - `heldBackMs`: how long ago the oldest of them was recorded (0 when none is).
 *
 * Positions are transaction ids times 2^14 plus an index, so subtracting two of them
 * says nothing about how many events lie between: use `behind` and `heldBack`.
 *
 * @since 0.2.0
 */
export interface ProjectionStatus extends Status {
  readonly horizon: Position
  readonly committedHead: Position
  readonly heldBack: number
  readonly heldBackMs: number
}

/**
 * The status of a running projection over the PostgreSQL store, with the store's horizon.
 *
 * @since 0.2.0
 */
export const projectionStatus = <S>(
  running: Running<S>
): Effect.Effect<ProjectionStatus, ReadError | StorageError, PostgresStore> =>
  Effect.gen(function*() {
    const lag = yield* (yield* PostgresStore).lag
    const status = yield* running.status
    const now = yield* Clock.currentTimeMillis
    return {
      ...status,
      horizon: lag.horizon,
      committedHead: Math.max(lag.head, status.head),
      heldBack: lag.heldBack,
      heldBackMs: lag.heldSince === undefined ? 0 : Math.max(0, now - lag.heldSince.getTime())
    }
  })
