/**
 * The PostgreSQL server the tests use: 127.0.0.1:5432, user `postgres`, trust auth (or
 * `ES_KERNEL_TEST_POSTGRES`, a server URL without a database). Each test file gets a
 * fresh database of its own, dropped when the file is done, and each store in it a fresh
 * schema.
 *
 * Without a server the suites are skipped with a message on stderr; with `CI=true` a
 * missing server fails the run instead.
 */
import { Effect, Redacted } from "effect"
import * as Reactivity from "effect/reactivity/Reactivity"
import * as PgClient from "@effect/sql-pg/PgClient"
import { afterAll, beforeAll, describe, it } from "vitest"

const serverUrl = process.env.ES_KERNEL_TEST_POSTGRES ?? "postgres://postgres@127.0.0.1:5432"

/** Runs one statement on `database` over a short-lived single connection. */
export const runSql = (database: string, statement: string, params: ReadonlyArray<unknown> = []) =>
  Effect.runPromise(
    Effect.scoped(
      Effect.flatMap(
        PgClient.makeClient({ url: Redacted.make(`${serverUrl}/${database}`), connectTimeout: "3 seconds" }),
        (client) => client.unsafe(statement, params).unprepared
      )
    ).pipe(Effect.provide(Reactivity.layer))
  )

const probe = async (): Promise<string | undefined> => {
  try {
    await runSql("postgres", "SELECT 1")
    return undefined
  } catch (error) {
    return error instanceof Error ? error.message : String(error)
  }
}

/** Why no server is reachable, or `undefined` when one is. */
export const unavailable = await probe()

/** The URL of `database` on the test server. */
export const urlOf = (database: string): string => `${serverUrl}/${database}`

let schemas = 0

/** A schema name no other store of this run uses. */
export const freshSchema = (): string => `s${++schemas}_${Math.random().toString(36).slice(2, 8)}`

/**
 * Registers `body` as a suite that needs the server. `body` gets the URL of a fresh
 * database, created before the suite's tests and dropped after them.
 */
export const postgresSuite = (name: string, body: (database: { readonly url: () => string }) => void): void => {
  if (unavailable !== undefined) {
    if (process.env.CI === "true") {
      describe(name, () => {
        it("needs PostgreSQL at 127.0.0.1:5432 (CI=true)", () => {
          throw new Error(`no PostgreSQL server: ${unavailable}`)
        })
      })
      return
    }
    process.stderr.write(`\n[es-kernel] skipping "${name}": no PostgreSQL at ${serverUrl} (${unavailable})\n`)
    describe.skipIf(true)(name, () => {
      it("needs PostgreSQL", () => undefined)
    })
    return
  }
  const database = `es_test_${process.pid}_${Math.random().toString(36).slice(2, 10)}`
  describe(name, () => {
    beforeAll(async () => {
      await runSql("postgres", `CREATE DATABASE ${database}`)
    })
    afterAll(async () => {
      await runSql("postgres", `DROP DATABASE IF EXISTS ${database} WITH (FORCE)`)
    })
    body({ url: () => urlOf(database) })
  })
}
