/**
 * The import bench: moving a file store into PostgreSQL with the command line, as a user
 * does, against the bar of 50,000 events/s.
 *
 *   npm run bench:import                      200,000 events, 5 imports
 *   npm run bench:import -- --runs 7 --events 500000 --streams 5000 --batch 10
 *   npm run bench:import -- --ids random      the events' ids chosen by the caller as random UUIDs
 *
 * 1. Builds a file store in a temporary directory with the library: `--streams` streams
 *    taking turns, appends of `--batch` events (types, unicode payloads and correlation
 *    ids like the command-line tests' writer). The ids are the store's own (`--ids
 *    generated`, the default: time-ordered UUIDs) or chosen by the caller as random
 *    version 4 UUIDs (`--ids random`), which cost PostgreSQL's id index more.
 * 2. Exports it with `es-kernel export`.
 * 3. Imports the export `--runs` times, each into a fresh schema of a fresh database
 *    (the schema dropped after its run, the database at the end), each import its own
 *    process; the rate is the one the command prints (from opening the input to the last
 *    commit, without the process's start).
 * 4. Prints each rate, the median, and the verdict against the bar.
 *
 * Needs the local PostgreSQL server (127.0.0.1:5432, user postgres, or ES_KERNEL_BENCH_POSTGRES,
 * a server URL without a database).
 */
import { spawnSync } from "node:child_process"
import { mkdtempSync, rmSync, statSync } from "node:fs"
import { loadavg, tmpdir } from "node:os"
import { join } from "node:path"
import { parseArgs } from "node:util"
import { Effect, Layer, Redacted } from "effect"
import * as Reactivity from "effect/reactivity/Reactivity"
import * as PgClient from "@effect/sql-pg/PgClient"
import { EventStore } from "../src/EventStore.js"
import type { NewEvent } from "../src/EventStore.js"
import * as EventStoreFile from "../src/EventStoreFile.js"
import { median } from "./stats.js"

const bar = 50_000

const { values } = parseArgs({
  options: {
    runs: { type: "string", default: "5" },
    events: { type: "string", default: "200000" },
    streams: { type: "string", default: "2000" },
    batch: { type: "string", default: "10" },
    ids: { type: "string", default: "generated" }
  }
})
const runs = Number(values.runs)
const streams = Number(values.streams)
const batch = Number(values.batch)
const perStream = Math.ceil(Number(values.events) / streams)
if (values.ids !== "generated" && values.ids !== "random") throw new Error("--ids is generated or random")
const randomIds = values.ids === "random"
const server = process.env.ES_KERNEL_BENCH_POSTGRES ?? "postgres://postgres@127.0.0.1:5432"

const sql = (database: string, statement: string) =>
  Effect.runPromise(Effect.scoped(Effect.flatMap(
    PgClient.makeClient({ url: Redacted.make(`${server}/${database}`) }),
    (client) => client.unsafe(statement).unprepared
  )).pipe(Effect.provide(Reactivity.layer)))

const streamName = (index: number) => index % 10 === 9 ? `cart-${index}` : `order-${index}`

// The streams take turns, `batch` events per append; appends of one round run side by side.
const fill = (directory: string) =>
  Effect.runPromise(Effect.gen(function*() {
    const store = yield* EventStore
    for (let round = 0; round * batch < perStream; round++) {
      yield* Effect.forEach(Array.from({ length: streams }, (_, stream) => stream), (stream) => {
        const events: Array<NewEvent> = []
        for (let k = round * batch; k < Math.min(perStream, (round + 1) * batch); k++) {
          events.push({
            ...(randomIds ? { eventId: crypto.randomUUID() } : {}),
            type: k % 2 === 0 ? "Placed" : "Paid",
            data: { stream, k, note: "ü€", amount: k * 10 },
            metadata: { correlationId: `c-${stream}-${k}`, user: "tester" }
          })
        }
        return store.append(streamName(stream), events)
      }, { concurrency: 64, discard: true })
    }
  }).pipe(Effect.provide(Layer.fresh(EventStoreFile.layer({ directory })))))

const cli = (args: ReadonlyArray<string>): string => {
  const outcome = spawnSync(process.execPath, ["--import", "tsx", "src/cli.ts", ...args], { encoding: "utf8", maxBuffer: 1 << 20 })
  if (outcome.status !== 0) throw new Error(`es-kernel ${args.join(" ")}: exit ${outcome.status}: ${outcome.stderr}`)
  return outcome.stdout
}

const main = async () => {
  const directory = mkdtempSync(join(tmpdir(), "es-kernel-bench-import-"))
  const database = `es_kernel_bench_import_${process.pid}`
  try {
    process.stderr.write(`building a file store of ${streams * perStream} events (${streams} streams, appends of ${batch}, ids ${values.ids})…\n`)
    await fill(join(directory, "store"))
    const file = join(directory, "store.ndjson")
    process.stderr.write(cli(["export", join(directory, "store"), "--output", file]))
    process.stderr.write(`export: ${(statSync(file).size / 2 ** 20).toFixed(1)} MiB\n`)
    await sql("postgres", `CREATE DATABASE ${database}`)
    const rates: Array<number> = []
    for (let run = 0; run < runs; run++) {
      const printed = cli(["import", `${server}/${database}`, "--schema", `run_${run}`, "--input", file])
      const rate = Number(/\(([\d,]+) events\/s\)/.exec(printed)?.[1]?.replaceAll(",", "") ?? "NaN")
      rates.push(rate)
      process.stdout.write(`import ${run + 1}: ${printed.trim()}\n`)
      await sql(database, `DROP SCHEMA run_${run} CASCADE`)
    }
    const middle = median(rates) ?? 0
    process.stdout.write(
      `\nimport of ${streams * perStream} events (ids ${values.ids}) into PostgreSQL, median of ${runs}: ${Math.round(middle).toLocaleString("en-US")} events/s ` +
        `(load average ${loadavg().map((load) => load.toFixed(1)).join(" ")})\n` +
        `bar: >= ${bar.toLocaleString("en-US")} events/s: ${middle >= bar ? "meets bar" : "misses bar"}\n`
    )
  } finally {
    rmSync(directory, { recursive: true, force: true })
    await sql("postgres", `DROP DATABASE IF EXISTS ${database}`).catch(() => undefined)
  }
}

await main()
