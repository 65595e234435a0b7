/**
 * SIGKILL during concurrent appends, many rounds: every acknowledged event must survive.
 *
 * Each round starts `appender.ts` on a store directory, kills it with SIGKILL at a random
 * moment, reopens the store (repairing the torn tail) and checks: every event the child
 * acknowledged is present exactly once, in the stream and at the version it was
 * acknowledged with; versions are gapless per stream and positions increase; and `verify`
 * finds every record intact after the repair. A directory carries over ten rounds, so
 * the store is reopened after crashes on top of crashes, then a fresh one starts.
 *
 * The child is bundled once with esbuild (which tsx ships) so a round costs a fraction of
 * a second of start-up instead of seconds.
 */
import { spawn } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { Effect, Layer, Stream } from "effect"
import { EventStore } from "../../src/EventStore.js"
import * as EventStoreFile from "../../src/EventStoreFile.js"
import { layerWithIo } from "../../src/internal/file/layer.js"
import { nodeIo } from "../../src/internal/file/io.js"

const repoRoot = path.resolve(import.meta.dirname, "../..")
const appenderSource = path.join(repoRoot, "test/crash/appender.ts")

interface Acknowledged {
  readonly streamId: string
  readonly version: number
}

export interface CrashOptions {
  readonly rounds: number
  readonly roundsPerDirectory?: number
  readonly minKillMs?: number
  readonly maxKillMs?: number
  readonly log?: (line: string) => void
}

export interface CrashSummary {
  readonly rounds: number
  readonly acknowledged: number
  readonly truncatedTails: number
  readonly problems: ReadonlyArray<string>
}

const bundleAppender = async (workDirectory: string): Promise<ReadonlyArray<string>> => {
  const outfile = path.join(workDirectory, "appender.mjs")
  const esbuild = await import("esbuild")
  await esbuild.build({
    entryPoints: [appenderSource],
    bundle: true,
    platform: "node",
    format: "esm",
    target: "node20",
    outfile,
    logLevel: "silent"
  })
  return [outfile]
}

const runChild = (
  command: ReadonlyArray<string>,
  directory: string,
  runId: string,
  killAfterMs: number,
  onAck: (streamId: string, eventId: string, version: number) => void
): Promise<void> =>
  new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...command, directory, runId], { stdio: ["ignore", "pipe", "inherit"] })
    let pending = ""
    let failed: string | undefined
    child.stdout.on("data", (data: Buffer) => {
      pending += data.toString()
      const lines = pending.split("\n")
      pending = lines.pop() ?? "" // a line without its newline may be cut by the kill
      for (const line of lines) {
        if (line === "ready") {
          setTimeout(() => child.kill("SIGKILL"), killAfterMs)
        } else if (line.startsWith("ack ")) {
          const [, streamId = "", eventId = "", version = ""] = line.split(" ")
          onAck(streamId, eventId, Number(version))
        } else if (line.startsWith("failed")) {
          failed = line
        }
      }
    })
    child.on("exit", (_code, signal) => {
      if (failed !== undefined) reject(new Error(`appender ${failed}`))
      else if (signal !== "SIGKILL") reject(new Error(`appender exited without being killed (signal ${String(signal)})`))
      else resolve()
    })
  })

const checkStore = (directory: string, acknowledged: ReadonlyMap<string, Acknowledged>) =>
  Effect.gen(function*() {
    const problems: Array<string> = []
    let truncated = false
    const layer = layerWithIo({ directory }, nodeIo, (report) => {
      truncated = report.truncated !== undefined
    })
    yield* Effect.provide(
      Effect.gen(function*() {
        const store = yield* EventStore
        const seen = new Map<string, number>()
        const versions = new Map<string, number>()
        let lastPosition = 0
        yield* Stream.runForEach(store.readAll(), (event) =>
          Effect.sync(() => {
            seen.set(event.eventId, (seen.get(event.eventId) ?? 0) + 1)
            const expectedVersion = (versions.get(event.streamId) ?? 0) + 1
            if (event.version !== expectedVersion) {
              problems.push(`${event.streamId}: version ${event.version} after ${expectedVersion - 1}`)
            }
            versions.set(event.streamId, event.version)
            if (event.position <= lastPosition) problems.push(`position ${event.position} after ${lastPosition}`)
            lastPosition = event.position
            const ack = acknowledged.get(event.eventId)
            if (ack !== undefined && (ack.streamId !== event.streamId || ack.version !== event.version)) {
              problems.push(`${event.eventId} acknowledged at ${ack.streamId}@${ack.version}, found at ${event.streamId}@${event.version}`)
            }
          }))
        for (const [eventId, count] of seen) if (count !== 1) problems.push(`${eventId} recorded ${count} times`)
        for (const [eventId, ack] of acknowledged) {
          if (!seen.has(eventId)) problems.push(`${eventId} acknowledged at ${ack.streamId}@${ack.version} but lost`)
        }
      }),
      Layer.fresh(layer)
    )
    const verified = yield* EventStoreFile.verify(directory)
    if (verified._tag !== "Intact") problems.push(`verify after reopen: ${JSON.stringify(verified)}`)
    return { problems, truncated }
  })

/**
 * Runs `options.rounds` crash rounds and reports what it found. Stops at the first round
 * with a problem.
 */
export const runCrashRounds = async (options: CrashOptions): Promise<CrashSummary> => {
  const log = options.log ?? (() => undefined)
  const roundsPerDirectory = options.roundsPerDirectory ?? 10
  const minKill = options.minKillMs ?? 20
  const maxKill = options.maxKillMs ?? 400
  const work = fs.mkdtempSync(path.join(os.tmpdir(), "es-kernel-crash-"))
  let acknowledgedTotal = 0
  let truncatedTails = 0
  try {
    const command = await bundleAppender(work).catch(() => ["--import", "tsx", appenderSource])
    let directory = ""
    let acknowledged = new Map<string, Acknowledged>()
    for (let round = 0; round < options.rounds; round++) {
      if (round % roundsPerDirectory === 0) {
        directory = path.join(work, `store-${round}`)
        acknowledged = new Map()
      }
      const killAfter = minKill + Math.floor(Math.random() * (maxKill - minKill))
      let acks = 0
      await runChild(command, directory, `r${round}`, killAfter, (streamId, eventId, version) => {
        acknowledged.set(eventId, { streamId, version })
        acks++
      })
      acknowledgedTotal += acks
      const { problems, truncated } = await Effect.runPromise(checkStore(directory, acknowledged))
      if (truncated) truncatedTails++
      log(`round ${round + 1}/${options.rounds}: killed after ${killAfter} ms, ${acks} acknowledged, ${acknowledged.size} in store so far${truncated ? ", torn tail truncated" : ""}${problems.length > 0 ? `, ${problems.length} PROBLEMS` : ""}`)
      if (problems.length > 0) {
        return { rounds: round + 1, acknowledged: acknowledgedTotal, truncatedTails, problems: problems.slice(0, 20) }
      }
    }
    return { rounds: options.rounds, acknowledged: acknowledgedTotal, truncatedTails, problems: [] }
  } finally {
    fs.rmSync(work, { recursive: true, force: true })
  }
}
