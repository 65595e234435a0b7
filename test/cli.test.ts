// The es-kernel command line run as a user runs it — a child process — on a file store that
// another process (test/cli/writer.ts) holds open and writes while the commands read it.
import * as fs from "node:fs"
import { join } from "node:path"
import { Effect, Stream } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { CheckpointStore, EventStore, EventStoreFile } from "es-kernel"
import { cli, cliRunning, removeDirectories, startWriter, temporaryDirectory } from "./cli/helpers.js"

let directory = ""
let writer: Awaited<ReturnType<typeof startWriter>>

beforeAll(async () => {
  directory = await temporaryDirectory()
  writer = await startWriter(directory)
  // 12 streams (order-0 … order-11, but cart-9), 4 events each, one per append, taking turns.
  await writer.fill(12, 4, 1)
}, 60_000)

afterAll(async () => {
  await writer.stop()
  await removeDirectories()
})

describe("es-kernel on a file store a writer holds open", { timeout: 240_000 }, () => {
  it("prints its commands on --help and exits 0; without a command it exits 2", async () => {
    const help = await cli(["--help"])
    expect(help.exitCode).toBe(0)
    for (const command of ["streams", "read", "tail", "stats", "verify", "export", "import", "projections"]) {
      expect(help.stdout).toContain(`  ${command} `)
    }
    expect(help.stdout).toContain("exit codes:")
    expect((await cli([])).exitCode).toBe(2)
  })

  it("explains every command on --help, exit codes included", async () => {
    const commands = ["streams", "read", "tail", "stats", "verify", "export", "import", "projections"]
    const helps = await Promise.all(commands.map((command) => cli([command, "--help"])))
    helps.forEach(({ exitCode, stdout }, index) => {
      expect(exitCode).toBe(0)
      expect(stdout).toContain(`usage: es-kernel ${commands[index]}`)
      expect(stdout).toContain("2    bad usage")
    })
  })

  it("refuses an unknown command, an unknown option and a missing argument with exit 2", async () => {
    const unknown = await cli(["inspect"])
    expect(unknown.exitCode).toBe(2)
    expect(unknown.stderr).toContain('unknown command "inspect"')
    const option = await cli(["streams", directory, "--force"])
    expect(option.exitCode).toBe(2)
    expect(option.stderr).toContain("Unknown option '--force'")
    expect(option.stderr).toContain("usage: es-kernel streams")
    const missing = await cli(["read", directory])
    expect(missing.exitCode).toBe(2)
    expect(missing.stderr).toContain("missing <stream>")
  })

  it("lists the streams with their versions, filtered by category, as a table or JSON", async () => {
    const all = await cli(["streams", directory])
    expect(all.exitCode).toBe(0)
    expect(all.stdout).toMatch(/^STREAM +VERSION +LAST WRITE$/m)
    expect(all.stdout).toMatch(/^order-0 +4 +\d{4}-/m)
    expect(all.stdout).toContain("12 stream(s)")
    const carts = await cli(["streams", directory, "--category", "cart", "--json"])
    const rows = carts.stdout.trim().split("\n").map((line) => JSON.parse(line))
    expect(rows.map((row) => [row.streamId, row.version])).toEqual([["cart-9", 4]])
  })

  it("reads a stream as a table, as JSON, and as of a version or a time", async () => {
    const table = await cli(["read", directory, "order-3"])
    expect(table.exitCode).toBe(0)
    expect(table.stdout).toMatch(/^VERSION +POSITION +TYPE +RECORDED AT +DATA$/m)
    expect(table.stdout).toContain("4 event(s); version 4")
    const json = await cli(["read", directory, "order-3", "--json", "--at", "2"])
    const events = json.stdout.trim().split("\n").map((line) => JSON.parse(line))
    expect(events.map((event) => [event.version, event.type, event.data.k])).toEqual([[1, "Placed", 0], [2, "Paid", 1]])
    const second = events[1]
    const asOf = await cli(["read", directory, "order-3", "--json", "--at", second.recordedAt])
    expect(asOf.stdout.trim().split("\n").length).toBeGreaterThanOrEqual(2)
    const before = await cli(["read", directory, "order-3", "--at", "2000-01-01T00:00:00Z"])
    expect(before.exitCode).toBe(0)
    expect(before.stderr).toContain("no events at that point")
    const bad = await cli(["read", directory, "order-3", "--at", "yesterday"])
    expect(bad.exitCode).toBe(2)
    expect(bad.stderr).toContain("--at takes a version")
  })

  it("tails the log: the last events, after a position, by type, and follows new appends live", async () => {
    const last = await cli(["tail", directory, "-n", "2"])
    expect(last.exitCode).toBe(0)
    expect(last.stdout.trim().split("\n").map((line) => line.split("  ")[0])).toEqual(["47", "48"])
    const after = await cli(["tail", directory, "--from", "45", "--type", "Paid", "--json"])
    const paid = after.stdout.trim().split("\n").map((line) => JSON.parse(line))
    expect(paid.every((event) => event.type === "Paid" && event.position > 45)).toBe(true)
    const following = cliRunning(["tail", directory, "--follow", "-n", "1", "--category", "shipment"])
    await new Promise((resolve) => setTimeout(resolve, 3000))
    const position = await writer.append("shipment-1", "Shipped")
    await following.waitFor(`${position}  shipment-1@1  Shipped`)
    expect(await following.interrupt()).toBe(130)
  })

  it("reports stats: counts, types, segments, as text and JSON", async () => {
    const text = await cli(["stats", directory])
    expect(text.exitCode).toBe(0)
    expect(text.stdout).toMatch(/^streams +1[23]$/m)
    expect(text.stdout).toMatch(/^segments +1: /m)
    const json = await cli(["stats", directory, "--json"])
    const stats = JSON.parse(json.stdout)
    expect(stats.types.Placed).toBe(24)
    expect(stats.storage.kind).toBe("file")
  })

  it("verifies a store while its writer runs, and says a missing directory cannot be read (exit 3)", async () => {
    const { exitCode, stdout } = await cli(["verify", directory])
    expect(exitCode).toBe(0)
    expect(stdout).toContain("intact — 1 segment(s)")
    const missing = await cli(["verify", join(directory, "nowhere")])
    expect(missing.exitCode).toBe(3)
    expect((await cli(["streams", join(directory, "nowhere")])).exitCode).toBe(3)
  })

  it("exports the log as NDJSON with a header and a trailer, and imports it into another file store", async () => {
    const exported = await cli(["export", directory])
    expect(exported.exitCode).toBe(0)
    const lines = exported.stdout.trim().split("\n").map((line) => JSON.parse(line))
    expect(lines[0]).toMatchObject({ format: "es-kernel/export", version: 1, source: "file" })
    expect(lines.at(-1)).toEqual({ end: "es-kernel/export", events: lines.length - 2 })
    const copy = await temporaryDirectory()
    const imported = await cli(["import", copy], exported.stdout)
    expect(imported.exitCode).toBe(0)
    expect(imported.stdout).toContain(`imported ${lines.length - 2} event(s)`)
    const again = await cli(["import", copy], exported.stdout)
    expect(again.exitCode).toBe(0)
    const copied = await cli(["export", copy])
    const strip = (text: string) => text.trim().split("\n").slice(1).map((line) => {
      const { recordedAt: _recordedAt, ...rest } = JSON.parse(line)
      return rest
    })
    expect(strip(copied.stdout)).toEqual(strip(exported.stdout))
  })

  it("refuses to import into a store its writer holds (exit 3) and a cut-short export (exit 1)", async () => {
    const exported = (await cli(["export", directory])).stdout
    const locked = await cli(["import", directory], exported)
    expect(locked.exitCode).toBe(3)
    const cut = exported.trim().split("\n").slice(0, 5).join("\n")
    const target = await temporaryDirectory()
    const short = await cli(["import", target], cut)
    expect(short.exitCode).toBe(1)
    expect(short.stderr).toContain("ends without the export's trailer")
  })

  it("lists projections with their lag, and rebuilds one only when no runner holds it", async () => {
    const checkpoints = await temporaryDirectory()
    const store = CheckpointStore.layerFile({ directory: checkpoints })
    await Effect.runPromise(Effect.gen(function*() {
      const checkpointStore = yield* CheckpointStore.CheckpointStore
      yield* checkpointStore.save("totals@1", { position: 40, state: { total: 1 } })
    }).pipe(Effect.provide(store)))
    const listed = await cli(["projections", directory, "--checkpoints", checkpoints])
    expect(listed.exitCode).toBe(0)
    expect(listed.stdout).toMatch(/^totals@1 +40 +\d+ /m)
    const held = await Effect.runPromise(Effect.scoped(Effect.gen(function*() {
      const checkpointStore = yield* CheckpointStore.CheckpointStore
      yield* checkpointStore.claim("totals@1")
      return yield* Effect.promise(() => cli(["projections", "rebuild", "totals", "--checkpoints", checkpoints]))
    })).pipe(Effect.provide(store)))
    expect(held.exitCode).toBe(1)
    expect(held.stderr).toContain("already running")
    const rebuilt = await cli(["projections", "rebuild", "totals", "--checkpoints", checkpoints])
    expect(rebuilt.exitCode).toBe(0)
    expect(rebuilt.stdout).toContain("totals@1: checkpoint removed")
    const after = await Effect.runPromise(Effect.gen(function*() {
      const checkpointStore = yield* CheckpointStore.CheckpointStore
      return yield* checkpointStore.load("totals@1")
    }).pipe(Effect.provide(store)))
    expect(after).toBeUndefined()
  })
})

