/**
 * The benchmark workloads, as data, and the contract a target implements to run them.
 *
 * A workload says *what* to do (how many events, how many streams, how many in flight);
 * a target says *how* one store does it: one function per workload kind, each building
 * a fresh store, preparing its inputs untimed, and timing only the store calls. A target
 * that cannot run a kind leaves it out and the table shows a dash.
 *
 * Adding a target (the `file` and `handler` suites): write `bench/targets/<name>.ts`
 * exporting a `Target`, and list it in a suite in `bench/suites.ts`.
 */
import { setFlagsFromString } from "node:v8"
import { runInNewContext } from "node:vm"

// ---------------------------------------------------------------------------
// Payloads
// ---------------------------------------------------------------------------

/** The event data every workload appends: about 200 bytes of JSON. */
export type Payload = {
  readonly orderId: string
  readonly customerId: string
  readonly sku: string
  readonly description: string
  readonly currency: string
  readonly quantity: number
  readonly unitPrice: number
  readonly amount: number
}

/** The event type every workload appends. */
export const eventType = "ItemAdded"

const pad = (n: number, width: number): string => String(n).padStart(width, "0")

/** The `i`-th payload: deterministic, all about the same size. */
export const payload = (i: number): Payload => ({
  orderId: `order-${pad(i, 8)}`,
  customerId: `customer-${pad(i % 9973, 6)}`,
  sku: `SKU-${pad((i * 7919) % 100000, 5)}-BLUE-XL`,
  description: `Benchmark line item number ${pad(i, 8)}, a plain-text note.`,
  currency: "EUR",
  quantity: 1 + (i % 9),
  unitPrice: 1000 + (i % 5000),
  amount: (1 + (i % 9)) * (1000 + (i % 5000))
})

/** `n` payloads, built before any timing. */
export const payloads = (n: number): ReadonlyArray<Payload> => Array.from({ length: n }, (_, i) => payload(i))

/** The fold of W5: the sum of `amount`. Every target must return the same number. */
export const foldAmount = (sum: number, data: Payload): number => sum + data.amount

/** The expected result of W5's fold over the first `n` payloads. */
export const expectedFold = (n: number): number => {
  let sum = 0
  for (let i = 0; i < n; i++) sum = foldAmount(sum, payload(i))
  return sum
}

// ---------------------------------------------------------------------------
// Workloads
// ---------------------------------------------------------------------------

/** W1: `events` single-event appends with exact expected versions, round-robin over `streams`. */
export interface RoundRobin {
  readonly kind: "roundRobin"
  readonly events: number
  readonly streams: number
}

/** W2: `events` single-event appends to one stream; `window` is the fraction timed at each end. */
export interface OneStream {
  readonly kind: "oneStream"
  readonly events: number
  readonly window: number
}

/** W3: `events` single-event appends, each to a new stream (expected `noStream`), `concurrency` in flight. */
export interface ConcurrentNewStreams {
  readonly kind: "concurrentNewStreams"
  readonly events: number
  readonly concurrency: number
}

/**
 * W4: `batches` appends of `batchSize` events each, with exact expected versions: to one
 * stream, or with `concurrency` > 1 spread round-robin over that many streams, one
 * writer per stream, all writing at once.
 */
export interface Batches {
  readonly kind: "batches"
  readonly batches: number
  readonly batchSize: number
  readonly concurrency?: number
}

/** W5: read one `events`-event stream (appended untimed, in the largest batches the contract takes) and fold it. */
export interface ReplayFold {
  readonly kind: "replayFold"
  readonly events: number
}

/**
 * W6: the command handler. Open `accounts` accounts (untimed), then time `commands`
 * deposits and withdrawals over them in an order fixed by `seed`, one at a time.
 * Rates are commands/s.
 */
export interface Commands {
  readonly kind: "commands"
  readonly accounts: number
  readonly commands: number
  readonly seed: number
}

/**
 * W7: a hot stream. Open one account (untimed), then send it `commands` deposits all at
 * once, through the handler's default retry. Every one must succeed. Rates are commands/s.
 */
export interface HotStream {
  readonly kind: "hotStream"
  readonly commands: number
}

