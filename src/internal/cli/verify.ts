/**
 * `es-kernel verify <directory>`: checks every record of a file store, with a progress
 * line on a terminal.
 *
 * @internal
 */
import * as fs from "node:fs/promises"
import * as path from "node:path"
import { Effect } from "effect"
import type { VerifyReport } from "../../EventStoreFile.js"
import { listSegments, segmentName } from "../file/segments.js"
import { verifyStore } from "../file/verify.js"
import type { Command, ExitCode } from "./command.js"
import { CliError, exitCodes, positionals, usageError, writeLines } from "./command.js"
import { progress } from "./progress.js"
import { count } from "./table.js"
import { locationOf, locationOptions } from "./target.js"

const describe = (directory: string, report: VerifyReport): { readonly text: string; readonly exitCode: ExitCode } => {
  switch (report._tag) {
    case "Intact":
      return {
        text: `${directory}: intact — ${report.segments} segment(s), ${count(report.records)} record(s), ${count(report.events)} event(s)`,
        exitCode: exitCodes.ok
      }
    case "TornTail":
      return {
        text: `${directory}: torn tail in ${report.segment} at byte ${report.offset} (${report.bytes} byte(s)); opening the store cuts it`,
        exitCode: exitCodes.found
      }
    case "Corrupt":
      return { text: `${directory}: corrupt — ${report.segment} at byte ${report.offset}: ${report.reason}`, exitCode: exitCodes.found }
  }
}

// Checks every segment with a progress line in bytes: the sizes are taken first, so the
// bar knows its total.
const verifyWithProgress = (directory: string): Promise<VerifyReport> =>
  (async () => {
    const segments = await listSegments(directory)
    const sizes = await Promise.all(segments.map((segment) => fs.stat(path.join(directory, segmentName(segment))).then((stats) => stats.size)))
    const before = new Map<number, number>()
    let total = 0
    segments.forEach((segment, at) => {
      before.set(segment, total)
      total += sizes[at] ?? 0
    })
    const bar = progress("verifying", "bytes", total)
    try {
      return await verifyStore(directory, (segment, end) => bar.update((before.get(segment) ?? 0) + end))
    } finally {
      bar.finish()
    }
  })()

/** @internal */
export const verify: Command = {
  name: "verify",
  summary: "check every record of a file store (CRC, framing, index files)",
  usage: `usage: es-kernel verify <directory>

Checks every record of the file store in <directory> — frames, CRCs, events, positions
and versions following on, and every index file against its segment — without taking
the writer's lock. Exit 0 when intact; 1 on a torn tail (opening the store cuts it) or
corruption (opening the store refuses it; the message names the segment and byte). On a
store a process is writing, a record being written may show as a torn tail: run it
again, or on a stopped store or a backup copy. A PostgreSQL store checks its own pages
(see PostgreSQL's amcheck); verify is for file stores.

  <directory>  the file store's directory`,
  options: locationOptions,
  run: (invocation) =>
    Effect.gen(function*() {
      const [storeArgument = ""] = yield* positionals(invocation, ["directory"])
      const location = yield* locationOf(storeArgument, invocation)
      if (location._tag !== "File") return yield* usageError("verify checks file stores; give a directory")
      const directory = location.directory
      const report = yield* Effect.tryPromise({
        try: async () => {
          const stats = await fs.stat(directory)
          if (!stats.isDirectory()) throw new Error("not a directory")
          return await verifyWithProgress(directory)
        },
        catch: (cause) => new CliError({ exitCode: exitCodes.unavailable, reason: `${directory}: ${cause instanceof Error ? cause.message : String(cause)}` })
      })
      const { text, exitCode } = describe(directory, report)
      yield* writeLines([text])
      return exitCode
    })
}
