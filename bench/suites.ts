/**
 * Suites: which targets run side by side, chosen by the CLI's first argument, and the
 * bar (docs/BENCHMARKS.md) each workload is held to. Targets are imported lazily, so a
 * suite only loads what it runs.
 *
 * To add a suite: add an entry here whose `targets` imports its target modules and whose
 * `workloads` lists the workload ids it runs.
 */
import type { Target } from "./workloads.js"

/** What a workload must reach; every given field is checked. */
export interface Bar {
  /** The subject's events/s. */
  readonly minRate?: number
  /** The subject's events/s over the peer's. */
  readonly minRatio?: number
  /** W2: the subject's last-window rate over its first-window rate. */
  readonly minFlatness?: number
  /** The "limit" target's rate over the subject's may be at most this (e.g. 1.5: within 1.5× of the disk). */
  readonly maxBelowLimit?: number
}

export interface Suite {
  readonly description: string
  readonly targets: () => Promise<ReadonlyArray<Target>>
  /** The workload ids this suite runs, in order. */
  readonly workloads: ReadonlyArray<string>
  /**
   * Event (or command) counts that replace a workload's default size in this suite, for
   * every target (before `--scale` and the targets' own caps). Printed with the results.
   */
  readonly sizes?: { readonly [workloadId: string]: number }
  /** Appends (W3, F1) or batch writers (W4) in flight, replacing the workload's default. */
  readonly inFlight?: { readonly [workloadId: string]: number }
  /** Said with the results: why sizes differ, what a row means. */
  readonly notes?: ReadonlyArray<string>
  readonly bar: { readonly [workloadId: string]: Bar }
}

