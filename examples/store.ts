/**
 * Which event store an example runs on: `--store memory` (the default) or
 * `--store file:<directory>`, where a second run continues the first run's history.
 */
import { Layer } from "effect"
import { EventStoreFile, EventStoreMemory } from "es-kernel"
import type { EventStore } from "es-kernel"

export interface ChosenStore {
  readonly description: string
  readonly layer: Layer.Layer<EventStore.EventStore, EventStore.StorageError | EventStoreFile.FileStoreLocked | EventStoreFile.FileStoreCorrupt>
}

export const storeFromArgs = (args: ReadonlyArray<string> = process.argv.slice(2)): ChosenStore => {
  const flag = args.indexOf("--store")
  const choice = flag === -1 ? "memory" : args[flag + 1] ?? ""
  if (choice === "memory") return { description: "memory", layer: EventStoreMemory.layer }
  if (choice.startsWith("file:") && choice.length > "file:".length) {
    const directory = choice.slice("file:".length)
    return { description: `file log in ${directory}`, layer: EventStoreFile.layer({ directory }) }
  }
  throw new Error(`--store takes "memory" or "file:<directory>", not "${choice}"`)
}
