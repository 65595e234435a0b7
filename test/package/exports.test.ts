// The package's public entry points are listed twice: package.json's exports (for
// applications, into dist/) and tsconfig.json's paths (for this repository's own tests,
// examples and README, into src/, with no build). This keeps the two lists in step.
import { existsSync, readFileSync } from "node:fs"
import { describe, expect, it } from "vitest"

interface Entry {
  readonly types: string
  readonly default: string
}

const packageJson: { readonly exports: Record<string, Entry | string> } = JSON.parse(readFileSync("package.json", "utf8"))
const tsconfig: { readonly compilerOptions: { readonly paths: Record<string, ReadonlyArray<string>> } } = JSON.parse(
  readFileSync("tsconfig.json", "utf8")
)

// "./testing" → "es-kernel/testing"; dist/testing.js → ./src/testing.ts
const entries = Object.entries(packageJson.exports).flatMap(([subpath, entry]) =>
  typeof entry === "string" ? [] : [{ specifier: `es-kernel${subpath.slice(1)}`, entry }]
)
const moduleOf = (entry: Entry): string => entry.default.replace(/^\.\/dist\/(.*)\.js$/, "$1")

describe("the package's entry points", () => {
  it("each export names a dist module and its declarations, built from a module in src", () => {
    for (const { entry } of entries) {
      expect(entry.default).toMatch(/^\.\/dist\/.+\.js$/)
      expect(entry.types).toBe(`./dist/${moduleOf(entry)}.d.ts`)
      expect(existsSync(`src/${moduleOf(entry)}.ts`)).toBe(true)
    }
  })

  it("tsconfig.json maps exactly the exported specifiers to their sources", () => {
    const expected = Object.fromEntries(entries.map(({ specifier, entry }) => [specifier, [`./src/${moduleOf(entry)}.ts`]]))
    expect(tsconfig.compilerOptions.paths).toEqual(expected)
  })

  it("keeps internal modules and the command line out of the exports", () => {
    for (const { entry } of entries) expect(entry.default).not.toMatch(/\/internal\/|\/cli\.js$/)
  })
})