/**
 * W8: a fleet of accounts in one stream (`Decider.many`): `commands` commands, each
 * opening a new account, so the fleet grows to `commands` ids. They go in windows of
 * `window` (a fraction of all), each window's commands `inFlight` at a time; the first and
 * the last window are timed separately (flatness = last / first). Rates are commands/s.
 */
export interface Fleet {
  readonly kind: "fleet"
  readonly commands: number
  readonly window: number
  readonly inFlight: number
}

/** F1: `events` single-event appends by `writers` concurrent writers, each to its own stream, exact versions. */
export interface ConcurrentWriters {
  readonly kind: "concurrentWriters"
  readonly events: number
  readonly writers: number
}

/**
 * F2: open a store of `events` events. The store is built once per process (untimed, in
 * large batches) and reused by every run; the timed part is opening it until it answers
 * its first query. The rate is `events` / open time.
 */
export interface Open {
  readonly kind: "open"
  readonly events: number
}

/** F3: read the whole global log of an `events`-event store (built as for F2), counting events. */
export interface ReadAll {
  readonly kind: "readAll"
  readonly events: number
}

/**
 * S1–S3: load one `events`-event stream through a `CommandHandler` that holds no state of
 * it, on the `layer` given. The stream has a snapshot at `events - tail` (both built once
 * per process, untimed): the subject loads the snapshot and the tail, the peer (a handler
 * without snapshots) reads the whole stream. The rate is `events` / load time, so the
 * ratio is how many times faster the snapshot makes the load; both must give the same
 * state (the sum of `amount`).
 */
export interface SnapshotLoad {
  readonly kind: "snapshotLoad"
  readonly layer: "memory" | "file" | "postgres"
  readonly events: number
  readonly tail: number
}

export type WorkloadSpec =
  | RoundRobin
  | OneStream
  | ConcurrentNewStreams
  | Batches
  | ReplayFold
  | Commands
  | HotStream
  | Fleet
  | ConcurrentWriters
  | Open
  | ReadAll
  | SnapshotLoad

export type WorkloadKind = WorkloadSpec["kind"]

export interface Workload {
  readonly id: string
  readonly title: string
  readonly spec: WorkloadSpec
}

export const workloads: ReadonlyArray<Workload> = [
  {
    id: "W1",
    title: "100k single-event appends, exact versions, 1,000 streams round-robin",
    spec: { kind: "roundRobin", events: 100_000, streams: 1_000 }
  },
  {
    id: "W2",
    title: "100k single-event appends to one stream (first/last 10%)",
    spec: { kind: "oneStream", events: 100_000, window: 0.1 }
  },
  {
    id: "W3",
    title: "100k appends to new streams (noStream), 100 in flight",
    spec: { kind: "concurrentNewStreams", events: 100_000, concurrency: 100 }
  },
  {
    id: "W4",
    title: "100 batches of 1,000 events, one append each",
    spec: { kind: "batches", batches: 100, batchSize: 1_000 }
  },
  {
    id: "W5",
    title: "read + fold one 100k-event stream",
    spec: { kind: "replayFold", events: 100_000 }
  },
  {
    id: "W6",
    title: "command handler: 1,000 accounts, 20k deposits/withdrawals (commands/s)",
    spec: { kind: "commands", accounts: 1_000, commands: 20_000, seed: 42 }
  },
  {
    id: "W7",
    title: "hot stream: 1,000 concurrent deposits to one account, default retry (commands/s)",
    spec: { kind: "hotStream", commands: 1_000 }
  },
  {
    id: "W8",
    title: "fleet: Decider.many over 100,000 ids in one stream, 100 in flight (first/last 10%, commands/s)",
    spec: { kind: "fleet", commands: 100_000, window: 0.1, inFlight: 100 }
  },
  {
    id: "F1",
    title: "100 concurrent writers, single-event appends, each to its own stream",
    spec: { kind: "concurrentWriters", events: 100_000, writers: 100 }
  },
  {
    id: "F2",
    title: "open a 1,000,000-event store (rate = events / open time)",
    spec: { kind: "open", events: 1_000_000 }
  },
  {
    id: "F3",
    title: "read all of a 1,000,000-event store",
    spec: { kind: "readAll", events: 1_000_000 }
  },
  {
    id: "S1",
    title: "load a 100k-event stream, snapshot at 99,900 vs full replay: memory",
    spec: { kind: "snapshotLoad", layer: "memory", events: 100_000, tail: 100 }
  },
  {
    id: "S2",
    title: "load a 100k-event stream, snapshot at 99,900 vs full replay: file",
    spec: { kind: "snapshotLoad", layer: "file", events: 100_000, tail: 100 }
  },
  {
    id: "S3",
    title: "load a 100k-event stream, snapshot at 99,900 vs full replay: PostgreSQL",
    spec: { kind: "snapshotLoad", layer: "postgres", events: 100_000, tail: 100 }
  }
]

