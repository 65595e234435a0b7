/**
 * The peer of the `file` suite: Emmett's durable store, `@event-driven-io/emmett-sqlite`
 * 0.42.4 on `sqlite3` 5.1.7: a file database in WAL mode with SQLite's default
 * `synchronous` (FULL), each append one `BEGIN IMMEDIATE` transaction.
 *
 * Configured at its best: one connection for the store's lifetime (`pool:
 * SQLiteConnectionPool({ connectionOptions: { singleton: true, connection } })`), with WAL
 * mode set and awaited before the first append. Emmett's default for a file database,
 * `getSQLiteEventStore({ fileName })`, opens a connection per operation and runs
 * `PRAGMA journal_mode = WAL` on it without a callback; measured here, that crashes the
 * process (an unhandled `'error'` event: `SQLITE_BUSY`, or "cannot change into wal mode
 * from within a transaction" when the `BEGIN` overtakes the pragma) within a few thousand
 * appends even one at a time, and at once with 100 in flight. With the single connection,
 * appends must not overlap (Emmett's transactions on one connection nest into each other),
 * so W3 and F1 keep their 100 writers but pass each append through a lock: Emmett's best
 * case, serialized.
 *
 * It is a bench-only dependency, installed in `bench/node_modules` (`npm install --prefix
 * bench`), never in the root install, so CI type-checks this file without it: the module
 * is loaded with a dynamic import of a computed specifier and checked at run time against
 * the minimal shape declared here (what this file calls, nothing more).
 *
 * Each run gets a fresh database in a fresh directory under `os.tmpdir()`, removed
 * afterwards. F2/F3 share one store per process, built once in 1,000-event batches.
 */
import { join } from "node:path"
import { at, eventType, now, oneStreamMeasurement, windows } from "../workloads.js"
import type { Payload, Target } from "../workloads.js"
import { loadBenchPackage } from "./bench-package.js"
import { firstStreamVersion, freshDirectory, removeDirectory } from "./eskernel-file.js"

// ---------------------------------------------------------------------------
// The part of emmett-sqlite this file uses
// ---------------------------------------------------------------------------

interface SqliteEvent {
  readonly type: string
  readonly data: Payload
}

/** Emmett's expected versions: a bigint, or one of its named constants. */
type ExpectedStreamVersion = bigint | "STREAM_DOES_NOT_EXIST" | "STREAM_EXISTS" | "NO_CONCURRENCY_CHECK"

interface ReadEvent {
  readonly data: unknown
}

interface SqliteEventStore {
  readonly appendToStream: (
    streamName: string,
    events: Array<SqliteEvent>,
    options?: { readonly expectedStreamVersion?: ExpectedStreamVersion }
  ) => Promise<{ readonly nextExpectedStreamVersion: bigint }>
  readonly readStream: (streamName: string) => Promise<{ readonly currentStreamVersion: bigint }>
  readonly aggregateStream: <S>(
    streamName: string,
    options: { readonly evolve: (state: S, event: ReadEvent) => S; readonly initialState: () => S }
  ) => Promise<{ readonly currentStreamVersion: bigint; readonly state: S }>
}

interface SqliteConnection {
  readonly close: () => void
  readonly query: (sql: string) => Promise<ReadonlyArray<unknown>>
}

interface SqlitePool {
  readonly close: () => Promise<void>
}

interface EmmettSqlite {
  readonly getSQLiteEventStore: (options: { readonly fileName: string; readonly pool: SqlitePool }) => SqliteEventStore
  readonly SQLiteConnectionPool: (options: {
    readonly fileName: string
    readonly connectionOptions: { readonly singleton: true; readonly connection: SqliteConnection }
  }) => SqlitePool
  readonly sqliteConnection: (options: { readonly fileName: string }) => SqliteConnection
  readonly readMessagesBatch: (
    db: SqliteConnection,
    options: { readonly after: bigint; readonly batchSize: number }
  ) => Promise<{ readonly currentGlobalPosition: bigint; readonly messages: ReadonlyArray<unknown>; readonly areEventsLeft: boolean }>
}

