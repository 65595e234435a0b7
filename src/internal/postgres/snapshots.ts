/**
 * The PostgreSQL snapshot store: one row of `es_snapshots` per stream and state version in
 * the store's schema. A save is one upsert that keeps the higher version, so concurrent
 * savers (processes racing on a stream) never replace a newer snapshot by an older one.
 * A snapshot that cannot be read — the query failed, the row is not what the table says —
 * is a miss with its reason, never an error: the stream is replayed instead.
 *
 * @internal
 */
import { Effect } from "effect"
import type { SqlClient } from "effect/sql/SqlClient"
import { SnapshotError, SnapshotStore } from "../../SnapshotStore.js"
import type { Lookup, StoredSnapshot } from "../../SnapshotStore.js"
import { decode, integer, json } from "./rows.js"
import type { Row } from "./rows.js"
import { snapshotStatements } from "./sql.js"

const missing: Lookup = { _tag: "Missing" }

const lookupOf = (row: Row | undefined, streamId: string, stateVersion: number): Lookup => {
  if (row === undefined) return missing
  const version = integer(row, "version")
  if (version < 1) return { _tag: "Unusable", reason: `the snapshot row's version is ${version}` }
  const snapshot: StoredSnapshot = { streamId, version, stateVersion, state: json(row, "state") }
  return { _tag: "Found", snapshot }
}

/**
 * The service over `sql`, for the store in `schema` (already migrated).
 *
 * @internal
 */
export const makeSnapshotStore = (sql: SqlClient, schema: string): SnapshotStore["Service"] => {
  const statements = snapshotStatements(schema)
  return SnapshotStore.of({
    load: (streamId, stateVersion) =>
      sql.unsafe<Row>(statements.load, [streamId, stateVersion]).pipe(
        Effect.flatMap((rows) => decode(() => lookupOf(rows[0], streamId, stateVersion))),
        Effect.catch((error): Effect.Effect<Lookup> => Effect.succeed({ _tag: "Unusable", reason: `reading it failed (${error.message})` }))
      ),
    save: (snapshot) =>
      sql.unsafe(statements.save, [snapshot.streamId, snapshot.stateVersion, snapshot.version, JSON.stringify(snapshot.state)]).pipe(
        Effect.asVoid,
        Effect.mapError((error) =>
          new SnapshotError({
            streamId: snapshot.streamId,
            reason: `saving it in schema ${schema} failed (${error.message}); check the connection and the role's rights on es_snapshots`,
            cause: error
          })
        )
      )
  })
}
