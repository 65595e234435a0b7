/**
 * Which event store an example runs on: `--store memory` (the default),
 * `--store file:<directory>` or `--store postgres://<user>@<host>:<port>/<database>`. On
 * the file and PostgreSQL stores a second run continues the first run's history; on
 * PostgreSQL each example keeps its store in a schema named after it (`bank_account`, …),
 * so the examples can share one database.
 * Projections and process managers keep their checkpoints beside the store: in memory, in
 * `<directory>/projections`, or in the example's schema on PostgreSQL.
 */
import * as path from "node:path"
import { Layer } from "effect"
import { CheckpointStore, EventStoreFile, EventStoreMemory } from "es-kernel"
import type { EventStore } from "es-kernel"
import * as EventStorePostgres from "es-kernel/postgres"

export interface ChosenStore {
  readonly description: string
  readonly layer: Layer.Layer<
    EventStore.EventStore,
    | EventStore.StorageError
    | EventStoreFile.FileStoreLocked
    | EventStoreFile.FileStoreCorrupt
    | EventStorePostgres.SchemaTooNew
    | EventStorePostgres.PositionsWouldGoBackwards
  >
  readonly checkpoints: Layer.Layer<CheckpointStore.CheckpointStore, EventStore.StorageError | EventStorePostgres.SchemaTooNew>
}

// The running example's name as a schema name: examples/bank-account.ts → bank_account.
const exampleSchema = (): string =>
  path.basename(process.argv[1] ?? "example", ".ts").toLowerCase().replace(/[^a-z0-9_]/g, "_")

export const storeFromArgs = (args: ReadonlyArray<string> = process.argv.slice(2)): ChosenStore => {
  const flag = args.indexOf("--store")
  const choice = flag === -1 ? "memory" : args[flag + 1] ?? ""
  if (choice === "memory") return { description: "memory", layer: EventStoreMemory.layer, checkpoints: CheckpointStore.layerMemory }
  if (choice.startsWith("file:") && choice.length > "file:".length) {
    const directory = choice.slice("file:".length)
    return {
      description: `file log in ${directory}`,
      layer: EventStoreFile.layer({ directory }),
      checkpoints: CheckpointStore.layerFile({ directory: path.join(directory, "projections") })
    }
  }
  if (choice.startsWith("postgres://") || choice.startsWith("postgresql://")) {
    const schema = exampleSchema()
    return {
      description: `PostgreSQL (schema ${schema})`,
      layer: EventStorePostgres.layer({ url: choice, schema, maxConnections: 4 }),
      checkpoints: EventStorePostgres.layerCheckpoints({ url: choice, schema, maxConnections: 3 })
    }
  }
  throw new Error(`--store takes "memory", "file:<directory>" or "postgres://<user>@<host>/<database>", not "${choice}"`)
}
