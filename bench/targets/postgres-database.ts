/**
 * A fresh database per benchmark run on the local PostgreSQL server
 * (`ES_KERNEL_BENCH_POSTGRES`, default `postgres://postgres@127.0.0.1:5432`), dropped
 * afterwards, so no run sees another's rows, indexes or bloat.
 */
import { Effect, Redacted } from "effect"
import * as Reactivity from "effect/reactivity/Reactivity"
import * as PgClient from "@effect/sql-pg/PgClient"

const serverUrl = process.env.ES_KERNEL_BENCH_POSTGRES ?? "postgres://postgres@127.0.0.1:5432"

const admin = (statement: string): Promise<unknown> =>
  Effect.runPromise(
    Effect.scoped(
      Effect.flatMap(
        PgClient.makeClient({ url: Redacted.make(`${serverUrl}/postgres`), connectTimeout: "5 seconds" }),
        (client) => client.unsafe(statement).unprepared
      )
    ).pipe(Effect.provide(Reactivity.layer))
  )

let databases = 0

const sleep = (millis: number) => new Promise((resolve) => setTimeout(resolve, millis))

// Without FORCE first: a store's pool may still be closing a connection, and `pg` (under
// Emmett's store) crashes the process on an unhandled 'error' event when the server
// terminates a client it no longer listens to. FORCE only after 5 s of trying.
const drop = async (name: string): Promise<void> => {
  for (let attempt = 0; attempt < 50; attempt++) {
    try {
      await admin(`DROP DATABASE IF EXISTS ${name}`)
      return
    } catch {
      await sleep(100)
    }
  }
  await admin(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)
}

/** A new, empty database: its URL, and how to drop it. */
export const freshDatabase = async (prefix: string): Promise<{ readonly url: string; readonly drop: () => Promise<void> }> => {
  const name = `es_bench_${prefix}_${process.pid}_${++databases}`
  await admin(`CREATE DATABASE ${name}`)
  return { url: `${serverUrl}/${name}`, drop: () => drop(name) }
}

/** Runs `use` with the URL of a new, empty database, dropped when `use` settles. */
export const withFreshDatabase = async <A>(prefix: string, use: (url: string) => Promise<A>): Promise<A> => {
  const database = await freshDatabase(prefix)
  try {
    return await use(database.url)
  } finally {
    await database.drop()
  }
}
