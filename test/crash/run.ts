/**
 * `npm run test:crash`: the SIGKILL rounds and the power-loss rounds, with as many rounds
 * as you like: `-- --rounds 500` (SIGKILL), `-- --power-loss 1000`, and `-- --seed N` to
 * replay power-loss rounds from a seed a failure printed (0 skips a kind).
 */
import { runCrashRounds } from "./crashRounds.js"
import { runPowerLossRounds } from "./powerLossRounds.js"

const flag = (name: string, fallback: number): number => {
  const at = process.argv.indexOf(name)
  if (at === -1) return fallback
  const value = Number(process.argv[at + 1])
  if (!Number.isSafeInteger(value) || value < 0) throw new Error(`${name} needs a non-negative integer`)
  return value
}

const rounds = flag("--rounds", 100)
const powerLossRounds = flag("--power-loss", 200)
const seed = flag("--seed", Date.now() % 1_000_000_000)

const log = (line: string) => console.log(line)
const sigkill = rounds === 0 ? undefined : await runCrashRounds({ rounds, log })
if (sigkill !== undefined) console.log(JSON.stringify({ sigkill }, null, 2))
const powerLoss = powerLossRounds === 0 ? undefined : await runPowerLossRounds({ rounds: powerLossRounds, seed, log })
if (powerLoss !== undefined) console.log(JSON.stringify({ powerLoss }, null, 2))
process.exit((sigkill?.problems.length ?? 0) + (powerLoss?.problems.length ?? 0) === 0 ? 0 : 1)
