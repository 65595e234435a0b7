/**
 * Every SQL statement of the PostgreSQL layer, and nothing else. Values always travel as
 * parameters; the only text spliced into a statement is the store's schema name, checked
 * against `schemaName` and quoted. Keeping the SQL here means another driver can replace
 * `@effect/sql-pg` by rewriting one module's callers, not hunting for strings.
 *
 * Positions: `position = (xid + xid_offset) × 2^14 + n`, where `xid` is the appending
 * transaction's 64-bit id and `n` (1 … 16,383) the event's place in that transaction. The
 * order of transaction ids is the order in which transactions *started* writing, not the
 * order they commit, so readers only read below a horizon that no running writer of this
 * table can still fill in (`horizon` below).
 *
 * @internal
 */

/** Bits of a position that number the events of one transaction. */
export const indexBits = 14

/**
 * The most events one transaction (an append, or a group of appends) may record; above
 * the contract's largest batch (`limits.batchEvents`), so any valid append fits.
 */
export const maxEventsPerTransaction = 2 ** indexBits - 1

/** Transaction ids (plus offset) at or past this no longer give exact `number` positions. */
export const maxTransaction = 2 ** (53 - indexBits)

/** The migrations' version when the schema matches this module's statements. */
export const schemaVersion = 4

const identifier = /^[a-z_][a-z0-9_]{0,62}$/

/**
 * Why `name` cannot be a schema name (lower-case letters, digits and `_`, starting with a
 * letter or `_`, at most 63 characters), or `undefined` when it can.
 *
 * @internal
 */
export const invalidSchemaName = (name: string): string | undefined =>
  identifier.test(name) ? undefined : `schema must match ${identifier.source}, got ${JSON.stringify(name.slice(0, 70))}`

/** The statements of one store, bound to its schema. */
export interface Statements {
  readonly schema: string
  readonly lockKey: string
  readonly migrations: ReadonlyArray<ReadonlyArray<string>>
  readonly createMeta: string
  readonly readSchemaVersion: string
  readonly metaExists: string
  readonly writeSchemaVersion: string
  readonly readOffset: string
  readonly checkOffset: string
  readonly append: string
  readonly recordedByIds: string
  readonly readStreamForward: string
  readonly readStreamBackward: string
  readonly streamVersion: string
  readonly horizon: string
  readonly lag: string
  readonly notify: string
  readonly asyncCommit: string
  readonly listeners: string
  readonly channel: string
  readonly history: HistoryStatements
}

/**
 * The statements for the store in `schema` (already checked by `invalidSchemaName`).
 *
 * @internal
 */