/** How many events a spec moves. */
export const eventCount = (spec: WorkloadSpec): number => {
  switch (spec.kind) {
    case "batches":
      return spec.batches * spec.batchSize
    case "commands":
    case "hotStream":
    case "fleet":
      return spec.commands
    default:
      return spec.events
  }
}

/** How many payloads a spec needs built (W6 builds its own commands; F2/F3 build their store in batches). */
export const payloadCount = (spec: WorkloadSpec): number => {
  switch (spec.kind) {
    case "commands":
    case "hotStream":
    case "fleet":
      return 0
    case "open":
    case "readAll":
      return Math.min(spec.events, 100_000)
    default:
      return eventCount(spec)
  }
}

/**
 * The spec with `inFlight` appends in flight, for the workloads that run concurrently
 * (W3, F1: appends in flight; W4: concurrent batch writers); others are returned as is.
 */
export const withInFlight = (spec: WorkloadSpec, inFlight: number): WorkloadSpec => {
  switch (spec.kind) {
    case "concurrentNewStreams":
      return { ...spec, concurrency: inFlight }
    case "concurrentWriters":
      return { ...spec, writers: Math.min(inFlight, spec.events) }
    case "batches":
      return { ...spec, concurrency: Math.min(inFlight, spec.batches) }
    default:
      return spec
  }
}

/**
 * The spec scaled to `events` events (W1 keeps its stream count, W4 its batch size).
 * Used by `--scale` and by targets that cap a workload (see `Target.caps`).
 */
export const withEvents = (spec: WorkloadSpec, events: number): WorkloadSpec => {
  const n = Math.max(1, Math.round(events))
  switch (spec.kind) {
    case "roundRobin":
      return { ...spec, events: n, streams: Math.min(spec.streams, n) }
    case "concurrentWriters":
      return { ...spec, events: n, writers: Math.min(spec.writers, n) }
    case "commands":
      return { ...spec, commands: n, accounts: Math.min(spec.accounts, n) }
    case "hotStream":
    case "fleet":
      return { ...spec, commands: n }
    case "oneStream":
    case "concurrentNewStreams":
    case "replayFold":
    case "open":
    case "readAll":
      return { ...spec, events: n }
    case "snapshotLoad":
      return { ...spec, events: n, tail: Math.min(spec.tail, n) }
    case "batches":
      return { ...spec, batches: Math.max(1, Math.round(n / spec.batchSize)) }
  }
}

// ---------------------------------------------------------------------------
// Targets
// ---------------------------------------------------------------------------

/**
 * What one timed run produced.
 *
 * - `events` / `seconds`: the events moved and the wall time of the timed part only.
 * - `first` / `last`: for W2 and W8, the rates (events or commands/s) of the first and last window.
 * - `check`: a number the harness verifies (W5, S1–S3: the fold's result).
 */
export interface Measurement {
  readonly events: number
  readonly seconds: number
  readonly first?: number
  readonly last?: number
  readonly check?: number
  /** A memory figure taken after the clock stopped (see `MemoryUse`). */
  readonly memory?: MemoryUse
}

/**
 * What a store holds in memory: the heap it retains per event once the workload is done
 * (after a full GC), or how far the process's RSS rose above where it started while the
 * workload ran (a read that must not hold every event at once).
 */
