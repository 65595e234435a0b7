// The package as an application meets it: `npm pack`, the tarball installed in a fresh app
// outside the repository, then plain Node, the app's own `tsc` under strict flags, an
// esbuild bundle, and the `es-kernel` command. Nothing is fetched: the peers are linked
// from this repository's node_modules (npm still checks them against our peer ranges).
import { execFile } from "node:child_process"
import { cp, mkdir, mkdtemp, rm, writeFile } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { promisify } from "node:util"
import { build } from "esbuild"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { freshSchema, runSql, unavailable as postgresUnavailable, urlOf } from "../postgres/server.js"

const exec = promisify(execFile)
const repo = process.cwd()
const fixtures = join(repo, "test", "package", "app")
const tsc = join(repo, "node_modules", "typescript", "bin", "tsc")
const peers = ["effect", "fp-ts", "io-ts"]
// The tarball holds what an application needs: the build, the sources its maps point at,
// the user docs. No tests, benches, CI scripts or build configuration.
const shipped = /^(dist\/|src\/|docs\/(CONCEPTS|STORE|CODECS|POSTGRESQL|READSIDE|FILE|OBSERVABILITY|CLI)\.md$|package\.json$|README\.md$|LICENSE$)/

// The outer `npm test` exports its own npm_* settings; the app's npm must not inherit them.
const env = Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.toLowerCase().startsWith("npm_")))
const run = (file: string, args: ReadonlyArray<string>, cwd: string) =>
  exec(file, args, { cwd, env, timeout: 180_000, maxBuffer: 16 * 1024 * 1024 }).then(
    ({ stdout, stderr }) => ({ exitCode: 0, stdout, stderr }),
    (error: { code?: number; stdout?: string; stderr?: string }) => ({
      exitCode: error.code ?? -1,
      stdout: error.stdout ?? "",
      stderr: error.stderr ?? String(error)
    })
  )
const succeed = async (file: string, args: ReadonlyArray<string>, cwd: string): Promise<string> => {
  const result = await run(file, args, cwd)
  if (result.exitCode !== 0) throw new Error(`${file} ${args.join(" ")} exited ${result.exitCode}:\n${result.stdout}\n${result.stderr}`)
  return result.stdout
}

interface Packed {
  readonly filename: string
  readonly size: number
  readonly unpackedSize: number
  readonly files: ReadonlyArray<{ readonly path: string }>
}

let work = ""
let packed: Packed
const bare = () => join(work, "bare") // the peers only
const full = () => join(work, "full") // the peers, @types/node, fast-check and @effect/sql-pg

const makeApp = async (directory: string, links: ReadonlyArray<string>): Promise<void> => {
  await mkdir(directory)
  await writeFile(join(directory, "package.json"), JSON.stringify({ name: "consumer", private: true, type: "module" }))
  await cp(fixtures, directory, { recursive: true })
  const packages = links.map((name) => join(repo, "node_modules", name))
  await succeed("npm", ["install", "--offline", "--no-audit", "--no-fund", join(work, packed.filename), ...packages], directory)
}

beforeAll(async () => {
  const started = Date.now()
  work = await mkdtemp(join(tmpdir(), "es-kernel-consumer-"))
  const report: ReadonlyArray<Packed> = JSON.parse(await succeed("npm", ["pack", "--json", "--pack-destination", work], repo))
  const [result] = report
  if (result === undefined) throw new Error("npm pack reported no tarball")
  packed = result
  await Promise.all([makeApp(bare(), peers), makeApp(full(), [...peers, "@types/node", "fast-check", "@effect/sql-pg"])])
  console.log(
    `packed ${packed.filename}: ${packed.files.length} files, ${packed.size} bytes (${packed.unpackedSize} unpacked); ` +
      `packed and installed twice in ${Date.now() - started} ms`
  )
}, 300_000)

afterAll(async () => {
  if (work !== "") await rm(work, { recursive: true, force: true })
})