export const statements = (schema: string): Statements => {
  const s = `"${schema}"`
  const events = `${s}.es_events`
  // The horizon: no transaction below it can still add a row to this table. A writer holds
  // RowExclusiveLock on the table from before it takes its transaction id (the INSERT
  // locks the table when it is planned; `pg_current_xact_id()` runs during execution)
  // until after its commit is visible. So at the moment pg_locks is read, every
  // transaction that may still write here either holds the lock (its id is taken into
  // account, widened from pg_locks' 32 bits against this statement's 64-bit xmax), or will
  // take its id after this statement started (at or past xmax). A transaction below the
  // result that is not a holder has finished, so its rows are visible to any statement
  // that starts after this one. Unrelated transactions, in this database or another, do
  // not hold the horizon back. The result is only valid for statements that start later.
  const horizon = `
    WITH snap AS (SELECT pg_snapshot_xmax(pg_current_snapshot())::text::bigint AS xmax),
    locks AS MATERIALIZED (
      SELECT locktype, relation, database, virtualtransaction, transactionid FROM pg_locks
      WHERE locktype = 'transactionid'
         OR (locktype = 'relation' AND relation = '${events}'::regclass
             AND database = (SELECT oid FROM pg_database WHERE datname = current_database()))
    ),
    writers AS (
      SELECT ((snap.xmax % 4294967296) - t.transactionid::text::bigint + 4294967296) % 4294967296 AS behind
      FROM locks r JOIN locks t ON t.virtualtransaction = r.virtualtransaction AND t.locktype = 'transactionid'
      CROSS JOIN snap
      WHERE r.locktype = 'relation'
    )
    SELECT (SELECT xmax FROM snap) - COALESCE((SELECT max(behind) FROM writers WHERE behind < 2147483648), 0) AS horizon`
  const columns = `position, stream_id, version, event_id, type, schema_version, data, metadata, recorded_at`
  return {
    schema,
    lockKey: `es-kernel:${schema}`,
    createMeta: `
      CREATE SCHEMA IF NOT EXISTS ${s};
      CREATE TABLE IF NOT EXISTS ${s}.es_meta (key text PRIMARY KEY, value bigint NOT NULL)`,
    readSchemaVersion: `SELECT value FROM ${s}.es_meta WHERE key = 'schema_version'`,
    // Whether the schema was created already: then a start that finds it current creates
    // nothing, and needs no CREATE privilege on the database or the schema.
    metaExists: `SELECT to_regclass('${s}.es_meta') IS NOT NULL AS present`,
    writeSchemaVersion: `
      INSERT INTO ${s}.es_meta (key, value) VALUES ('schema_version', $1)
      ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value`,
    // Index i holds the statements that take the schema from version i to i + 1.
    migrations: [[
      `CREATE TABLE ${events} (
        position       bigint      PRIMARY KEY,
        stream_id      text        NOT NULL,
        version        integer     NOT NULL,
        event_id       text        NOT NULL,
        type           text        NOT NULL,
        schema_version integer     NOT NULL,
        data           json        NOT NULL,
        metadata       json        NOT NULL,
        recorded_at    timestamptz NOT NULL,
        CONSTRAINT es_events_stream_version UNIQUE (stream_id, version),
        CONSTRAINT es_events_event_id UNIQUE (event_id)
      )`,
      `INSERT INTO ${s}.es_meta (key, value) VALUES ('xid_offset', 0) ON CONFLICT (key) DO NOTHING`,
      // The events under the column names an event table often has (aggregate_id, event_type, timestamp).
      `CREATE VIEW ${s}.events AS
        SELECT stream_id AS aggregate_id, type AS event_type, version, data, metadata,
               recorded_at AS "timestamp", position, event_id, schema_version
        FROM ${events}`,
      `COMMENT ON VIEW ${s}.events IS 'es-kernel events, one row per event: SELECT event_type, version, data, timestamp FROM events WHERE aggregate_id = ''...'' ORDER BY version'`
    ], snapshotTables(s), checkpointTables(s), historyMigration(s, events)],
    readOffset: `SELECT value FROM ${s}.es_meta WHERE key = 'xid_offset'`,
    // The last recorded transaction (offset included) against the next one this server
    // will hand out: after a dump/restore into a new cluster the second can be lower.
    checkOffset: `
      SELECT COALESCE((SELECT max(position) FROM ${events}) >> ${indexBits}, 0) AS last_transaction,
             pg_snapshot_xmax(pg_current_snapshot())::text::bigint AS next_xid`,
    append: appendStatement(s, events),
    recordedByIds: `SELECT ${columns} FROM ${events} WHERE event_id = ANY($1::text[])`,
    readStreamForward: `
      SELECT ${columns} FROM ${events}
      WHERE stream_id = $1 AND version >= $2 AND version <= $3 ORDER BY version LIMIT $4`,
    readStreamBackward: `
      SELECT ${columns} FROM ${events}
      WHERE stream_id = $1 AND version <= $2 AND version >= $3 ORDER BY version DESC LIMIT $4`,
    streamVersion: `SELECT COALESCE(max(version), 0) AS version FROM ${events} WHERE stream_id = $1`,
    horizon,
    // What a subscriber cannot see yet: committed events at or past a horizon read before.
    lag: `
      SELECT (SELECT COALESCE(max(position), 0) FROM ${events}) AS head,
             (SELECT count(*) FROM ${events} WHERE position >= $1) AS held_back,
             (SELECT min(recorded_at) FROM ${events} WHERE position >= $1) AS held_since`,
    notify: `SELECT pg_notify($1, '')`,
    asyncCommit: `SET LOCAL synchronous_commit = off`,
    // A listening connection's last statement is its LISTEN. Sessions of other roles show
    // no query text without pg_read_all_stats, and are not counted.
    listeners: `SELECT count(*) AS listeners FROM pg_stat_activity WHERE datname = current_database() AND query = $1`,
    channel: `es_kernel_${schema}`.slice(0, 63),
    history: historyStatements(schema, columns, horizon)
  }
}

