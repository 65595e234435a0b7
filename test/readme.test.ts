// Every TypeScript block of the README is type-checked as a module of this package, and
// the tour is run: the README cannot drift from the library.
import { execFile } from "node:child_process"
import { mkdir, readFile, rm, writeFile } from "node:fs/promises"
import { join } from "node:path"
import { promisify } from "node:util"
import { describe, expect, it } from "vitest"

const exec = promisify(execFile)
const directory = join(process.cwd(), ".tmp", "readme")

const typescriptBlocks = async (): Promise<ReadonlyArray<string>> => {
  const readme = await readFile("README.md", "utf8")
  return [...readme.matchAll(/```ts\n([\s\S]*?)```/g)].map((match) => match[1] ?? "")
}

describe("README", () => {
  it("has TypeScript blocks that type-check against the library", async () => {
    const blocks = await typescriptBlocks()
    expect(blocks.length).toBeGreaterThanOrEqual(2)
    await rm(directory, { recursive: true, force: true })
    await mkdir(directory, { recursive: true })
    const files = blocks.map((_, index) => `block-${index}.ts`)
    await Promise.all(blocks.map((block, index) => writeFile(join(directory, `block-${index}.ts`), block)))
    await writeFile(
      join(directory, "tsconfig.json"),
      JSON.stringify({ extends: "../../tsconfig.json", compilerOptions: { noUnusedLocals: false }, include: files })
    )
    const tsc = join(process.cwd(), "node_modules", "typescript", "bin", "tsc")
    const result = await exec(process.execPath, [tsc, "--noEmit", "-p", join(directory, "tsconfig.json")]).then(
      () => "",
      (error: { stdout?: string }) => error.stdout ?? String(error)
    )
    expect(result).toBe("")
  })

  it("tour runs and prints what its comment says", async () => {
    const tour = (await typescriptBlocks()).find((block) => block.includes("// 42 Rejected 42"))
    await mkdir(directory, { recursive: true })
    await writeFile(join(directory, "tour.ts"), tour ?? "")
    const { stdout } = await exec(process.execPath, ["--import", "tsx", join(directory, "tour.ts")])
    expect(stdout.trim()).toBe("42 Rejected 42")
  })
})
