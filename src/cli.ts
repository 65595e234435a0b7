/**
 * The es-kernel command line. For now one command:
 *
 *   npm run es-kernel -- verify <directory>
 *
 * checks every record of a file store (CRCs, framing, index files) without taking its
 * writer lock, prints what it found, and exits 0 when the store is intact, 1 when it has a
 * torn tail (opening the store would cut it) or is corrupt (opening would refuse it), and
 * 2 on bad usage or when the files cannot be read.
 *
 * @since 0.1.0
 */
import { Effect } from "effect"
import { verify } from "./EventStoreFile.js"
import type { VerifyReport } from "./EventStoreFile.js"

const usage = "usage: es-kernel verify <directory>"

const describe = (directory: string, report: VerifyReport): { readonly text: string; readonly exitCode: number } => {
  switch (report._tag) {
    case "Intact":
      return {
        text: `${directory}: intact — ${report.segments} segment(s), ${report.records} record(s), ${report.events} event(s)`,
        exitCode: 0
      }
    case "TornTail":
      return {
        text: `${directory}: torn tail in ${report.segment} at byte ${report.offset} (${report.bytes} byte(s)); opening the store cuts it`,
        exitCode: 1
      }
    case "Corrupt":
      return { text: `${directory}: corrupt — ${report.segment} at byte ${report.offset}: ${report.reason}`, exitCode: 1 }
  }
}

const main = async (args: ReadonlyArray<string>): Promise<number> => {
  const [command, directory, ...rest] = args
  if (command !== "verify" || directory === undefined || rest.length > 0) {
    console.error(usage)
    return 2
  }
  const outcome = await Effect.runPromise(Effect.result(verify(directory)))
  if (outcome._tag === "Failure") {
    console.error(`${directory}: ${outcome.failure.message}`)
    return 2
  }
  const { text, exitCode } = describe(directory, outcome.success)
  console.log(text)
  return exitCode
}

process.exitCode = await main(process.argv.slice(2))
