/**
 * The peer of the `postgres` suite: Emmett's PostgreSQL store,
 * `@event-driven-io/emmett-postgresql` 0.42.0 (`getPostgreSQLEventStore(url)`, its
 * defaults: a pooled `pg` connection pool, one transaction per append), and Emmett's
 * `DeciderCommandHandler` on it for W6, with the bank decider of the `handler` suite.
 *
 * A bench-only dependency in `bench/node_modules` (`npm install --prefix bench`), loaded
 * with a dynamic import of a computed specifier and checked at run time against the
 * minimal shape declared here, so CI type-checks this file without it.
 *
 * Each run gets a fresh database; the store's schema is migrated before the clock starts.
 */
import { decider } from "../../examples/bank/Account.js"
import type { Event as BankEvent, State } from "../../examples/bank/Account.js"
import { limits } from "../../src/EventStore.js"
import { at, eventType, now } from "../workloads.js"
import type { Measurement, Payload, Target } from "../workloads.js"
import { loadBenchPackage } from "./bench-package.js"
import { decide, initialState, mapToStreamId, runBankCommands } from "./emmett-bank.js"
import type { BankCommand } from "./emmett-bank.js"
import { withFreshDatabase } from "./postgres-database.js"

// ---------------------------------------------------------------------------
// The part of emmett-postgresql (and emmett) this file uses
// ---------------------------------------------------------------------------

interface EmmettEvent {
  readonly type: string
  readonly data: unknown
}

type ExpectedStreamVersion = bigint | "STREAM_DOES_NOT_EXIST" | "STREAM_EXISTS" | "NO_CONCURRENCY_CHECK"

interface PostgresEventStore {
  readonly appendToStream: (
    streamName: string,
    events: Array<EmmettEvent>,
    options?: { readonly expectedStreamVersion?: ExpectedStreamVersion }
  ) => Promise<{ readonly nextExpectedStreamVersion: bigint }>
  readonly aggregateStream: <S, E = EmmettEvent>(
    streamName: string,
    options: { readonly evolve: (state: S, event: E) => S; readonly initialState: () => S }
  ) => Promise<{ readonly currentStreamVersion: bigint; readonly state: S }>
  readonly close: () => Promise<void>
  readonly schema: { readonly migrate: () => Promise<unknown> }
}

interface EmmettPostgres {
  readonly getPostgreSQLEventStore: (connectionString: string) => PostgresEventStore
}

type Handle = (store: PostgresEventStore, id: string, command: BankCommand) => Promise<unknown>

interface Emmett {
  readonly DeciderCommandHandler: (options: {
    readonly decide: (command: BankCommand, state: State) => Array<BankEvent>
    readonly evolve: (state: State, event: BankEvent) => State
    readonly initialState: () => State
    readonly mapToStreamId: (id: string) => string
  }) => Handle
}

const hasFunctions = (value: unknown, names: ReadonlyArray<string>): boolean =>
  typeof value === "object" && value !== null && names.every((name) => typeof Reflect.get(value, name) === "function")

const isEmmettPostgres = (value: unknown): value is EmmettPostgres => hasFunctions(value, ["getPostgreSQLEventStore"])
const isEmmett = (value: unknown): value is Emmett => hasFunctions(value, ["DeciderCommandHandler"])

export const installHint =
  "The postgres suite compares against Emmett's PostgreSQL store, a bench-only dependency that is not in the root install.\n" +
  "Install it once with:\n\n    npm install --prefix bench\n\n(bench/package.json: @event-driven-io/emmett-postgresql 0.42.0.)"

// Computed specifiers, so the compiler does not look for the packages (absent in CI).
const postgresSpecifier: string = ["@event-driven-io", "emmett-postgresql"].join("/")
const emmettSpecifier: string = ["@event-driven-io", "emmett"].join("/")

const load = <A>(specifier: string, is: (value: unknown) => value is A): Promise<A> =>
  loadBenchPackage(specifier, is, installHint)

/** Loads emmett-postgresql from bench/node_modules, or fails with the install instructions. */
export const loadEmmettPostgres = (): Promise<EmmettPostgres> => load(postgresSpecifier, isEmmettPostgres)

// ---------------------------------------------------------------------------
// The target
// ---------------------------------------------------------------------------

