/**
 * What every command of the `es-kernel` command line shares: its shape (name, help text,
 * options, run), its exit codes, the one error type a command fails with, and the output
 * to standard out that respects a slow or closed pipe.
 *
 * @internal
 */
import { parseArgs } from "node:util"
import type { ParseArgsConfig } from "node:util"
import { Data, Effect } from "effect"

/**
 * The exit codes, the same for every command:
 *
 * - `ok` (0): done, nothing wrong found.
 * - `found` (1): the command ran and found or met a failure: `verify` found a torn tail or
 *   corruption, `import` met events that disagree with the target store or refused to
 *   interleave with it, `projections rebuild` refused because the projection is running.
 * - `usage` (2): bad usage: an unknown command or option, a missing or malformed argument.
 * - `unavailable` (3): the store (or input) could not be opened or read: a missing
 *   directory, a lock held by a writer, a refused connection, an I/O error.
 * - `interrupted` (130): stopped by Ctrl-C (SIGINT) or SIGTERM.
 *
 * @internal
 */
export const exitCodes = { ok: 0, found: 1, usage: 2, unavailable: 3, interrupted: 130 } as const

/** @internal */
export type ExitCode = typeof exitCodes[keyof typeof exitCodes]

/** The exit codes as the help texts print them. @internal */
export const exitCodesHelp = `exit codes:
  0    done, nothing wrong found
  1    a failure was found or met (verify: torn tail or corruption; import: events that
       disagree with the target, or a non-empty target without --force; projections
       rebuild: the projection is running)
  2    bad usage (unknown command or option, missing or malformed argument)
  3    the store or input could not be opened or read (missing, locked, unreachable, I/O)
  130  interrupted (Ctrl-C or SIGTERM)`

/**
 * Why a command stopped: what happened, where, and what to do next, with the exit code
 * it maps to.
 *
 * @internal
 */
export class CliError extends Data.TaggedError("CliError")<{
  readonly exitCode: ExitCode
  readonly reason: string
}> {
  override get message(): string {
    return this.reason
  }
}

/** A usage error (exit 2). @internal */
export const usageError = (reason: string): CliError => new CliError({ exitCode: exitCodes.usage, reason })

/** The options of one command, as `node:util` `parseArgs` takes them. @internal */
export type Options = NonNullable<ParseArgsConfig["options"]>

/** What a command receives: its positionals and option values. @internal */
export interface Invocation {
  readonly positionals: ReadonlyArray<string>
  readonly values: { readonly [name: string]: string | boolean | ReadonlyArray<string | boolean> | undefined }
}

/**
 * One command: `usage` is its `--help` text (the exit codes are appended to it), `options`
 * its own options (`--help` is added to every command).
 *
 * @internal
 */
export interface Command {
  readonly name: string
  readonly summary: string
  readonly usage: string
  readonly options: Options
  readonly run: (invocation: Invocation) => Effect.Effect<ExitCode, CliError>
}

/** The full `--help` text of a command. @internal */
export const helpOf = (command: Command): string => `${command.usage}\n\n  -h, --help  print this help and exit 0\n\n${exitCodesHelp}`

/** Parses a command's arguments, or says what is wrong with them. @internal */
export const parseInvocation = (command: Command, args: ReadonlyArray<string>): Invocation | CliError => {
  try {
    const { positionals, values } = parseArgs({
      args: [...args],
      allowPositionals: true,
      strict: true,
      options: { ...command.options, help: { type: "boolean", short: "h" } }
    })
    return { positionals, values }
  } catch (error) {
    return usageError(error instanceof Error ? error.message : String(error))
  }
}

/** A string option's value, `undefined` when absent. @internal */
export const stringOption = (invocation: Invocation, name: string): string | undefined => {
  const value = invocation.values[name]
  return typeof value === "string" ? value : undefined
}

/** A boolean option: present or not. @internal */
export const flag = (invocation: Invocation, name: string): boolean => invocation.values[name] === true

/** The values of a repeatable string option. @internal */
export const listOption = (invocation: Invocation, name: string): ReadonlyArray<string> => {
  const value = invocation.values[name]
  if (value === undefined) return []
  return (Array.isArray(value) ? value : [value]).filter((item): item is string => typeof item === "string")
}

/** A non-negative integer option, or a usage error naming it. @internal */
export const integerOption = (invocation: Invocation, name: string): Effect.Effect<number | undefined, CliError> => {
  const text = stringOption(invocation, name)
  if (text === undefined) return Effect.succeed(undefined)
  const value = Number(text)
  return /^\d+$/.test(text) && Number.isSafeInteger(value)
    ? Effect.succeed(value)
    : Effect.fail(usageError(`--${name} takes a non-negative integer, got ${JSON.stringify(text.slice(0, 40))}`))
}

/**
 * The positionals, checked to be exactly as many as `names` (a usage error names the
 * missing or extra ones). Destructure them: `const [store = "", stream = ""] = checked`.
 *
 * @internal
 */
export const positionals = (invocation: Invocation, names: ReadonlyArray<string>): Effect.Effect<ReadonlyArray<string>, CliError> => {
  const given = invocation.positionals
  if (given.length < names.length) return Effect.fail(usageError(`missing <${names.slice(given.length).join("> <")}>`))
  if (given.length > names.length) {
    return Effect.fail(usageError(`unexpected argument ${JSON.stringify(given[names.length]?.slice(0, 60))}`))
  }
  return Effect.succeed(given)
}

/**
 * Writes `text` to standard out, waiting while the pipe is full, so that a large export or
 * a slow reader never piles the output up in memory.
 *
 * @internal
 */
export const write = (text: string): Effect.Effect<void> =>
  Effect.callback<void>((resume) => {
    if (process.stdout.write(text)) resume(Effect.void)
    else process.stdout.once("drain", () => resume(Effect.void))
  })

/** Lines written together: one `write` per chunk of lines. @internal */
export const writeLines = (lines: ReadonlyArray<string>): Effect.Effect<void> =>
  lines.length === 0 ? Effect.void : write(`${lines.join("\n")}\n`)
