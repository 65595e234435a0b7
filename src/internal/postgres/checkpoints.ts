/**
 * The PostgreSQL checkpoint store: checkpoints in `es_checkpoints` of the store's schema,
 * one live runner per key by a session-level advisory lock, and exactly-once batches by
 * running them in one transaction with their checkpoint.
 *
 * - **Claim.** A connection is reserved from the pool for the claim's lifetime, and takes
 *   `pg_try_advisory_lock` on 64 bits of a hash of the schema and key. The lock belongs to
 *   that session: it is released by `pg_advisory_unlock` when the claim ends, or by the
 *   server when the connection ends (the process died, the network dropped). Then the
 *   holder writes a fresh fencing token into the key's row.
 * - **Save.** A compare-and-set on that token. A runner whose lock was lost without its
 *   knowing (its lock connection dropped while its others lived on) and whose key was
 *   claimed by another runner since then finds no row to update: its save fails, and the
 *   transaction around its batch rolls back. The lock keeps a second runner from
 *   starting; the token keeps one that started anyway from committing.
 * - **Transaction.** `transaction(key, effect)` is `withTransaction` on the layer's client:
 *   every statement `effect` sends through that client (the handler's read-model writes,
 *   then the checkpoint save) is in one transaction.
 *
 * @internal
 */
import { randomUUID } from "node:crypto"
import * as os from "node:os"
import { Effect } from "effect"
import type { SqlClient } from "effect/sql/SqlClient"
import type { SqlError } from "effect/sql/SqlError"
import { CheckpointError, CheckpointStore, ProjectionAlreadyRunning } from "../../CheckpointStore.js"
import type { Checkpoint } from "../../CheckpointStore.js"
import { invalidKey } from "../checkpoint/key.js"
import { boolean, decode, integer, integerOrNull, json, text } from "./rows.js"
import type { Row, UnexpectedColumn } from "./rows.js"
import { checkpointStatements } from "./sql.js"

/** A failure of the batch itself, carried through `withTransaction` to tell it from the database's. */
class Aborted<E> {
  constructor(readonly error: E) {}
}

const checked = (key: string): Effect.Effect<void, CheckpointError> => {
  const reason = invalidKey(key)
  return reason === undefined ? Effect.void : Effect.fail(new CheckpointError({ key, reason }))
}

const checkpointOf = (row: Row | undefined): Checkpoint | undefined => {
  const position = row === undefined ? undefined : integerOrNull(row, "position")
  if (row === undefined || position === undefined) return undefined
  return boolean(row, "has_state") ? { position, state: json(row, "state") } : { position }
}

/**
 * The service over `sql`, for the store in `schema` (already migrated).
 *
 * @internal
 */
export const makeCheckpointStore = (sql: SqlClient, schema: string): CheckpointStore["Service"] => {
  const statements = checkpointStatements(schema)
  const host = os.hostname()
  // The fencing token of each key this layer holds.
  const tokens = new Map<string, string>()
  const failed = (key: string, what: string) => (error: SqlError | UnexpectedColumn) =>
    new CheckpointError({ key, reason: `${what} in schema ${schema} failed (${error.message}); check the connection to PostgreSQL`, cause: error })
  const query = (key: string, what: string, statement: string, parameters: ReadonlyArray<unknown>) =>
    Effect.mapError(sql.unsafe<Row>(statement, parameters), failed(key, what))

  // Who holds the key, as its row says (the holder writes it right after taking the lock).
  const refusal = (key: string) =>
    query(key, "looking up the projection's runner", statements.holder, [key]).pipe(
      Effect.flatMap((rows) =>
        Effect.mapError(
          decode(() => {
            const row = rows[0]
            const pid = row === undefined ? undefined : integerOrNull(row, "owner_pid")
            const holderHost = row === undefined || row.owner_host === null ? undefined : text(row, "owner_host")
            return new ProjectionAlreadyRunning({
              key,
              lock: `PostgreSQL advisory lock on the projection in schema ${schema}`,
              ...(pid === undefined ? {} : { holderPid: pid }),
              ...(holderHost === undefined || holderHost === host ? {} : { holderHost })
            })
          }),
          failed(key, "looking up the projection's runner")
        )
      ),
      Effect.flatMap(Effect.fail)
    )

  const claim = (key: string) =>
    Effect.gen(function*() {
      yield* checked(key)
      const connection = yield* Effect.mapError(sql.reserve, failed(key, "reserving a connection for the projection's lock"))
      const lockName = statements.lockName(key)
      const locked = yield* connection.executeUnprepared(statements.tryLock, [lockName], undefined).pipe(
        Effect.flatMap((rows: ReadonlyArray<Row>) => decode(() => rows[0] !== undefined && boolean(rows[0], "locked"))),
        Effect.mapError(failed(key, "taking the projection's lock"))
      )
      if (!locked) return yield* refusal(key)
      // Runs before the connection goes back to the pool (finalizers run in reverse).
      yield* Effect.addFinalizer(() => Effect.ignore(connection.executeUnprepared(statements.unlock, [lockName], undefined)))
      const token = randomUUID()
      yield* connection.executeUnprepared(statements.claim, [key, token, process.pid, host], undefined).pipe(
        Effect.mapError(failed(key, "recording the projection's runner"))
      )
      tokens.set(key, token)
      yield* Effect.addFinalizer(() => Effect.sync(() => tokens.get(key) === token && tokens.delete(key)))
    })

  const save = (key: string, checkpoint: Checkpoint) =>
    Effect.gen(function*() {
      yield* checked(key)
      const token = tokens.get(key)
      if (token === undefined) {
        return yield* new CheckpointError({ key, reason: "this process does not hold the projection: claim it before saving its checkpoint" })
      }
      const state = checkpoint.state === undefined ? null : JSON.stringify(checkpoint.state)
      const rows = yield* query(key, "saving the checkpoint", statements.save, [key, BigInt(checkpoint.position), state, token])
      if (rows.length === 0) {
        return yield* new CheckpointError({
          key,
          reason: "another runner claimed the projection after this one (this runner's lock connection was lost); " +
            "this runner's batch and its writes through this store's client were rolled back. Leave the projection to the other runner"
        })
      }
    })

  const transaction = <A, E, R>(key: string, effect: Effect.Effect<A, E, R>): Effect.Effect<A, E | CheckpointError, R> =>
    sql.withTransaction(Effect.mapError(effect, (error) => new Aborted(error))).pipe(
      Effect.catch((failure: Aborted<E> | SqlError) =>
        Effect.fail(failure instanceof Aborted ? failure.error : failed(key, "committing the batch")(failure))
      )
    )

  return CheckpointStore.of({
    claim,
    load: (key) =>
      Effect.andThen(
        checked(key),
        query(key, "loading the checkpoint", statements.load, [key]).pipe(
          Effect.flatMap((rows) => Effect.mapError(decode(() => checkpointOf(rows[0])), failed(key, "reading the checkpoint")))
        )
      ),
    save,
    activate: (name, version) => Effect.andThen(checked(name), Effect.asVoid(query(name, "recording the active version", statements.activate, [name, version]))),
    active: (name) =>
      Effect.andThen(
        checked(name),
        query(name, "reading the active version", statements.active, [name]).pipe(
          Effect.flatMap((rows) =>
            Effect.mapError(decode(() => rows[0] === undefined ? undefined : integer(rows[0], "version")), failed(name, "reading the active version"))
          )
        )
      ),
    transaction
  })
}