describe("the packed tarball", { timeout: 180_000 }, () => {
  it("holds only the build, its sources and the user docs", () => {
    const paths = packed.files.map((file) => file.path)
    expect(paths.filter((path) => !shipped.test(path))).toEqual([])
    expect(paths).toContain("dist/index.js")
    expect(paths).toContain("dist/index.d.ts")
    expect(paths).toContain("dist/index.d.ts.map")
    expect(paths).toContain("dist/cli.js")
  })
})

describe("an application installing es-kernel", { timeout: 180_000 }, () => {
  it("runs a decider through the command handler on the memory and file layers with plain node", async () => {
    const store = join(work, "store")
    const stdout = await succeed(process.execPath, ["main.mjs", store], bare())
    expect(stdout.trim().split("\n")).toEqual([
      "memory: balance 42, then Rejected",
      "file: balance 42, then Rejected",
      "file, reopened: balance 84, then Rejected"
    ])
    const verified = await succeed("npm", ["exec", "--offline", "--", "es-kernel", "verify", store], bare())
    expect(verified).toContain("intact — 1 segment(s), 4 record(s), 4 event(s)")
    // Without @effect/sql-pg (the bare app): file stores work, a postgres:// URL says what to install.
    const streams = await succeed("npm", ["exec", "--offline", "--", "es-kernel", "streams", store], bare())
    expect(streams).toContain("1 stream(s)")
    const postgres = await run("npm", ["exec", "--offline", "--", "es-kernel", "stats", "postgres://nobody@127.0.0.1:1/none"], bare())
    expect(postgres.exitCode).toBe(3)
    expect(postgres.stderr).toContain("npm install @effect/sql-pg")
  })

  it("runs the es-kernel command: --help exits 0 with the usage, on every command", async () => {
    const { exitCode, stdout } = await run("npm", ["exec", "--offline", "--", "es-kernel", "--help"], bare())
    expect(exitCode).toBe(0)
    expect(stdout).toContain("usage: es-kernel <command>")
    const read = await run("npm", ["exec", "--offline", "--", "es-kernel", "read", "--help"], bare())
    expect(read.exitCode).toBe(0)
    expect(read.stdout).toContain("usage: es-kernel read <store> <stream>")
  })

  it("uses DeciderSpec without fast-check, and the laws and the store suite say how to install it", async () => {
    const stdout = await succeed(process.execPath, ["testing.mjs"], bare())
    const missing = (checker: string) =>
      `${checker}: FastCheckUnavailable: es-kernel/testing: ${checker} needs fast-check, an optional peer dependency that is not installed. ` +
      "Install it beside es-kernel: npm install --save-dev fast-check"
    expect(stdout.trim().split("\n")).toEqual(["DeciderSpec: ok", missing("DeciderLaws"), missing("StoreConformance")])
  })

  it("runs the laws and builds the store suite once fast-check is installed", async () => {
    const stdout = await succeed(process.execPath, ["testing.mjs"], full())
    expect(stdout.trim().split("\n")).toEqual(["DeciderSpec: ok", "DeciderLaws: hold", "StoreConformance: cases"])
  })

  // Without a server the test is skipped, as the PostgreSQL suites are, except with CI=true.
  it.skipIf(postgresUnavailable !== undefined && process.env.CI !== "true")("moves a file store into PostgreSQL with the installed es-kernel command (once @effect/sql-pg is installed)", async () => {
    const store = join(work, "moved")
    await succeed(process.execPath, ["main.mjs", store], full())
    const es = (...args: ReadonlyArray<string>) => succeed("npm", ["exec", "--offline", "--", "es-kernel", ...args], full())
    await es("export", store, "--output", join(work, "moved.ndjson"))
    const schema = freshSchema()
    const imported = await es("import", urlOf("postgres"), "--schema", schema, "--input", join(work, "moved.ndjson"))
    expect(imported).toContain("imported 4 event(s) of 1 stream(s)")
    try {
      const read = await es("read", urlOf("postgres"), "--schema", schema, "account-ada", "--json")
      expect(read.trim().split("\n").map((line) => JSON.parse(line).data.amount)).toEqual([30, 12, 30, 12])
    } finally {
      await runSql("postgres", `DROP SCHEMA IF EXISTS ${schema} CASCADE`)
    }
  })

  it("keeps internal modules out of reach", async () => {
    const { exitCode, stderr } = await run(process.execPath, ["--input-type=module", "-e", "await import('es-kernel/internal/json')"], bare())
    expect(exitCode).not.toBe(0)
    expect(stderr).toContain("ERR_PACKAGE_PATH_NOT_EXPORTED")
  })
})

