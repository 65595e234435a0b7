import { spawn } from "node:child_process"
import type { ChildProcess } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { afterEach } from "vitest"

/** A fresh empty directory under the OS temp dir; removed by `cleanup`. */
export const tempDirectory = (): string => fs.mkdtempSync(path.join(os.tmpdir(), "es-kernel-file-"))

export const cleanup = (directory: string): void => fs.rmSync(directory, { recursive: true, force: true })

/** Fresh temp directories for a test file, each removed after the test that made it. */
export const directoriesPerTest = (): (() => string) => {
  const directories: Array<string> = []
  afterEach(() => {
    for (const directory of directories.splice(0)) cleanup(directory)
  })
  return () => {
    const directory = tempDirectory()
    directories.push(directory)
    return directory
  }
}

const repoRoot = path.resolve(import.meta.dirname, "../..")

/** Runs a TypeScript script of the repo in a child Node process (through tsx). */
export const spawnScript = (script: string, args: ReadonlyArray<string>): ChildProcess =>
  spawn(process.execPath, ["--import", "tsx", path.join(repoRoot, script), ...args], {
    cwd: repoRoot,
    stdio: ["pipe", "pipe", "inherit"]
  })

/** Resolves with the child's stdout once it contains `marker`. */
export const waitForOutput = (child: ChildProcess, marker: string): Promise<string> =>
  new Promise((resolve, reject) => {
    let output = ""
    child.stdout?.on("data", (data: Buffer) => {
      output += data.toString()
      if (output.includes(marker)) resolve(output)
    })
    child.on("exit", (code) => reject(new Error(`child exited with ${String(code)} before printing ${marker}: ${output}`)))
  })

export const waitForExit = (child: ChildProcess): Promise<number | null> =>
  new Promise((resolve) => {
    if (child.exitCode !== null) resolve(child.exitCode)
    else child.on("exit", (code) => resolve(code))
  })