/**
 * One group of appends, one statement, one transaction. `$1`–`$4` describe the appends
 * (index, stream, expected version: -1 any, -2 stream exists, n exact; recorded at,
 * epoch ms), `$5`–`$12` and `$14` their events (`$14`: correlation keys, '' for none),
 * `$13` is the xid offset. The transaction id and the recording time come from
 * `es_stamp` (see `historyMigration`), which hands them out together, so recording times
 * follow positions. Only caller-chosen ids are looked up: a generated id is new
 * (`generatedEventId`). Each append is checked by itself: a wrong expected version or an event id
 * already recorded leaves that append out (its row says why), and the others go in. The
 * recorded ids are found with one join for the whole group, not one scan per append.
 * Rows are inserted in stream order so that two groups racing on the same streams wait
 * for each other instead of deadlocking.
 */
const appendStatement = (s: string, events: string): string => `
      WITH a AS (
        SELECT * FROM unnest($1::int[], $2::text[], $3::int[], $4::float8[]) AS a(i, stream_id, expected, at)
      ),
      ev AS (
        SELECT * FROM unnest($5::int[], $6::int[], $7::text[], $8::bool[], $9::text[], $10::int[], $11::text[], $12::text[], $14::text[])
          AS ev(i, ord, event_id, chosen, type, schema_version, data, metadata, correlation_id)
      ),
      recorded AS (
        SELECT DISTINCT ev.i FROM ev JOIN ${events} e ON e.event_id = ev.event_id WHERE ev.chosen
      ),
      cur AS (
        SELECT a.*,
          COALESCE((SELECT max(e.version) FROM ${events} e WHERE e.stream_id = a.stream_id), 0) AS actual,
          a.i IN (SELECT i FROM recorded) AS recorded
        FROM a
      ),
      ok AS (
        SELECT * FROM cur
        WHERE NOT recorded AND (expected = -1 OR (expected = -2 AND actual > 0) OR actual = expected)
      ),
      stamp AS MATERIALIZED (SELECT * FROM ${s}.es_stamp((SELECT max(at) FROM ok))),
      ins AS (
        INSERT INTO ${events} (position, stream_id, version, event_id, type, schema_version, data, metadata, recorded_at, correlation_id)
        SELECT ((stamp.xid + $13) << ${indexBits}) + row_number() OVER (ORDER BY ok.stream_id, ev.ord),
               ok.stream_id, ok.actual + ev.ord, ev.event_id, ev.type, ev.schema_version, ev.data::json, ev.metadata::json,
               stamp.recorded_at, NULLIF(ev.correlation_id, '')
        FROM ev JOIN ok ON ok.i = ev.i CROSS JOIN stamp
        ORDER BY ok.stream_id, ev.ord
        RETURNING position, stream_id
      )
      SELECT cur.i, cur.actual, cur.recorded, p.last_position
      FROM cur LEFT JOIN (SELECT stream_id, max(position) AS last_position FROM ins GROUP BY stream_id) p
        ON p.stream_id = cur.stream_id
      ORDER BY cur.i`

// ---------------------------------------------------------------------------
// History queries: filters pushed into SQL, time travel, recording times that follow
// positions
// ---------------------------------------------------------------------------

/** The schema version whose migration is `historyMigration`: upgrading past it fills in `correlation_id`. */
export const historyVersion = 4

/** The last position type's largest value: "no bound". */
const noPosition = "9223372036854775807"

/** An epoch-milliseconds parameter as a `timestamptz`, exactly (no float seconds). */
const millis = (parameter: string) => `('epoch'::timestamptz + ${parameter}::float8 * interval '1 millisecond')`

