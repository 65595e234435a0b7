import { execFile } from "node:child_process"
import * as fs from "node:fs"
import { mkdtemp, rm } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { promisify } from "node:util"
import { Effect } from "effect"
import { afterEach, describe, expect, it } from "vitest"
import { EventStore, EventStoreFile } from "es-kernel"

const exec = promisify(execFile)
const directories: Array<string> = []
afterEach(async () => {
  await Promise.all(directories.splice(0).map((directory) => rm(directory, { recursive: true, force: true })))
})

const cli = (...args: ReadonlyArray<string>) =>
  exec(process.execPath, ["--import", "tsx", "src/cli.ts", ...args]).then(
    ({ stdout, stderr }) => ({ exitCode: 0, stdout, stderr }),
    (error: { code?: number; stdout?: string; stderr?: string }) => ({ exitCode: error.code ?? -1, stdout: error.stdout ?? "", stderr: error.stderr ?? "" })
  )

const storeWithThreeRecords = async (): Promise<string> => {
  const directory = await mkdtemp(join(tmpdir(), "es-kernel-cli-"))
  directories.push(directory)
  await Effect.runPromise(
    Effect.gen(function*() {
      const store = yield* EventStore.EventStore
      for (let i = 0; i < 3; i++) yield* store.append("order-1", [{ type: "Happened", data: { i } }])
    }).pipe(Effect.provide(EventStoreFile.layer({ directory })))
  )
  return directory
}

describe("es-kernel verify", () => {
  it("reports an intact store and exits 0", async () => {
    const directory = await storeWithThreeRecords()
    const { exitCode, stdout } = await cli("verify", directory)
    expect(exitCode).toBe(0)
    expect(stdout).toContain("intact — 1 segment(s), 3 record(s), 3 event(s)")
  })

  it("finds a corrupt record in the middle, names its segment and offset, and exits 1", async () => {
    const directory = await storeWithThreeRecords()
    const segment = fs.readdirSync(directory).find((name) => name.endsWith(".log")) ?? ""
    const file = join(directory, segment)
    const bytes = fs.readFileSync(file)
    const secondRecord = 8 + bytes.readUInt32LE(0)
    bytes[secondRecord + 40] = (bytes[secondRecord + 40] ?? 0) ^ 0xff
    fs.writeFileSync(file, bytes)
    const { exitCode, stdout } = await cli("verify", directory)
    expect(exitCode).toBe(1)
    expect(stdout).toContain(`corrupt — ${segment} at byte ${secondRecord}`)
  })

  it("refuses bad usage with exit 2", async () => {
    const { exitCode, stderr } = await cli("inspect")
    expect(exitCode).toBe(2)
    expect(stderr).toContain("usage: es-kernel verify <directory>")
  })

  it("refuses an unknown option with exit 2, naming it", async () => {
    const { exitCode, stderr } = await cli("verify", "--force", "somewhere")
    expect(exitCode).toBe(2)
    expect(stderr).toContain("Unknown option '--force'")
    expect(stderr).toContain("usage: es-kernel verify <directory>")
  })

  it("prints its usage on --help and exits 0", async () => {
    const { exitCode, stdout } = await cli("--help")
    expect(exitCode).toBe(0)
    expect(stdout).toContain("usage: es-kernel verify <directory>")
  })
})
