#!/usr/bin/env node
/**
 * The es-kernel command line. For now one command:
 *
 *   npx es-kernel verify <directory>          (from an application that installed es-kernel)
 *   npm run es-kernel -- verify <directory>   (in this repository, from the sources)
 *
 * checks every record of a file store (CRCs, framing, index files) without taking its
 * writer lock, prints what it found, and exits 0 when the store is intact, 1 when it has a
 * torn tail (opening the store would cut it) or is corrupt (opening would refuse it), and
 * 2 on bad usage or when the files cannot be read.
 *
 * @since 0.1.0
 */
import { parseArgs } from "node:util"
import { Effect } from "effect"
import { verify } from "./EventStoreFile.js"
import type { VerifyReport } from "./EventStoreFile.js"

const usage = `usage: es-kernel verify <directory>

  verify <directory>   check every record of a file store without taking its writer lock;
                       exit 0 when intact, 1 on a torn tail or corruption, 2 on bad usage
                       or when the files cannot be read
  -h, --help           print this help and exit 0`

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

const parse = (args: Array<string>) => {
  try {
    return parseArgs({ args, allowPositionals: true, options: { help: { type: "boolean", short: "h" } } })
  } catch (error) {
    return error instanceof Error ? error : new Error(String(error))
  }
}

const main = async (args: Array<string>): Promise<number> => {
  const parsed = parse(args)
  if (parsed instanceof Error) {
    console.error(`${parsed.message}\n${usage}`)
    return 2
  }
  if (parsed.values.help === true) {
    console.log(usage)
    return 0
  }
  const [command, directory, ...rest] = parsed.positionals
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