export interface MemoryUse {
  readonly what: "heap retained per event" | "peak RSS growth"
  readonly bytes: number
}

/** A full GC (`--expose-gc` set at run time), so heap figures count only what is still reachable. */
export const collectGarbage = (() => {
  const exposed: unknown = Reflect.get(globalThis, "gc")
  if (typeof exposed === "function") return () => void exposed()
  setFlagsFromString("--expose-gc")
  const created: unknown = runInNewContext("gc")
  return typeof created === "function" ? () => void created() : () => undefined
})()

/** The heap in use after a full GC: take it before a store is built and again after. */
export const heapAfterGc = (): number => {
  collectGarbage()
  return process.memoryUsage().heapUsed
}

/**
 * Samples the process's RSS every 20 ms until `stop` is called, which returns the peak
 * above the RSS at the start. A timer, not a per-event hook, so the timed loop pays nothing.
 */
export const watchRss = (): (() => number) => {
  const start = process.memoryUsage.rss()
  let peak = start
  const timer = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage.rss())
  }, 20)
  return () => {
    clearInterval(timer)
    return Math.max(peak, process.memoryUsage.rss()) - start
  }
}

/** Runs one workload of kind `K` on a fresh store. */
export type Runner<K extends WorkloadKind> = (
  spec: Extract<WorkloadSpec, { readonly kind: K }>,
  data: ReadonlyArray<Payload>
) => Promise<Measurement>

export type Runners = { readonly [K in WorkloadKind]?: Runner<K> }

export interface Target {
  /** Shown in the table, e.g. "es-kernel memory". */
  readonly name: string
  /**
   * "subject" is es-kernel; "peer" is what the ratio divides by; "limit" is a physical
   * reference (the disk's own write+fdatasync loop), which the subject is compared to as well.
   */
  readonly role: "subject" | "peer" | "limit"
  readonly runners: Runners
  /**
   * Optional caps on the events of a workload, by workload id, for a peer whose cost
   * grows so fast with the store's size that the full workload would take minutes.
   * The table marks a capped cell; the ratio is then a lower bound (the peer ran the
   * easier, smaller case).
   */
  readonly caps?: { readonly [workloadId: string]: number }
  /** Releases what the target kept between runs (F2/F3's prebuilt store); called once at the end. */
  readonly dispose?: () => Promise<void>
}

/** Runs `spec` with the runner of its kind, if the target has one. */
export const runWorkload = (
  target: Target,
  spec: WorkloadSpec,
  data: ReadonlyArray<Payload>
): Promise<Measurement> | undefined => {
  switch (spec.kind) {
    case "roundRobin":
      return target.runners.roundRobin?.(spec, data)
    case "oneStream":
      return target.runners.oneStream?.(spec, data)
    case "concurrentNewStreams":
      return target.runners.concurrentNewStreams?.(spec, data)
    case "batches":
      return target.runners.batches?.(spec, data)
    case "replayFold":
      return target.runners.replayFold?.(spec, data)
    case "commands":
      return target.runners.commands?.(spec, data)
    case "hotStream":
      return target.runners.hotStream?.(spec, data)
    case "fleet":
      return target.runners.fleet?.(spec, data)
    case "concurrentWriters":
      return target.runners.concurrentWriters?.(spec, data)
    case "open":
      return target.runners.open?.(spec, data)
    case "readAll":
      return target.runners.readAll?.(spec, data)
    case "snapshotLoad":
      return target.runners.snapshotLoad?.(spec, data)
  }
}

// ---------------------------------------------------------------------------
// Helpers for targets
// ---------------------------------------------------------------------------

/** A monotonic clock, in milliseconds. */
export const now = (): number => performance.now()

/** The payload for the `i`-th event of a workload, cycling through `data`. */
export const at = (data: ReadonlyArray<Payload>, i: number): Payload => {
  const p = data[i % data.length]
  if (p === undefined) throw new Error("bench: no payloads")
  return p
}

/** The window boundaries of W2: events [0, head) and [tail, events) are timed separately. */
export const windows = (spec: OneStream): { readonly head: number; readonly tail: number } => {
  const size = Math.max(1, Math.floor(spec.events * spec.window))
  return { head: size, tail: spec.events - size }
}

