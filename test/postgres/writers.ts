/**
 * Writers outside the layer, for the race tests: each runs the layer's own append
 * statement inside an explicit transaction on its own connection, so the test decides how
 * long the transaction stays open between taking its position and committing.
 */
import { Deferred, Effect, Exit, Fiber, Redacted } from "effect"
import type { Scope } from "effect"
import * as Reactivity from "effect/reactivity/Reactivity"
import * as PgClient from "@effect/sql-pg/PgClient"
import type { SqlError } from "effect/sql/SqlError"
import { InvalidAppend } from "../../src/EventStore.js"
import type { ExpectedVersion } from "../../src/EventStore.js"
import { encodeAppend } from "../../src/internal/postgres/checks.js"
import type { EncodedAppend } from "../../src/internal/postgres/checks.js"
import type { Outcome } from "../../src/internal/postgres/groupCommit.js"
import { statements } from "../../src/internal/postgres/sql.js"
import { groupRunner } from "../../src/internal/postgres/store.js"

/** A pool of `connections` raw connections to `url`, closed with the scope. */
export const rawPool = (url: string, connections: number): Effect.Effect<PgClient.PgClient, SqlError, Scope.Scope> =>
  PgClient.make({ url: Redacted.make(url), maxConnections: connections }).pipe(Effect.provide(Reactivity.layer))

/** One event appended with `expected` "any" to `streamId`. */
export const oneEvent = (streamId: string, eventId: string, expected: ExpectedVersion = "any"): EncodedAppend => {
  const encoded = encodeAppend(streamId, [{ type: "Raced", data: { eventId }, eventId }], expected)
  if (encoded instanceof InvalidAppend) throw encoded
  return encoded
}

/** An append whose transaction stays open until the test lets it finish. */
export interface HeldAppend {
  /** Completes once the row is inserted (its position taken), with the statement's outcome. */
  readonly inserted: Effect.Effect<Outcome>
  /** Commits (or rolls back) the transaction, and waits until it has. */
  readonly finish: (outcome: "commit" | "rollback") => Effect.Effect<void>
}

class RolledBack {
  readonly _tag = "RolledBack"
}

/** Starts `append` in a transaction that stays open after its insert. */
export const holdAppend = (
  pool: PgClient.PgClient,
  schema: string,
  append: EncodedAppend
): Effect.Effect<HeldAppend, never, Scope.Scope> =>
  Effect.gen(function*() {
    const inserted = yield* Deferred.make<Outcome>()
    const release = yield* Deferred.make<"commit" | "rollback">()
    const run = groupRunner(pool, statements(schema), 0)
    const fiber = yield* Effect.forkScoped(
      pool.withTransaction(
        Effect.gen(function*() {
          const [outcome] = yield* run([{ append, recordedAt: Date.now() }])
          if (outcome !== undefined) yield* Deferred.succeed(inserted, outcome)
          if ((yield* Deferred.await(release)) === "rollback") return yield* Effect.fail(new RolledBack())
        })
      ).pipe(Effect.exit)
    )
    return {
      inserted: Deferred.await(inserted),
      finish: (outcome) =>
        Effect.gen(function*() {
          yield* Deferred.succeed(release, outcome)
          const exit = yield* Fiber.join(fiber)
          if (outcome === "commit" && Exit.isFailure(exit)) yield* Effect.die(new Error(`held append failed: ${String(exit.cause)}`))
        })
    }
  })
