import * as fs from "node:fs"
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { SnapshotStore } from "es-kernel"
import { cleanup, tempDirectory } from "./file/helpers.js"
import { snapshotStoreConformance } from "./snapshot/conformance.js"

snapshotStoreConformance("memory", () => ({ layer: SnapshotStore.layerMemory }))

snapshotStoreConformance("file", () => {
  const directory = tempDirectory()
  return { layer: SnapshotStore.layerFile({ directory }), done: () => cleanup(directory) }
}, { numRuns: 40 })

describe("SnapshotStore.layerFile", () => {
  it.live("a damaged snapshot file is a miss with a reason, never an error", () =>
    Effect.gen(function*() {
      const directory = tempDirectory()
      const snapshots = yield* Effect.provide(SnapshotStore.SnapshotStore.useSync((service) => service), SnapshotStore.layerFile({ directory }))
      yield* snapshots.save({ streamId: "counter-a", version: 2, stateVersion: 1, state: 2 })
      const [file] = fs.readdirSync(directory)
      fs.writeFileSync(`${directory}/${file ?? ""}`, "{\"streamId\":\"count")
      expect(yield* snapshots.load("counter-a", 1)).toEqual({ _tag: "Unusable", reason: "the snapshot file is not JSON" })
      cleanup(directory)
    }))
})