const hasFunctions = (value: unknown, names: ReadonlyArray<string>): boolean =>
  typeof value === "object" && value !== null && names.every((name) => typeof Reflect.get(value, name) === "function")

const isEmmettSqlite = (value: unknown): value is EmmettSqlite =>
  hasFunctions(value, ["getSQLiteEventStore", "SQLiteConnectionPool", "sqliteConnection", "readMessagesBatch"])

export const installHint =
  "The file suite compares against Emmett's SQLite store, a bench-only dependency that is not in the root install.\n" +
  "Install it once with:\n\n    npm install --prefix bench\n\n" +
  "(bench/package.json: @event-driven-io/emmett-sqlite 0.42.4, sqlite3 5.1.7 — sqlite3 builds from source with " +
  "node-gyp, about two minutes; needs python3, make and g++.)"

// A computed specifier, so the compiler does not look for the package (absent in CI).
const specifier: string = ["@event-driven-io", "emmett-sqlite"].join("/")

/** Loads emmett-sqlite from bench/node_modules, or fails with the install instructions. */
export const loadEmmettSqlite = (): Promise<EmmettSqlite> => loadBenchPackage(specifier, isEmmettSqlite, installHint)

// ---------------------------------------------------------------------------
// The target
// ---------------------------------------------------------------------------

const events = (data: ReadonlyArray<Payload>, n: number, offset = 0): Array<SqliteEvent> =>
  Array.from({ length: n }, (_, i) => ({ type: eventType, data: at(data, offset + i) }))

const singles = (data: ReadonlyArray<Payload>, n: number): Array<Array<SqliteEvent>> =>
  events(data, n).map((e) => [e])

const amountOf = (data: unknown): number => {
  if (typeof data !== "object" || data === null) return Number.NaN
  const amount: unknown = Reflect.get(data, "amount")
  return typeof amount === "number" ? amount : Number.NaN
}

/** Emmett's appends one at a time, for W3 and F1 (see the top of this file). */
const serialized = () => {
  let tail: Promise<unknown> = Promise.resolve()
  return <A>(task: () => Promise<A>): Promise<A> => {
    const result = tail.then(task)
    tail = result.catch(() => undefined)
    return result
  }
}

const isBusy = (error: unknown): boolean =>
  typeof error === "object" && error !== null && Reflect.get(error, "code") === "SQLITE_BUSY"

/** Appends retried after `SQLITE_BUSY` in this process, reported on stderr per run. */
let retries = 0

/**
 * With a connection per operation (Emmett's default), about one append in 50–250 failed
 * with `SQLITE_BUSY: cannot commit transaction - SQL statements in progress`, even one
 * append at a time. Not seen with the single connection, but should it happen the
 * transaction is rolled back, and the bench does what an application would have to: it
 * retries that append (up to 10 times; the retry's time counts, and it is reported).
 */
const withRetry = (store: SqliteEventStore): SqliteEventStore => ({
  ...store,
  appendToStream: async (streamName, events, options) => {
    for (let attempt = 1; ; attempt++) {
      try {
        return await store.appendToStream(streamName, events, options)
      } catch (error) {
        if (!isBusy(error) || attempt >= 10) throw error
        retries++
      }
    }
  }
})

/** A store on one connection, in WAL mode before it is used. Call `close` when done. */
const openStore = async (
  emmett: EmmettSqlite,
  fileName: string
): Promise<{ readonly store: SqliteEventStore; readonly close: () => Promise<void> }> => {
  const connection = emmett.sqliteConnection({ fileName })
  await connection.query("PRAGMA journal_mode = WAL")
  const pool = emmett.SQLiteConnectionPool({ fileName, connectionOptions: { singleton: true, connection } })
  return {
    store: withRetry(emmett.getSQLiteEventStore({ fileName, pool })),
    close: async () => {
      await pool.close()
      connection.close()
      // sqlite3 closes asynchronously; let it finish before the directory goes.
      await new Promise((resolve) => setTimeout(resolve, 20))
    }
  }
}

