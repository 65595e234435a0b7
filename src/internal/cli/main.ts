/**
 * The `es-kernel` command line: finds the command, parses its arguments, runs it, prints
 * its failure, and returns the exit code. Ctrl-C or SIGTERM interrupts the command (its
 * store is closed on the way out) and exits 130.
 *
 * @internal
 */
import { Cause, Effect, Exit, Fiber } from "effect"
import { exitCodes, exitCodesHelp, helpOf, parseInvocation } from "./command.js"
import type { Command, ExitCode } from "./command.js"
import { exportCommand } from "./export.js"
import { importCommand } from "./import.js"
import { projections } from "./projections.js"
import { read } from "./read.js"
import { stats } from "./stats.js"
import { streams } from "./streams.js"
import { tail } from "./tail.js"
import { verify } from "./verify.js"

const commands: ReadonlyArray<Command> = [streams, read, tail, stats, verify, exportCommand, importCommand, projections]

const usage = `usage: es-kernel <command> [arguments] [options]

Looks inside an es-kernel event store — a file store's directory or a postgres:// URL —
without writing to it (except import and projections rebuild), beside the processes
that write it.

commands:
${commands.map((command) => `  ${command.name.padEnd(12)} ${command.summary}`).join("\n")}

Run es-kernel <command> --help for a command's arguments and options.

${exitCodesHelp}`

const runCommand = (command: Command, args: ReadonlyArray<string>): Promise<ExitCode> => {
  const invocation = parseInvocation(command, args)
  if (!("positionals" in invocation)) {
    console.error(`es-kernel ${command.name}: ${invocation.message}\n\n${helpOf(command)}`)
    return Promise.resolve(invocation.exitCode)
  }
  if (invocation.values.help === true) {
    console.log(helpOf(command))
    return Promise.resolve(exitCodes.ok)
  }
  const fiber = Effect.runFork(command.run(invocation))
  const interrupt = () => void Effect.runFork(Fiber.interrupt(fiber))
  process.once("SIGINT", interrupt)
  process.once("SIGTERM", interrupt)
  return Effect.runPromise(Fiber.await(fiber)).then((exit) => {
    process.off("SIGINT", interrupt)
    process.off("SIGTERM", interrupt)
    if (Exit.isSuccess(exit)) return exit.value
    if (Cause.hasInterruptsOnly(exit.cause)) return exitCodes.interrupted
    const failure = Cause.findErrorOption(exit.cause)
    if (failure._tag === "Some") {
      console.error(`es-kernel ${command.name}: ${failure.value.message}`)
      return failure.value.exitCode
    }
    console.error(`es-kernel ${command.name}: unexpected failure\n${Cause.pretty(exit.cause)}`)
    return exitCodes.unavailable
  })
}

/**
 * Runs the command line on `args` (without the node and script paths) and returns the
 * exit code.
 *
 * @internal
 */
export const main = (args: ReadonlyArray<string>): Promise<ExitCode> => {
  // A reader that stops early (`es-kernel export … | head`) closes the pipe: that is not a failure.
  process.stdout.on("error", (error: Error & { readonly code?: string }) => {
    if (error.code === "EPIPE") process.exit(exitCodes.ok)
    throw error
  })
  const [name, ...rest] = args
  if (name === undefined || name === "--help" || name === "-h" || name === "help") {
    if (name === undefined) console.error(usage)
    else console.log(usage)
    return Promise.resolve(name === undefined ? exitCodes.usage : exitCodes.ok)
  }
  const command = commands.find((candidate) => candidate.name === name)
  if (command === undefined) {
    console.error(`es-kernel: unknown command ${JSON.stringify(name.slice(0, 40))}\n\n${usage}`)
    return Promise.resolve(exitCodes.usage)
  }
  return runCommand(command, rest)
}
