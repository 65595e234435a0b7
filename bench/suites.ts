/**
 * Suites: which targets run side by side, chosen by the CLI's first argument, and the
 * bar (ARCHITECTURE.md §7) each workload is held to. Targets are imported lazily, so a
 * suite only loads what it runs.
 *
 * To add a suite (`file`, `handler`): add an entry here whose `targets` imports its
 * target modules.
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
}

export interface Suite {
  readonly description: string
  readonly targets: () => Promise<ReadonlyArray<Target>>
  readonly bar: { readonly [workloadId: string]: Bar }
}

export const suites: { readonly [name: string]: Suite } = {
  memory: {
    description: "es-kernel's memory layer vs Emmett's in-memory event store",
    targets: async () => {
      const { eskernelMemory } = await import("./targets/eskernel-memory.js")
      const { emmettMemory } = await import("./targets/emmett-memory.js")
      return [eskernelMemory, emmettMemory]
    },
    bar: {
      W1: { minRate: 1_000_000, minRatio: 10 },
      W2: { minFlatness: 0.8 },
      W3: { minRatio: 10 },
      W5: { minRate: 5_000_000 }
    }
  }
}