// Each variant is a tsconfig of the application's; skipLibCheck is off, so our declarations
// are checked under the application's flags. Every variant has the DOM lib, which Effect's
// own declarations need (CryptoKey, Storage, ReadableStream…), and which declares nothing of
// Node's: without @types/node, a Node type leaking into our declarations fails the check.
const strict = { strict: true, exactOptionalPropertyTypes: true, noUncheckedIndexedAccess: true, noPropertyAccessFromIndexSignature: true }
const variants = [
  { app: bare, name: "nodenext, strict, no @types/node", module: "nodenext", resolution: "nodenext", node: false, flags: strict },
  { app: bare, name: "bundler, strict, no @types/node", module: "esnext", resolution: "bundler", node: false, flags: strict },
  { app: bare, name: "nodenext, strict off", module: "nodenext", resolution: "nodenext", node: false, flags: { strict: false } },
  { app: full, name: "nodenext, strict, @types/node", module: "nodenext", resolution: "nodenext", node: true, flags: strict },
  { app: full, name: "bundler, strict, @types/node", module: "esnext", resolution: "bundler", node: true, flags: strict }
]

describe("the application's tsc --noEmit", { timeout: 180_000 }, () => {
  it.each(variants)("passes: $name", async ({ app, name, module, resolution, node, flags }) => {
    const config = `tsconfig.${name.replace(/[^a-z]+/g, "-")}.json`
    const compilerOptions = {
      target: "ES2022",
      lib: ["ES2022", "DOM"],
      types: node ? ["node"] : [],
      module,
      moduleResolution: resolution,
      skipLibCheck: false,
      noEmit: true,
      ...flags
    }
    // The law checkers' declarations name fast-check's types: checked where it is installed.
    const files = app === full ? ["consumer.ts", "laws.ts"] : ["consumer.ts"]
    await writeFile(join(app(), config), JSON.stringify({ compilerOptions, files }))
    const { exitCode, stdout } = await run(process.execPath, [tsc, "-p", config], app())
    expect(stdout).toBe("")
    expect(exitCode).toBe(0)
  })
})

describe("an esbuild bundle of a decider-only application", { timeout: 180_000 }, () => {
  it("tree-shakes: no Effect runtime, and small", async () => {
    const outfile = join(bare(), "bundle.js")
    const result = await build({
      absWorkingDir: bare(),
      entryPoints: ["decider.mjs"],
      bundle: true,
      minify: true,
      format: "esm",
      platform: "node",
      metafile: true,
      outfile,
      logLevel: "silent"
    })
    const [output] = Object.values(result.metafile.outputs)
    const inputs = Object.entries(output?.inputs ?? {}).filter(([, input]) => input.bytesInOutput > 0).map(([path]) => path)
    const bytes = output?.bytes ?? 0
    console.log(`decider-only bundle: ${bytes} bytes minified, from ${inputs.length} input files`)
    expect(inputs.filter((input) => input.includes("node_modules/effect/"))).toEqual([])
    expect(bytes).toBeLessThan(40_000)
    expect((await succeed(process.execPath, [outfile], bare())).trim()).toBe("Right 5")
  })
})