/**
 * The schema change that serves history queries, migration 4 of the store's schema:
 *
 * - `correlation_id`: the event's `metadata.correlationId` as JSON text (`"r-1"`, quotes
 *   and escapes included), written by the append from the same JSON the metadata is
 *   written from. JSON text, because a correlation id may hold U+0000 or a lone
 *   surrogate, which PostgreSQL text cannot, and because PostgreSQL refuses to take
 *   such a `json` value apart, so no expression over `metadata` could index it. Existing
 *   rows are filled in by the migration (`correlationBackfill`).
 * - indexes: `(type, position)`, `(category, position)` with the category as
 *   `split_part(stream_id, '-', 1)`, a hash index on `correlation_id` (any length, where
 *   a B-tree entry is limited to a third of a page), and `(recorded_at, position)`.
 * - `es_clock` and `es_stamp`: every append transaction takes its transaction id (which
 *   orders positions) and its recording time together, under a session advisory lock
 *   held only for that moment, with the time the later of the client's clock and the
 *   last time handed out (kept in the sequence `es_clock`, which is not transactional,
 *   so a time handed out to a transaction still running is seen by the next one). So
 *   recording times never go backwards in position order, whatever the clocks of the
 *   processes appending. The lock is released before the function returns, also on
 *   error and cancellation; the transaction's commit is not serialised. The function
 *   runs with its owner's rights (the role that migrated), so an application role that
 *   may only select and insert events can still append.
 * - existing rows' recording times are raised, in position order, to the latest time
 *   before them, and truncated to the millisecond a `Date` holds.
 *
 * Every statement may run again on a schema that already has its part.
 */
const historyMigration = (s: string, events: string): ReadonlyArray<string> => [
  `ALTER TABLE ${events} ADD COLUMN IF NOT EXISTS correlation_id text`,
  `CREATE INDEX IF NOT EXISTS es_events_type ON ${events} (type, position)`,
  `CREATE INDEX IF NOT EXISTS es_events_category ON ${events} ((split_part(stream_id, '-', 1)), position)`,
  `CREATE INDEX IF NOT EXISTS es_events_correlation ON ${events} USING hash (correlation_id)`,
  `UPDATE ${events} e SET recorded_at = m.recorded_at
    FROM (SELECT position, date_trunc('milliseconds', max(recorded_at) OVER (ORDER BY position)) AS recorded_at FROM ${events}) m
    WHERE e.position = m.position AND e.recorded_at IS DISTINCT FROM m.recorded_at`,
  `CREATE INDEX IF NOT EXISTS es_events_recorded_at ON ${events} (recorded_at, position)`,
  `CREATE SEQUENCE IF NOT EXISTS ${s}.es_clock AS bigint MINVALUE 0 START 0`,
  `SELECT setval('${s}.es_clock', greatest((SELECT last_value FROM ${s}.es_clock), (SELECT (extract(epoch FROM max(recorded_at)) * 1000)::bigint FROM ${events})))`,
  `CREATE OR REPLACE FUNCTION ${s}.es_stamp(at_ms float8, OUT xid bigint, OUT recorded_at timestamptz)
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
    DECLARE
      stamped bigint;
    BEGIN
      PERFORM pg_advisory_lock(hashtext('es-kernel:' || ${quoteLiteral(s)}), 1);
      BEGIN
        xid := pg_current_xact_id()::text::bigint;
        SELECT greatest(last_value, floor(at_ms)::bigint) INTO stamped FROM ${s}.es_clock;
        PERFORM setval('${s}.es_clock', stamped);
      EXCEPTION WHEN OTHERS OR query_canceled THEN
        PERFORM pg_advisory_unlock(hashtext('es-kernel:' || ${quoteLiteral(s)}), 1);
        RAISE;
      END;
      PERFORM pg_advisory_unlock(hashtext('es-kernel:' || ${quoteLiteral(s)}), 1);
      recorded_at := 'epoch'::timestamptz + stamped * interval '1 millisecond';
    END
  $$`
]

// The schema's quoted identifier as a string literal ('"name"'): names are checked
// against `identifier`, so they hold no quote.
const quoteLiteral = (quotedIdentifier: string): string => `'${quotedIdentifier}'`

/** Which conditions a page of the global log filters on; each present one takes a parameter. */
export interface PageShape {
  readonly categories: boolean
  readonly types: boolean
  readonly correlationIds: boolean
  readonly from: boolean
  readonly before: boolean
}