/**
 * W2's measurement from its four clock readings: start, end of the first window, start of
 * the last window, end. A run too short to reach the first window's end counts it at the end.
 */
export const oneStreamMeasurement = (
  spec: OneStream,
  clock: { readonly t0: number; readonly headEnd: number; readonly tailStart: number; readonly t1: number }
): Measurement => {
  const { head, tail } = windows(spec)
  const headEnd = head >= spec.events ? clock.t1 : clock.headEnd
  return {
    events: spec.events,
    seconds: (clock.t1 - clock.t0) / 1000,
    first: head / ((headEnd - clock.t0) / 1000),
    last: (spec.events - tail) / ((clock.t1 - clock.tailStart) / 1000)
  }
}

/**
 * W6's commands, fixed by `spec.seed`: `spec.commands` deposits and withdrawals over
 * accounts `0 .. spec.accounts - 1`, each account chosen at random (a 32-bit LCG, so every
 * target gets the same sequence). Withdrawals are small against the opening balance, so
 * none is rejected: every command appends exactly one event.
 */
export interface BankCommand {
  readonly account: number
  readonly kind: "Deposit" | "Withdraw"
  readonly amount: number
}

/** The opening balance of every W6 account, in cents. */
export const openingBalance = 1_000_000

export const bankCommands = (spec: Commands): ReadonlyArray<BankCommand> => {
  let x = spec.seed >>> 0
  const next = (): number => {
    x = (Math.imul(x, 1664525) + 1013904223) >>> 0
    return x
  }
  return Array.from({ length: spec.commands }, (): BankCommand => {
    const account = next() % spec.accounts
    const r = next()
    return { account, kind: r % 3 === 0 ? "Withdraw" : "Deposit", amount: 1 + (r >>> 8) % 100 }
  })
}

/** The balance every W6 target must end with, summed over all accounts. */
export const expectedBalance = (spec: Commands): number =>
  bankCommands(spec).reduce(
    (sum, c) => sum + (c.kind === "Deposit" ? c.amount : -c.amount),
    spec.accounts * openingBalance
  )

/** W6: account `i`'s id. */
export const accountId = (i: number): string => `acc${String(i).padStart(6, "0")}`

/** W7: the amount of the `i`-th deposit to the hot account. */
export const hotDeposit = (i: number): number => 1 + (i % 100)

/** The balance the W7 account must end with (it opens with 0). */
export const expectedHotBalance = (spec: HotStream): number => {
  let sum = 0
  for (let i = 0; i < spec.commands; i++) sum += hotDeposit(i)
  return sum
}

/** W8: the opening balance of the `i`-th account of the fleet. */
export const fleetOpening = (i: number): number => i % 1_000

/** The balance the W8 fleet must end with, summed over all accounts. */
export const expectedFleetBalance = (spec: Fleet): number => {
  let sum = 0
  for (let i = 0; i < spec.commands; i++) sum += fleetOpening(i)
  return sum
}

/** W8's windows: `[start, end)` command index ranges, in order, each `spec.window` of all. */
export const fleetWindows = (spec: Fleet): ReadonlyArray<readonly [number, number]> => {
  const size = Math.max(1, Math.floor(spec.commands * spec.window))
  const windows: Array<readonly [number, number]> = []
  for (let start = 0; start < spec.commands; start += size) windows.push([start, Math.min(spec.commands, start + size)])
  return windows
}

/** W8's measurement from each window's duration in milliseconds. */
export const fleetMeasurement = (spec: Fleet, windowMillis: ReadonlyArray<number>): Measurement => {
  const windows = fleetWindows(spec)
  const rateOf = (i: number): number => {
    const [start, end] = windows[i] ?? [0, 0]
    return (end - start) / ((windowMillis[i] ?? Number.NaN) / 1000)
  }
  return {
    events: spec.commands,
    seconds: windowMillis.reduce((a, b) => a + b, 0) / 1000,
    first: rateOf(0),
    last: rateOf(windows.length - 1)
  }
}
