import { spawn } from "node:child_process"
import * as fs from "node:fs"
import type { FileHandle } from "node:fs/promises"
import * as path from "node:path"
import { Effect, Exit, Layer, Stream } from "effect"
import { describe, expect, it } from "vitest"
import { EventStore } from "../../src/EventStore.js"
import * as EventStoreFile from "../../src/EventStoreFile.js"
import { encodeRecord, hashString } from "../../src/internal/file/frame.js"
import { encodeIdx, idxName } from "../../src/internal/file/indexFile.js"
import { nodeIo } from "../../src/internal/file/io.js"
import type { FileIo } from "../../src/internal/file/io.js"
import { layerWithIo } from "../../src/internal/file/layer.js"
import { segmentName } from "../../src/internal/file/segments.js"
import { directoriesPerTest } from "./helpers.js"

const freshDirectory = directoriesPerTest()

const repoRoot = path.resolve(import.meta.dirname, "../..")

// Writes a store of `segments` one-record segments directly, with an idx file for each
// sealed one: what thousands of rolls would leave, without thousands of fsyncs.
const writeManySegments = (directory: string, segments: number): void => {
  for (let segment = 1; segment <= segments; segment++) {
    const streamNo = (segment - 1) % 2
    const version = Math.ceil(segment / 2)
    const eventId = `e-${segment}`
    const frame = encodeRecord(
      { streamNo, streamId: `many-${streamNo}`, firstPosition: segment, firstVersion: version, recordedAt: 0, eventIds: [eventId] },
      [{ type: "Added", schemaVersion: 1, data: segment, metadata: {} }]
    )
    fs.writeFileSync(path.join(directory, segmentName(segment)), frame)
    if (segment === segments) break
    fs.writeFileSync(path.join(directory, idxName(segment)), encodeIdx({
      records: 1,
      events: 1,
      firstStreamNo: segment === 1 ? 0 : segment === 2 ? 1 : 2,
      streamIds: segment <= 2 ? [`many-${streamNo}`] : [],
      logBytes: frame.length,
      firstPosition: Float64Array.of(segment),
      offset: Float64Array.of(0),
      firstVersion: Uint32Array.of(version),
      count: Uint32Array.of(1),
      streamNo: Uint32Array.of(streamNo),
      length: Uint32Array.of(frame.length),
      hashes: Uint32Array.of(hashString(eventId))
    }))
  }
}

const runUnderFdLimit = (limit: number, directory: string, access = "write"): Promise<string> =>
  new Promise((resolve, reject) => {
    const script = path.join(repoRoot, "test/file/openManySegments.ts")
    const child = spawn("bash", ["-c", `ulimit -n ${limit} && exec "$0" --import tsx "$1" "$2" "$3"`, process.execPath, script, directory, access], {
      cwd: repoRoot,
      stdio: ["ignore", "pipe", "inherit"]
    })
    let output = ""
    child.stdout.on("data", (data: Buffer) => (output += data.toString()))
    child.on("error", reject)
    child.on("exit", () => resolve(output.trim()))
  })

describe("EventStoreFile resources", () => {
  it("opens, reads and appends to a store of 1,600 segments under ulimit -n 256", async () => {
    const directory = freshDirectory()
    const segments = 1600
    writeManySegments(directory, segments)
    expect(await runUnderFdLimit(256, directory)).toBe(`events ${segments} ${segments / 2} ${segments} ${segments + 1}`)
  }, 120_000)

  it("opens and reads a store of 1,600 segments read-only under ulimit -n 256", async () => {
    const directory = freshDirectory()
    const segments = 1600
    writeManySegments(directory, segments)
    expect(await runUnderFdLimit(256, directory, "readonly")).toBe(`events ${segments} ${segments / 2} ${segments} -`)
  }, 120_000)

  it("closes the new segment and names it when the directory sync of a rotation fails", async () => {
    const directory = freshDirectory()
    const handles: Array<FileHandle> = []
    let failSyncs = false
    const tracked = async (opening: Promise<FileHandle>) => {
      const handle = await opening
      handles.push(handle)
      return handle
    }
    const io: FileIo = {
      ...nodeIo,
      open: (file, mode) => tracked(nodeIo.open(file, mode)),
      openSynced: (file, mode) => tracked((nodeIo.openSynced ?? nodeIo.open)(file, mode)),
      syncDirectory: (target) => failSyncs ? Promise.reject(new Error("EIO: injected directory sync failure")) : nodeIo.syncDirectory(target)
    }
    const exit = await Effect.runPromise(Effect.exit(Effect.provide(
      Effect.gen(function*() {
        const store = yield* EventStore
        yield* store.append("cart-1", [{ type: "Added", data: "x".repeat(200) }])
        failSyncs = true
        return yield* store.append("cart-1", [{ type: "Added", data: "x".repeat(200) }])
      }),
      Layer.fresh(layerWithIo({ directory, segmentSize: 100 }, io))
    )))
    expect(Exit.isFailure(exit)).toBe(true)
    const failure = Exit.isFailure(exit) ? exit.cause.reasons.map((reason) => reason._tag === "Fail" ? reason.error : reason)[0] : undefined
    expect(failure).toMatchObject({ _tag: "StorageError" })
    expect(String(Reflect.get(Object(failure), "reason"))).toContain(`syncing the directory entry of ${segmentName(2)}`)
    // Every descriptor the store opened through its I/O is closed once its scope is.
    expect(handles.length).toBeGreaterThanOrEqual(2)
    expect(handles.map((handle) => handle.fd)).toEqual(handles.map(() => -1))
  })

  it("opens and reads a store on a full disk, reporting the index files it could not rebuild", async () => {
    const directory = freshDirectory()
    await Effect.runPromise(Effect.provide(
      Effect.gen(function*() {
        const store = yield* EventStore
        for (let index = 0; index < 10; index++) yield* store.append("cart-1", [{ type: "Added", data: index }])
      }),
      Layer.fresh(EventStoreFile.layer({ directory, segmentSize: 200 }))
    ))
    for (const name of fs.readdirSync(directory)) if (name.endsWith(".idx")) fs.rmSync(path.join(directory, name))
    const full = () => Promise.reject(Object.assign(new Error("ENOSPC: no space left on device"), { code: "ENOSPC" }))
    const fullDisk: FileIo = {
      ...nodeIo,
      open: (file, mode) => mode === "w" || mode === "wx" ? full() : nodeIo.open(file, mode),
      writev: full
    }
    const reports: Array<EventStoreFile.FileStoreOpenReport> = []
    const events = await Effect.runPromise(Effect.provide(
      Effect.gen(function*() {
        const store = yield* EventStore
        return yield* Stream.runCount(store.readAll())
      }),
      Layer.fresh(layerWithIo({ directory, segmentSize: 200 }, fullDisk, (report) => reports.push(report)))
    ))
    expect(events).toBe(10)
    expect(reports[0]?.indexWriteFailure).toContain("ENOSPC")
    expect(fs.readdirSync(directory).filter((name) => name.endsWith(".tmp"))).toEqual([])
  })
})
