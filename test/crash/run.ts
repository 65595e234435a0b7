/**
 * `npm run test:crash -- --rounds 500`: the crash test with as many rounds as you like.
 */
import { runCrashRounds } from "./crashRounds.js"

const roundsFlag = process.argv.indexOf("--rounds")
const rounds = roundsFlag === -1 ? 100 : Number(process.argv[roundsFlag + 1])
if (!Number.isSafeInteger(rounds) || rounds <= 0) throw new Error("--rounds needs a positive integer")

const summary = await runCrashRounds({ rounds, log: (line) => console.log(line) })
console.log(JSON.stringify(summary, null, 2))
process.exit(summary.problems.length === 0 ? 0 : 1)