/** Runs `body` on a fresh store in a fresh directory, then removes it. */
const withStore = async <A>(body: (store: SqliteEventStore) => Promise<A>): Promise<A> => {
  const emmett = await loadEmmettSqlite()
  const directory = await freshDirectory("sqlite")
  retries = 0
  try {
    const { store, close } = await openStore(emmett, join(directory, "emmett.db"))
    try {
      return await body(store)
    } finally {
      await close()
    }
  } finally {
    if (retries > 0) process.stderr.write(`Emmett sqlite: ${retries} append(s) retried after SQLITE_BUSY\n`)
    await removeDirectory(directory)
  }
}

const bigBatch = 1_000
const bigStreams = 1_000
let big: { readonly events: number; readonly directory: string; readonly fileName: string } | undefined

const bigStore = async (n: number, data: ReadonlyArray<Payload>): Promise<string> => {
  if (big !== undefined && big.events === n) return big.fileName
  if (big !== undefined) await removeDirectory(big.directory)
  big = undefined
  const emmett = await loadEmmettSqlite()
  const directory = await freshDirectory("sqlite-big")
  const fileName = join(directory, "emmett.db")
  const { store, close } = await openStore(emmett, fileName)
  const t0 = now()
  for (let done = 0, b = 0; done < n; b++) {
    const size = Math.min(bigBatch, n - done)
    await store.appendToStream(`big-${b % bigStreams}`, events(data, size, done), { expectedStreamVersion: "NO_CONCURRENCY_CHECK" })
    done += size
  }
  await close()
  process.stderr.write(`Emmett sqlite: built a ${n.toLocaleString("en-US")}-event store in ${((now() - t0) / 1000).toFixed(1)} s\n`)
  big = { events: n, directory, fileName }
  return fileName
}