const events = (data: ReadonlyArray<Payload>, n: number, offset = 0): Array<EmmettEvent> =>
  Array.from({ length: n }, (_, i) => ({ type: eventType, data: at(data, offset + i) }))

const amountOf = (data: unknown): number => {
  if (typeof data !== "object" || data === null) return Number.NaN
  const amount: unknown = Reflect.get(data, "amount")
  return typeof amount === "number" ? amount : Number.NaN
}

/** Runs `use` on a fresh store in a fresh database, schema migrated first. */
const withStore = (use: (store: PostgresEventStore) => Promise<Measurement>): Promise<Measurement> =>
  withFreshDatabase("emmett", async (url) => {
    const emmett = await loadEmmettPostgres()
    const store = emmett.getPostgreSQLEventStore(url)
    try {
      await store.schema.migrate()
      return await use(store)
    } finally {
      await store.close()
    }
  })

// W6: the bank decider as Emmett's handler takes it (see emmett-handler.ts).

export const emmettPostgres: Target = {
  name: "Emmett postgres",
  role: "peer",
  runners: {
    roundRobin: (spec, data) => {
      const batches = events(data, spec.events).map((e) => [e])
      const names = Array.from({ length: spec.streams }, (_, s) => `bench-${s}`)
      return withStore(async (store) => {
        const versions: Array<bigint> = names.map(() => 0n)
        const t0 = now()
        for (let i = 0; i < spec.events; i++) {
          const s = i % spec.streams
          const result = await store.appendToStream(names[s] ?? "", batches[i] ?? [], { expectedStreamVersion: versions[s] ?? 0n })
          versions[s] = result.nextExpectedStreamVersion
        }
        return { events: spec.events, seconds: (now() - t0) / 1000 }
      })
    },

    concurrentNewStreams: (spec, data) => {
      const batches = events(data, spec.events).map((e) => [e])
      return withStore(async (store) => {
        let next = 0
        const worker = async (): Promise<void> => {
          while (next < spec.events) {
            const i = next++
            await store.appendToStream(`bench-${i}`, batches[i] ?? [], { expectedStreamVersion: "STREAM_DOES_NOT_EXIST" })
          }
        }
        const t0 = now()
        await Promise.all(Array.from({ length: spec.concurrency }, worker))
        return { events: spec.events, seconds: (now() - t0) / 1000 }
      })
    },

    batches: (spec, data) => {
      const all = events(data, spec.batches * spec.batchSize)
      const writers = spec.concurrency ?? 1
      return withStore(async (store) => {
        const writer = async (w: number): Promise<void> => {
          let version = 0n
          for (let b = w; b < spec.batches; b += writers) {
            const batch = all.slice(b * spec.batchSize, (b + 1) * spec.batchSize)
            const result = await store.appendToStream(`bench-batches-${w}`, batch, { expectedStreamVersion: version })
            version = result.nextExpectedStreamVersion
          }
        }
        const t0 = now()
        await Promise.all(Array.from({ length: writers }, (_, w) => writer(w)))
        return { events: spec.batches * spec.batchSize, seconds: (now() - t0) / 1000 }
      })
    },

    replayFold: (spec, data) =>
      withStore(async (store) => {
        const seed = events(data, spec.events)
        let version = 0n
        for (let from = 0; from < seed.length; from += limits.batchEvents) {
          const result = await store.appendToStream("bench-replay", seed.slice(from, from + limits.batchEvents), { expectedStreamVersion: version })
          version = result.nextExpectedStreamVersion
        }
        const t0 = now()
        const result = await store.aggregateStream<number>("bench-replay", {
          initialState: () => 0,
          evolve: (sum, event) => sum + amountOf(event.data)
        })
        return { events: Number(result.currentStreamVersion), seconds: (now() - t0) / 1000, check: result.state }
      }),

    commands: (spec) =>
      withStore(async (store) => {
        const emmett = await load(emmettSpecifier, isEmmett)
        const handle = emmett.DeciderCommandHandler({ decide, evolve: decider.evolve, initialState, mapToStreamId })
        return runBankCommands(
          spec,
          (id, command) => handle(store, id, command),
          async (streamId) =>
            (await store.aggregateStream<State, BankEvent>(streamId, { evolve: decider.evolve, initialState })).state
        )
      })
  }
}