/** History queries' statements for one store. */
export interface HistoryStatements {
  /**
   * A page of the global log for a filter shape: `$1` after (exclusive), `$2` the bound
   * (exclusive: the first position the horizon leaves open), `$3` the page size, then
   * one parameter per present condition in `PageShape` order (text arrays; times as
   * epoch milliseconds). With `live`, the first column is the horizon for the next page.
   */
  readonly page: (shape: PageShape, live: boolean) => string
  /** One stream forward as of a time: `$1` stream, `$2`–`$3` versions, `$4` limit, `$5` as of (ms). */
  readonly readStreamForwardAsOf: string
  /** One stream backward as of a time, parameters as forward. */
  readonly readStreamBackwardAsOf: string
  /** Rows recorded before the migration whose metadata may hold a correlation id: `$1` after, `$2` page size. */
  readonly correlationBackfill: string
  /** Sets `correlation_id` for `$1` positions to `$2` JSON texts. */
  readonly setCorrelation: string
}

const historyStatements = (schema: string, columns: string, horizon: string): HistoryStatements => {
  const events = `"${schema}".es_events`
  // The first final position recorded at or after a time: recording times follow
  // positions below the bound, so every final row before it was recorded earlier, and
  // every one from it on at or after. Rows at or past the bound may still be joined by
  // a transaction that commits later, so they are left out.
  const firstAt = (time: string) => `COALESCE((
    SELECT position FROM ${events} WHERE recorded_at >= ${millis(time)} AND position < $2
    ORDER BY recorded_at, position LIMIT 1), ${noPosition})`
  const cache = new Map<string, string>()
  const page = (shape: PageShape, live: boolean): string => {
    const key = `${JSON.stringify(shape)}${live}`
    const cached = cache.get(key)
    if (cached !== undefined) return cached
    const conditions = ["position > $1", "position < $2"]
    let parameter = 3
    const next = () => `$${++parameter}`
    if (shape.categories) conditions.push(`split_part(stream_id, '-', 1) = ANY(${next()}::text[])`)
    if (shape.types) conditions.push(`type = ANY(${next()}::text[])`)
    if (shape.correlationIds) conditions.push(`correlation_id = ANY(${next()}::text[])`)
    if (shape.from) {
      const from = next()
      conditions.push(`recorded_at >= ${millis(from)}`, `position >= ${firstAt(from)}`)
    }
    if (shape.before) {
      const before = next()
      conditions.push(`recorded_at < ${millis(before)}`, `position < ${firstAt(before)}`)
    }
    const select = `SELECT ${columns} FROM ${events} WHERE ${conditions.join(" AND ")} ORDER BY position LIMIT $3`
    const statement = live
      ? `WITH h AS (${horizon}) SELECT h.horizon AS next_horizon, p.* FROM h LEFT JOIN LATERAL (${select}) p ON true ORDER BY p.position`
      : select
    cache.set(key, statement)
    return statement
  }
  return {
    page,
    readStreamForwardAsOf: `
      SELECT ${columns} FROM ${events}
      WHERE stream_id = $1 AND version >= $2 AND version <= $3 AND recorded_at <= ${millis("$5")} ORDER BY version LIMIT $4`,
    readStreamBackwardAsOf: `
      SELECT ${columns} FROM ${events}
      WHERE stream_id = $1 AND version <= $2 AND version >= $3 AND recorded_at <= ${millis("$5")} ORDER BY version DESC LIMIT $4`,
    correlationBackfill: `
      SELECT position, metadata::text AS metadata FROM ${events}
      WHERE position > $1 AND correlation_id IS NULL AND metadata::text LIKE '%correlationId%'
      ORDER BY position LIMIT $2`,
    setCorrelation: `
      UPDATE ${events} e SET correlation_id = u.correlation_id
      FROM unnest($1::bigint[], $2::text[]) AS u(position, correlation_id) WHERE e.position = u.position`
  }
}

// ---------------------------------------------------------------------------
// Snapshots (the PostgreSQL snapshot store)
// ---------------------------------------------------------------------------

/**
 * The snapshot store's table, migration 2 of the store's schema: one row per stream and
 * state version, the state as `json` (its exact text, like events' payloads).
 */
const snapshotTables = (s: string): ReadonlyArray<string> => [
  `CREATE TABLE ${s}.es_snapshots (
    stream_id     text        NOT NULL,
    state_version integer     NOT NULL,
    version       integer     NOT NULL,
    state         json        NOT NULL,
    saved_at      timestamptz NOT NULL,
    PRIMARY KEY (stream_id, state_version)
  )`
]