export const emmettSqlite: Target = {
  name: "Emmett sqlite",
  role: "peer",
  // Every append commits its own WAL transaction with SQLite's default sync (FULL): a
  // few hundred appends/s here at best, tens under load. So the single-event workloads
  // run at 1,000 events and W4/W5 at 20,000 (at these sizes its rate barely depends on
  // the size: see docs/BENCHMARKS.md).
  caps: { W1: 1_000, W2: 1_000, W3: 1_000, F1: 1_000, W4: 20_000, W5: 20_000 },
  dispose: async () => {
    if (big !== undefined) await removeDirectory(big.directory)
    big = undefined
  },
  runners: {
    roundRobin: (spec, data) => {
      const batches = singles(data, spec.events)
      const names = Array.from({ length: spec.streams }, (_, s) => `bench-${s}`)
      return withStore(async (store) => {
        const versions: Array<bigint> = names.map(() => 0n)
        const t0 = now()
        for (let i = 0; i < spec.events; i++) {
          const s = i % spec.streams
          const version = versions[s] ?? 0n
          const result = await store.appendToStream(names[s] ?? "", batches[i] ?? [], {
            expectedStreamVersion: version
          })
          versions[s] = result.nextExpectedStreamVersion
        }
        return { events: spec.events, seconds: (now() - t0) / 1000 }
      })
    },

    oneStream: (spec, data) => {
      const batches = singles(data, spec.events)
      const { head, tail } = windows(spec)
      return withStore(async (store) => {
        let version = 0n
        let headEnd = 0
        let tailStart = 0
        const t0 = now()
        for (let i = 0; i < spec.events; i++) {
          if (i === head) headEnd = now()
          if (i === tail) tailStart = now()
          const result = await store.appendToStream("bench-one", batches[i] ?? [], {
            expectedStreamVersion: version
          })
          version = result.nextExpectedStreamVersion
        }
        return oneStreamMeasurement(spec, { t0, headEnd, tailStart, t1: now() })
      })
    },

    concurrentNewStreams: (spec, data) => {
      const batches = singles(data, spec.events)
      const names = Array.from({ length: spec.events }, (_, i) => `bench-${i}`)
      return withStore(async (store) => {
        const one = serialized()
        let next = 0
        const worker = async (): Promise<void> => {
          while (next < spec.events) {
            const i = next++
            await one(() => store.appendToStream(names[i] ?? "", batches[i] ?? [], { expectedStreamVersion: 0n }))
          }
        }
        const t0 = now()
        await Promise.all(Array.from({ length: spec.concurrency }, worker))
        return { events: spec.events, seconds: (now() - t0) / 1000 }
      })
    },

    concurrentWriters: (spec, data) => {
      const batches = singles(data, spec.events)
      return withStore(async (store) => {
        const one = serialized()
        const writer = async (w: number): Promise<void> => {
          let version = 0n
          for (let i = w; i < spec.events; i += spec.writers) {
            const result = await one(() => store.appendToStream(`writer-${w}`, batches[i] ?? [], { expectedStreamVersion: version }))
            version = result.nextExpectedStreamVersion
          }
        }
        const t0 = now()
        await Promise.all(Array.from({ length: spec.writers }, (_, w) => writer(w)))
        return { events: spec.events, seconds: (now() - t0) / 1000 }
      })
    },

    batches: (spec, data) => {
      const all = events(data, spec.batches * spec.batchSize)
      const batches = Array.from(
        { length: spec.batches },
        (_, b) => all.slice(b * spec.batchSize, (b + 1) * spec.batchSize)
      )
      return withStore(async (store) => {
        let version = 0n
        const t0 = now()
        for (const batch of batches) {
          const result = await store.appendToStream("bench-batches", batch, {
            expectedStreamVersion: version
          })
          version = result.nextExpectedStreamVersion
        }
        return { events: spec.batches * spec.batchSize, seconds: (now() - t0) / 1000 }
      })
    },

    replayFold: (spec, data) =>
      withStore(async (store) => {
        // Seeded in 1,000-event appends: one append of more fails with "too many SQL variables".
        const seed = events(data, spec.events)
        let version = 0n
        for (let from = 0; from < seed.length; from += 1_000) {
          const result = await store.appendToStream("bench-replay", seed.slice(from, from + 1_000), { expectedStreamVersion: version })
          version = result.nextExpectedStreamVersion
        }
        const t0 = now()
        const result = await store.aggregateStream<number>("bench-replay", {
          initialState: () => 0,
          evolve: (sum, event) => sum + amountOf(event.data)
        })
        return { events: Number(result.currentStreamVersion), seconds: (now() - t0) / 1000, check: result.state }
      }),

    open: async (spec, data) => {
      const emmett = await loadEmmettSqlite()
      const fileName = await bigStore(spec.events, data)
      const expected = firstStreamVersion(spec.events)
      // As for es-kernel: from nothing to the answer of the first query (opening the
      // connection, setting WAL mode, creating the store, and that first read).
      const t0 = now()
      const { store, close } = await openStore(emmett, fileName)
      const { currentStreamVersion } = await store.readStream("big-0")
      const t1 = now()
      await close()
      if (currentStreamVersion !== BigInt(expected)) {
        throw new Error(`Emmett sqlite F2: big-0 at version ${currentStreamVersion}, expected ${expected}`)
      }
      return { events: spec.events, seconds: (t1 - t0) / 1000 }
    },

    readAll: async (spec, data) => {
      const emmett = await loadEmmettSqlite()
      const fileName = await bigStore(spec.events, data)
      // Emmett's store has no read-all; its consumers page through the global log with
      // `readMessagesBatch`, which is what this does, 10,000 events a page (its consumers
      // default to 100).
      const connection = emmett.sqliteConnection({ fileName })
      try {
        let after = 0n
        let count = 0
        const t0 = now()
        for (;;) {
          const page = await emmett.readMessagesBatch(connection, { after, batchSize: 10_000 })
          count += page.messages.length
          after = page.currentGlobalPosition
          if (!page.areEventsLeft) break
        }
        return { events: count, seconds: (now() - t0) / 1000 }
      } finally {
        connection.close()
      }
    }
  }
}
