// Runs an example the way the README tells users to (`npx tsx examples/<name>.ts`).
import { execFile } from "node:child_process"
import { promisify } from "node:util"

const run = promisify(execFile)

export const runExample = async (file: string, args: ReadonlyArray<string> = []): Promise<string> => {
  const { stdout } = await run(process.execPath, ["--import", "tsx", file, ...args], { cwd: process.cwd(), timeout: 60_000 })
  return stdout
}