/** The snapshot store's statements, bound to a schema. */
export interface SnapshotStatements {
  readonly load: string
  readonly save: string
}

/**
 * The snapshot store's statements for the store in `schema` (already checked by
 * `invalidSchemaName`).
 *
 * @internal
 */
export const snapshotStatements = (schema: string): SnapshotStatements => {
  const snapshots = `"${schema}".es_snapshots`
  return {
    load: `SELECT version, state FROM ${snapshots} WHERE stream_id = $1 AND state_version = $2`,
    // Keeps the higher version: a save that lost a race to a newer one changes nothing.
    save: `
      INSERT INTO ${snapshots} (stream_id, state_version, version, state, saved_at)
      VALUES ($1, $2, $3, $4::json, now())
      ON CONFLICT (stream_id, state_version) DO UPDATE
        SET version = EXCLUDED.version, state = EXCLUDED.state, saved_at = EXCLUDED.saved_at
        WHERE ${snapshots}.version < EXCLUDED.version`
  }
}

// ---------------------------------------------------------------------------
// Checkpoints (the PostgreSQL checkpoint store)
// ---------------------------------------------------------------------------

/**
 * The checkpoint store's tables, migration 3 of the store's schema.
 *
 * - `es_checkpoints`: one row per projection key. `position` and `state` are the
 *   checkpoint (`NULL` position: claimed, nothing applied yet). `owner_token` is the
 *   fencing token of the runner that claimed it last: a save names it, so a runner that
 *   lost its claim without knowing it can no longer move the checkpoint.
 * - `es_projection_versions`: the active version of each projection name.
 */
const checkpointTables = (s: string): ReadonlyArray<string> => [
  `CREATE TABLE ${s}.es_checkpoints (
    key         text        PRIMARY KEY,
    position    bigint,
    state       json,
    saved_at    timestamptz,
    owner_token text,
    owner_pid   integer,
    owner_host  text,
    claimed_at  timestamptz
  )`,
  `CREATE TABLE ${s}.es_projection_versions (
    name         text        PRIMARY KEY,
    version      integer     NOT NULL,
    activated_at timestamptz NOT NULL
  )`
]

/** The checkpoint store's statements, bound to a schema. */
export interface CheckpointStatements {
  /** The advisory lock's name for a key: hashed to a 64-bit lock id by `tryLock` and `unlock`. */
  readonly lockName: (key: string) => string
  readonly tryLock: string
  readonly unlock: string
  readonly claim: string
  readonly holder: string
  readonly load: string
  readonly save: string
  readonly activate: string
  readonly active: string
}

/**
 * The checkpoint store's statements for the store in `schema` (already checked by
 * `invalidSchemaName`).
 *
 * @internal
 */
export const checkpointStatements = (schema: string): CheckpointStatements => {
  const s = `"${schema}"`
  const checkpoints = `${s}.es_checkpoints`
  // A session-level advisory lock on 64 bits of the md5 of the schema and key: held by
  // the session (connection) that took it until it unlocks or the connection ends.
  const lockId = `('x' || substr(md5($1), 1, 16))::bit(64)::bigint`
  return {
    lockName: (key) => `es-kernel:${schema}:projection:${key}`,
    tryLock: `SELECT pg_try_advisory_lock(${lockId}) AS locked`,
    unlock: `SELECT pg_advisory_unlock(${lockId}) AS unlocked`,
    // Run by the lock's holder right after it took the lock: a new fencing token.
    claim: `
      INSERT INTO ${checkpoints} (key, owner_token, owner_pid, owner_host, claimed_at)
      VALUES ($1, $2, $3, $4, now())
      ON CONFLICT (key) DO UPDATE SET
        owner_token = EXCLUDED.owner_token, owner_pid = EXCLUDED.owner_pid,
        owner_host = EXCLUDED.owner_host, claimed_at = EXCLUDED.claimed_at`,
    holder: `SELECT owner_pid, owner_host FROM ${checkpoints} WHERE key = $1`,
    // `has_state` tells a view's JSON `null` state from no state (SQL NULL).
    load: `SELECT position, state, state IS NOT NULL AS has_state FROM ${checkpoints} WHERE key = $1`,
    // Compare-and-set on the fencing token: no row back means another runner claimed the key.
    save: `
      UPDATE ${checkpoints} SET position = $2, state = $3::text::json, saved_at = now()
      WHERE key = $1 AND owner_token = $4
      RETURNING key`,
    activate: `
      INSERT INTO ${s}.es_projection_versions (name, version, activated_at) VALUES ($1, $2, now())
      ON CONFLICT (name) DO UPDATE SET version = EXCLUDED.version, activated_at = EXCLUDED.activated_at`,
    active: `SELECT version FROM ${s}.es_projection_versions WHERE name = $1`
  }
}

