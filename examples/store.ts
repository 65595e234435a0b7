/**
 * Which event store an example runs on: `--store memory` (the default) or
 * `--store file:<directory>`, where a second run continues the first run's history.
 * Projections and process managers keep their checkpoints beside it: in memory, or in
 * `<directory>/projections`.
 */
import { join } from "node:path"
import { Layer } from "effect"
import { CheckpointStore, EventStoreFile, EventStoreMemory } from "es-kernel"
import type { EventStore } from "es-kernel"

export interface ChosenStore {
  readonly description: string
  readonly layer: Layer.Layer<EventStore.EventStore, EventStore.StorageError | EventStoreFile.FileStoreLocked | EventStoreFile.FileStoreCorrupt>
  readonly checkpoints: Layer.Layer<CheckpointStore.CheckpointStore>
}

export const storeFromArgs = (args: ReadonlyArray<string> = process.argv.slice(2)): ChosenStore => {
  const flag = args.indexOf("--store")
  const choice = flag === -1 ? "memory" : args[flag + 1] ?? ""
  if (choice === "memory") return { description: "memory", layer: EventStoreMemory.layer, checkpoints: CheckpointStore.layerMemory }
  if (choice.startsWith("file:") && choice.length > "file:".length) {
    const directory = choice.slice("file:".length)
    return {
      description: `file log in ${directory}`,
      layer: EventStoreFile.layer({ directory }),
      checkpoints: CheckpointStore.layerFile({ directory: join(directory, "projections") })
    }
  }
  throw new Error(`--store takes "memory" or "file:<directory>", not "${choice}"`)
}