describe("es-kernel verify on damaged stores", { timeout: 60_000 }, () => {
  const storeWithThreeRecords = async (): Promise<string> => {
    const target = await temporaryDirectory()
    await Effect.runPromise(
      Effect.gen(function*() {
        const store = yield* EventStore.EventStore
        for (let i = 0; i < 3; i++) yield* store.append("order-1", [{ type: "Happened", data: { i } }])
        expect((yield* Stream.runCollect(store.readAll())).length).toBe(3)
      }).pipe(Effect.provide(EventStoreFile.layer({ directory: target })))
    )
    return target
  }

  it("finds a corrupt record in the middle, names its segment and offset, and exits 1", async () => {
    const target = await storeWithThreeRecords()
    const segment = fs.readdirSync(target).find((name) => name.endsWith(".log")) ?? ""
    const file = join(target, segment)
    const bytes = fs.readFileSync(file)
    const secondRecord = 8 + bytes.readUInt32LE(0)
    bytes[secondRecord + 40] = (bytes[secondRecord + 40] ?? 0) ^ 0xff
    fs.writeFileSync(file, bytes)
    const { exitCode, stdout } = await cli(["verify", target])
    expect(exitCode).toBe(1)
    expect(stdout).toContain(`corrupt — ${segment} at byte ${secondRecord}`)
  })

  it("reports a torn tail with exit 1", async () => {
    const target = await storeWithThreeRecords()
    const segment = fs.readdirSync(target).find((name) => name.endsWith(".log")) ?? ""
    fs.appendFileSync(join(target, segment), Buffer.from([200, 0, 0, 0, 1, 2]))
    const { exitCode, stdout } = await cli(["verify", target])
    expect(exitCode).toBe(1)
    expect(stdout).toContain("torn tail")
  })
})