// ---------------------------------------------------------------------------
// The command line: looking at a store without creating one
// ---------------------------------------------------------------------------

/** The command line's statements for the store in `schema` (checked by `invalidSchemaName`). @internal */
export interface InspectionStatements {
  /** One row, `present`: whether the store's events table exists (reading must not create it). */
  readonly storePresent: string
  /** One row: the events table's heap, index and total bytes, and its estimated live rows. */
  readonly tableSizes: string
}

/** @internal */
export const inspectionStatements = (schema: string): InspectionStatements => {
  const events = `"${schema}".es_events`
  return {
    storePresent: `SELECT to_regclass('${events}') IS NOT NULL AS present`,
    tableSizes: `
      SELECT pg_relation_size('${events}'::regclass) AS heap_bytes,
             pg_indexes_size('${events}'::regclass) AS index_bytes,
             pg_total_relation_size('${events}'::regclass) AS total_bytes`
  }
}

// ---------------------------------------------------------------------------
// The command line's import: appends that keep the source's global order
// ---------------------------------------------------------------------------

/**
 * The import's append of a batch of runs, in one statement and one transaction, whole or
 * not at all, with the least work per event: no id look-ups (an id recorded already
 * fails the statement on the unique index) and no sorting (rows go in the order given,
 * so positions follow the export's order).
 *
 * Parameters: `$1` the streams whose version the importer does not know and `$2` the
 * versions they must be at; `$3` the recording time wished for (epoch ms); `$4` the xid
 * offset; `$5`–`$12` the events in order: stream, version, id, type, schema version,
 * data, metadata, correlation key ('' for none); `$13` the last event id of the batch
 * before ('' for none). Nothing is inserted when a stream is not at its version, or when
 * that last id is not recorded (the batch before did not go in). One row: `inserted`.
 *
 * @internal
 */
export const importAppend = (schema: string): string => {
  const s = `"${schema}"`
  const events = `${s}.es_events`
  return `
      WITH wrong AS MATERIALIZED (
        SELECT count(*) AS runs FROM unnest($1::text[], $2::int[]) AS a(stream_id, expected)
        WHERE COALESCE((SELECT max(e.version) FROM ${events} e WHERE e.stream_id = a.stream_id), 0) <> a.expected
      ),
      behind AS MATERIALIZED (
        SELECT $13::text <> '' AND NOT EXISTS (SELECT 1 FROM ${events} e WHERE e.event_id = $13::text) AS behind
      ),
      stamp AS MATERIALIZED (
        SELECT * FROM ${s}.es_stamp($3) WHERE (SELECT runs FROM wrong) = 0 AND NOT (SELECT behind FROM behind)
      ),
      ins AS (
        INSERT INTO ${events} (position, stream_id, version, event_id, type, schema_version, data, metadata, recorded_at, correlation_id)
        SELECT ((stamp.xid + $4) << ${indexBits}) + ev.n, ev.stream_id, ev.version, ev.event_id, ev.type, ev.schema_version,
               ev.data::json, ev.metadata::json, stamp.recorded_at, NULLIF(ev.correlation_id, '')
        FROM stamp CROSS JOIN unnest($5::text[], $6::int[], $7::text[], $8::text[], $9::int[], $10::text[], $11::text[], $12::text[])
          WITH ORDINALITY AS ev(stream_id, version, event_id, type, schema_version, data, metadata, correlation_id, n)
        RETURNING 1
      )
      SELECT (SELECT count(*) FROM ins) AS inserted`
}
