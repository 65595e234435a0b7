/**
 * Running the command line as a user does (a child process on the sources), and a live
 * writer beside it.
 */
import { spawn } from "node:child_process"
import type { ChildProcessWithoutNullStreams } from "node:child_process"
import { mkdtemp, rm } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { createInterface } from "node:readline"

export interface Outcome {
  readonly exitCode: number | null
  readonly stdout: string
  readonly stderr: string
}

/** Runs `es-kernel ...args` to its end, with `input` on stdin. */
export const cli = (args: ReadonlyArray<string>, input?: string): Promise<Outcome> =>
  new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--import", "tsx", "src/cli.ts", ...args])
    let stdout = ""
    let stderr = ""
    child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()))
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()))
    child.on("error", reject)
    child.on("close", (exitCode) => resolve({ exitCode, stdout, stderr }))
    child.stdin.end(input)
  })

/** Starts `es-kernel ...args` and leaves it running (for `tail --follow`). */
export const cliRunning = (args: ReadonlyArray<string>) => {
  const child = spawn(process.execPath, ["--import", "tsx", "src/cli.ts", ...args])
  let stdout = ""
  child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()))
  const exited = new Promise<number | null>((resolve) => child.on("close", resolve))
  return {
    output: () => stdout,
    waitFor: async (text: string): Promise<void> => {
      for (let waited = 0; !stdout.includes(text); waited += 50) {
        if (waited > 60_000) throw new Error(`no ${JSON.stringify(text)} in ${JSON.stringify(stdout)}`)
        await new Promise((resolve) => setTimeout(resolve, 50))
      }
    },
    interrupt: (): Promise<number | null> => {
      child.kill("SIGINT")
      return exited
    }
  }
}

/** A writer process holding the file store in `directory` open (test/cli/writer.ts). */
export const startWriter = async (directory: string) => {
  const child: ChildProcessWithoutNullStreams = spawn(process.execPath, ["--import", "tsx", "test/cli/writer.ts", directory])
  const answers = createInterface({ input: child.stdout })
  const next = () =>
    new Promise<string>((resolve, reject) => {
      answers.once("line", resolve)
      child.once("exit", () => reject(new Error("the writer exited")))
    })
  const ready = await next()
  if (ready !== "ready") throw new Error(`writer: ${ready}`)
  const ask = async (line: string): Promise<string> => {
    const answer = next()
    child.stdin.write(`${line}\n`)
    const text = await answer
    if (!text.startsWith("ok ")) throw new Error(`writer: ${text}`)
    return text.slice(3)
  }
  return {
    fill: (streams: number, perStream: number, batch: number) => ask(`fill ${streams} ${perStream} ${batch}`).then(Number),
    append: (streamId: string, type: string) => ask(`append ${streamId} ${type}`).then(Number),
    stop: () =>
      new Promise<void>((resolve) => {
        child.once("exit", () => resolve())
        child.stdin.end()
      })
  }
}

const directories: Array<string> = []

/** A fresh temporary directory, removed by `removeDirectories`. */
export const temporaryDirectory = async (): Promise<string> => {
  const directory = await mkdtemp(join(tmpdir(), "es-kernel-cli-"))
  directories.push(directory)
  return directory
}

export const removeDirectories = () => Promise.all(directories.splice(0).map((directory) => rm(directory, { recursive: true, force: true })))