export const suites: { readonly [name: string]: Suite } = {
  memory: {
    description: "es-kernel's memory layer vs Emmett's in-memory event store",
    targets: async () => {
      const { eskernelMemory } = await import("./targets/eskernel-memory.js")
      const { emmettMemory } = await import("./targets/emmett-memory.js")
      const { jsFloor } = await import("./targets/js-floor.js")
      return [eskernelMemory, emmettMemory, jsFloor]
    },
    workloads: ["W1", "W2", "W3", "W4", "W5"],
    notes: [
      "plain JS floor (W1, W4) = a loop that keeps what the contract makes every event keep (a frozen deep copy of its data, " +
        "a 36-character id, a frozen record, a Date per millisecond) and nothing else: no Effect, no checks. No store that keeps those can beat it."
    ],
    bar: {
      W1: { minRatio: 10 },
      W2: { minFlatness: 0.8 },
      W3: { minRatio: 10 },
      W4: { minRatio: 5 },
      W5: { minRate: 5_000_000, minRatio: 2 }
    }
  },

  file: {
    description:
      "es-kernel's file layer (durable, default sync) vs Emmett's SQLite store (@event-driven-io/emmett-sqlite), " +
      "with the disk's own write+fdatasync loop as the physical limit",
    targets: async () => {
      const { eskernelFile } = await import("./targets/eskernel-file.js")
      const { emmettSqlite, loadEmmettSqlite } = await import("./targets/emmett-sqlite.js")
      await loadEmmettSqlite() // fails early, with the install instructions, when bench/node_modules is missing
      const { diskSync } = await import("./targets/disk-sync.js")
      return [eskernelFile, emmettSqlite, diskSync]
    },
    workloads: ["W1", "W2", "W3", "W4", "W5", "F1", "F2", "F3"],
    // Every single-event append of a durable store waits for at least one fdatasync
    // (≈ 1,000–2,500/s on this disk), so the single-writer workloads run at a few
    // thousand events, not 100,000. The concurrent ones (group commit) run at full size:
    // at 20,000 events a run lasts under a second and mostly measures the ramp-up.
    sizes: { W1: 3_000, W2: 3_000 },
    notes: [
      "Sizes scaled down for durable stores (every single append waits for an fdatasync): " +
        "W1 and W2 at 3,000 events; W3, W4, W5, F1 at full size; F2/F3 over a 1,000,000-event store " +
        "built once per process and reopened each run (warm page cache).",
      "disk = a raw loop in the stores' directory: writeSync 300 bytes + fdatasyncSync, one at a time (W1 and W2 run the same loop)."
    ],
    bar: {
      W1: { maxBelowLimit: 1.5 },
      W2: { maxBelowLimit: 1.5 },
      F1: { minRate: 100_000 },
      F2: { minRate: 1_000_000 },
      F3: { minRate: 1_000_000 }
    }
  },

  handler: {
    description:
      "es-kernel's CommandHandler on the memory layer vs Emmett's DeciderCommandHandler on its in-memory store, " +
      "same bank decider (examples/bank/Account.ts)",
    targets: async () => {
      const { eskernelHandler, eskernelHandlerTraced } = await import("./targets/eskernel-handler.js")
      const { emmettHandler } = await import("./targets/emmett-handler.js")
      return [eskernelHandler, emmettHandler, eskernelHandlerTraced]
    },
    workloads: ["W6", "W7", "W8"],
    notes: [
      "Rates are commands/s (each command appends one event).",
      "W6 runs es-kernel twice: as it is (no tracing backend, so no spans, like Emmett) and with a tracer installed (a span per command); the ratio is the first's.",
      "W7: Emmett with its own version-conflict retry (retry: { onVersionConflict: true }); with its default (none) 1 of 1,000 succeeds.",
      "W8: Emmett has no many() combinator (dash)."
    ],
    bar: {
      W6: { minRatio: 5 },
      W8: { minFlatness: 1 / 1.5 }
    }
  },

  "handler-file": {
    description: "es-kernel's CommandHandler on the durable file layer (default sync: every append waits for its fdatasync)",
    targets: async () => {
      const { eskernelHandlerFile } = await import("./targets/eskernel-handler.js")
      return [eskernelHandlerFile]
    },
    workloads: ["W6", "W7", "W8"],
    // W6 handles one command at a time, so every command waits for a sync of its own.
    sizes: { W6: 2_000 },
    notes: [
      "Rates are commands/s (each command appends one event). W6 scaled to 2,000 commands: one at a time, each waits for its own fdatasync.",
      "No Emmett row: its SQLite store on one connection runs transactions one at a time, and with a connection per operation it crashes under concurrency (see the file suite)."
    ],
    bar: {
      W7: { minRate: 1_000 / 7.2 },
      W8: { minFlatness: 1 / 1.5 }
    }
  },

  postgres: {
    description:
      "es-kernel's PostgreSQL layer vs Emmett's PostgreSQL store (@event-driven-io/emmett-postgresql 0.42.0), " +
      "both on the local server (127.0.0.1:5432), each run in a fresh database",
    targets: async () => {
      const { eskernelPostgres } = await import("./targets/eskernel-postgres.js")
      const { emmettPostgres, loadEmmettPostgres } = await import("./targets/emmett-postgres.js")
      await loadEmmettPostgres() // fails early, with the install instructions, when bench/node_modules is missing
      return [eskernelPostgres, emmettPostgres]
    },
    workloads: ["W1", "W3", "W4", "W5", "W6"],
    // Every single append waits for a commit (one fsync shared by whatever commits with
    // it), so the one-at-a-time workloads (W1, W6) run at a few thousand.
    sizes: { W1: 5_000, W3: 30_000, W6: 5_000 },
    inFlight: { W3: 50, W4: 4 },
    notes: [
      "Sizes: W1 5,000 appends and W6 5,000 commands (one at a time, each waits for its commit); " +
        "W3 30,000 appends with 50 in flight; W4 100 batches of 1,000 by 4 concurrent writers (25 batches each, " +
        "own stream, exact versions); W5 a 100,000-event stream.",
      "W6 is the bank handler (examples/bank/Account.ts) on each PostgreSQL store: es-kernel's CommandHandler " +
        "vs Emmett's DeciderCommandHandler."
    ],
    bar: {
      W1: { minRatio: 1 },
      W3: { minRatio: 5 },
      W4: { minRate: 50_000 },
      W5: { minRatio: 1 },
      W6: { minRatio: 5 }
    }
  },

  snapshots: {
    description:
      "es-kernel's CommandHandler loading a 100,000-event stream it holds no state of: from a snapshot at 99,900 " +
      "plus the 100-event tail (snapshots option) vs reading it whole (no snapshots), on the memory, file and " +
      "PostgreSQL (local server) layers",
    targets: async () => {
      const { eskernelReplay, eskernelSnapshot } = await import("./targets/eskernel-snapshots.js")
      return [eskernelSnapshot, eskernelReplay]
    },
    workloads: ["S1", "S2", "S3"],
    notes: [
      "Rate = the stream's events / load time, so the ratio is the load time without the snapshot over the time with it.",
      "Each layer's stream and snapshot are built once per process (untimed); each run makes a new handler, so " +
        "nothing is cached, and both loads must fold to the same sum."
    ],
    bar: { S1: { minRatio: 10 }, S2: { minRatio: 10 }, S3: { minRatio: 10 } }
  }
}
