/**
 * The benchmark CLI.
 *
 *   npm run bench -- memory                 one process: warm-up, then --reps timed runs
 *   npm run bench -- memory --runs 3        three separate processes, medians of their medians
 *   npm run bench -- file                   the durable file layer vs Emmett's SQLite store and the raw disk
 *                                           (needs the bench-only dependencies: npm install --prefix bench)
 *   npm run bench -- handler                the command handler (W6) vs Emmett's DeciderCommandHandler
 *   npm run bench -- postgres               the PostgreSQL layer vs Emmett's PostgreSQL store (local server,
 *                                           bench-only dependencies: npm install --prefix bench)
 *   npm run bench -- snapshots              a 100k-event stream loaded from a snapshot vs replayed whole, on the
 *                                           memory, file and PostgreSQL layers (local server)
 *
 * Options:
 *   --reps N       timed runs of each workload per target and process (default 5)
 *   --warmup N     untimed warm-up runs per workload and target, at 20% size (default 1)
 *   --runs N       run N child processes one after the other and report medians (default 1)
 *   --only W1,W3   run only these workloads
 *   --target NAME  run only the targets whose name contains NAME (e.g. es-kernel; for profiling)
 *   --scale F      scale every workload's event count by F (quick checks; default 1)
 *   --markdown     print the summary as a Markdown table too
 *   --json         print one JSON line with this process's results (used by --runs)
 *
 * Within a process, the targets take turns run by run, so drift hits both alike; each
 * run gets a fresh store, and a full GC runs before each run.
 * Progress goes to stderr, results to stdout.
 */
import { spawnSync } from "node:child_process"
import { cpus, loadavg, totalmem } from "node:os"
import { parseArgs } from "node:util"
import { Schema } from "effect"
import { median } from "./stats.js"
import { suites } from "./suites.js"
import type { Bar, Suite } from "./suites.js"
import { collectGarbage, eventCount, expectedBalance, expectedFleetBalance, expectedFold, expectedHotBalance, payloadCount, payloads, runWorkload, withEvents, withInFlight, workloads } from "./workloads.js"
import type { Measurement, Target, Workload, WorkloadSpec } from "./workloads.js"

// ---------------------------------------------------------------------------
// Results
// ---------------------------------------------------------------------------

const Cell = Schema.Struct({
  target: Schema.String,
  role: Schema.Literals(["subject", "peer", "limit"]),
  /** Events per timed run. */
  n: Schema.Number,
  /** events/s of each timed run. */
  rates: Schema.Array(Schema.Number),
  firsts: Schema.Array(Schema.Number),
  lasts: Schema.Array(Schema.Number),
  /** The runs' memory figures (bytes), when the target measured one, and what they are. */
  memory: Schema.Array(Schema.Number),
  memoryWhat: Schema.optional(Schema.String)
})
type Cell = typeof Cell.Type

const ProcessResult = Schema.Struct({
  suite: Schema.String,
  node: Schema.String,
  /** Load average (1 min) when the process started and ended. */
  loadBefore: Schema.Number,
  loadAfter: Schema.Number,
  results: Schema.Array(Schema.Struct({ workload: Schema.String, cells: Schema.Array(Cell) }))
})
type ProcessResult = typeof ProcessResult.Type

const decodeProcessResult = Schema.decodeUnknownSync(Schema.fromJsonString(ProcessResult))

// ---------------------------------------------------------------------------
// Options
// ---------------------------------------------------------------------------

interface Options {
  readonly suiteName: string
  readonly suite: Suite
  readonly reps: number
  readonly warmup: number
  readonly runs: number
  readonly only: ReadonlyArray<string> | undefined
  readonly target: string | undefined
  readonly scale: number
  readonly json: boolean
  readonly markdown: boolean
}

const usage = `usage: npm run bench -- <suite> [--reps N] [--warmup N] [--runs N] [--only W1,W3] [--target NAME] [--scale F] [--markdown] [--json]
suites: ${Object.keys(suites).join(", ")}`

const positiveNumber = (name: string, value: string | undefined, fallback: number, integer: boolean): number => {
  if (value === undefined) return fallback
  const n = Number(value)
  if (!Number.isFinite(n) || n < 0 || (integer && !Number.isInteger(n))) {
    throw new Error(`--${name}: expected a ${integer ? "whole " : ""}number, got "${value}"\n${usage}`)
  }
  return n
}

const parseOptions = (argv: ReadonlyArray<string>): Options => {
  const { values, positionals } = parseArgs({
    args: [...argv],
    allowPositionals: true,
    options: {
      reps: { type: "string" },
      warmup: { type: "string" },
      runs: { type: "string" },
      only: { type: "string" },
      target: { type: "string" },
      scale: { type: "string" },
      json: { type: "boolean" },
      markdown: { type: "boolean" }
    }
  })
  const suiteName = positionals[0] ?? ""
  const suite = suites[suiteName]
  if (suite === undefined || positionals.length !== 1) throw new Error(usage)
  const only = values.only?.split(",").map((s) => s.trim().toUpperCase()).filter((s) => s.length > 0)
  const unknown = only?.filter((id) => !workloads.some((w) => w.id === id)) ?? []
  if (unknown.length > 0) throw new Error(`--only: unknown workload(s) ${unknown.join(", ")}`)
  return {
    suiteName,
    suite,
    reps: Math.max(1, positiveNumber("reps", values.reps, 5, true)),
    warmup: positiveNumber("warmup", values.warmup, 1, true),
    runs: Math.max(1, positiveNumber("runs", values.runs, 1, true)),
    only,
    target: values.target,
    scale: positiveNumber("scale", values.scale, 1, false) || 1,
    json: values.json === true,
    markdown: values.markdown === true
  }
}

// ---------------------------------------------------------------------------
// One process
// ---------------------------------------------------------------------------

// A full GC before every timed run (`collectGarbage`), so no run pays for the garbage of
// the one before (each leaves a whole store behind).

const progress = (line: string): void => {
  process.stderr.write(`${line}\n`)
}

/** The workload's spec in this suite (its `sizes`), before scaling and caps. */
const suiteSpec = (suite: Suite, workload: Workload): WorkloadSpec => {
  const size = suite.sizes?.[workload.id]
  const sized = size === undefined ? workload.spec : withEvents(workload.spec, size)
  const inFlight = suite.inFlight?.[workload.id]
  return inFlight === undefined ? sized : withInFlight(sized, inFlight)
}

/** The spec a target runs for a workload: sized by the suite, scaled, then capped by the target. */
const specFor = (suite: Suite, workload: Workload, target: Target, scale: number): WorkloadSpec => {
  const base = suiteSpec(suite, workload)
  const scaled = scale === 1 ? base : withEvents(base, eventCount(base) * scale)
  const cap = target.caps?.[workload.id]
  return cap !== undefined && cap < eventCount(scaled) ? withEvents(scaled, cap) : scaled
}

const verify = (target: Target, workload: Workload, spec: WorkloadSpec, m: Measurement): void => {
  const expected = eventCount(spec)
  if (m.events !== expected) {
    throw new Error(`${target.name} ${workload.id}: moved ${m.events} events, expected ${expected}`)
  }
  if ((spec.kind === "replayFold" || spec.kind === "snapshotLoad") && m.check !== expectedFold(spec.events)) {
    throw new Error(`${target.name} ${workload.id}: fold gave ${String(m.check)}, expected ${expectedFold(spec.events)}`)
  }
  const balance = spec.kind === "commands"
    ? expectedBalance(spec)
    : spec.kind === "hotStream"
    ? expectedHotBalance(spec)
    : spec.kind === "fleet"
    ? expectedFleetBalance(spec)
    : undefined
  if (balance !== undefined && m.check !== balance) {
    throw new Error(`${target.name} ${workload.id}: total balance ${String(m.check)}, expected ${balance}`)
  }
  if (!(m.seconds > 0)) throw new Error(`${target.name} ${workload.id}: no time measured`)
}

const runProcess = async (options: Options): Promise<ProcessResult> => {
  const targets = (await options.suite.targets()).filter((t) =>
    options.target === undefined || t.name.toLowerCase().includes(options.target.toLowerCase())
  )
  if (targets.length === 0) throw new Error(`--target ${String(options.target)}: no such target in ${options.suiteName}`)
  const selected = workloads.filter((w) =>
    options.suite.workloads.includes(w.id) && (options.only === undefined || options.only.includes(w.id))
  )
  const loadBefore = loadavg()[0] ?? 0
  const largest = Math.max(0, ...selected.map((w) => payloadCount(suiteSpec(options.suite, w)) * options.scale))
  const data = payloads(Math.max(1, Math.ceil(largest)))
  const results: Array<ProcessResult["results"][number]> = []
  try {
    for (const workload of selected) {
      const cells = new Map<
        Target,
        { n: number; rates: Array<number>; firsts: Array<number>; lasts: Array<number>; memory: Array<number>; memoryWhat?: string }
      >()
      const run = async (target: Target, spec: WorkloadSpec): Promise<Measurement | undefined> => {
        collectGarbage()
        const m = await runWorkload(target, spec, data)
        if (m !== undefined) verify(target, workload, spec, m)
        return m
      }
      for (const target of targets) {
        const spec = specFor(options.suite, workload, target, options.scale)
        // F2/F3 and S1–S3 reuse one prebuilt store, so their warm-up runs at full size (a smaller one would build a second store).
        const prebuilt = spec.kind === "open" || spec.kind === "readAll" || spec.kind === "snapshotLoad"
        const warm = prebuilt ? spec : withEvents(spec, Math.max(1, eventCount(spec) * 0.2))
        for (let w = 0; w < options.warmup; w++) await run(target, warm)
      }
      for (let rep = 0; rep < options.reps; rep++) {
        for (const target of targets) {
          const spec = specFor(options.suite, workload, target, options.scale)
          const m = await run(target, spec)
          if (m === undefined) continue
          const cell = cells.get(target) ?? { n: m.events, rates: [], firsts: [], lasts: [], memory: [] }
          cell.rates.push(m.events / m.seconds)
          if (m.memory !== undefined) {
            cell.memory.push(m.memory.bytes)
            cell.memoryWhat = m.memory.what
          }
          if (m.first !== undefined) cell.firsts.push(m.first)
          if (m.last !== undefined) cell.lasts.push(m.last)
          cells.set(target, cell)
          progress(`${workload.id} ${target.name} run ${rep + 1}/${options.reps}: ${fmtRate(m.events / m.seconds)} ${unit(workload.id)}`)
        }
      }
      results.push({
        workload: workload.id,
        cells: [...cells].map(([target, c]) => ({ target: target.name, role: target.role, ...c }))
      })
    }
  } finally {
    for (const target of targets) await target.dispose?.()
  }
  return { suite: options.suiteName, node: process.version, loadBefore, loadAfter: loadavg()[0] ?? 0, results }
}

// ---------------------------------------------------------------------------
// Summaries
// ---------------------------------------------------------------------------

interface Summary {
  readonly target: string
  readonly role: "subject" | "peer" | "limit"
  readonly n: number
  readonly rate: number
  readonly min: number
  readonly max: number
  readonly first: number | undefined
  readonly last: number | undefined
  /** Median memory figure over processes (bytes), and what it is. */
  readonly memory: number | undefined
  readonly memoryWhat: string | undefined
}

/**
 * Per workload and target: the median over processes of each process's median (with one
 * process, simply the median of its runs); min/max are of the per-process medians when
 * there are several processes, else of the runs.
 */
const summarize = (processes: ReadonlyArray<ProcessResult>): ReadonlyArray<{ workload: string; rows: ReadonlyArray<Summary> }> => {
  const ids = workloads.map((w) => w.id).filter((id) => processes.some((p) => p.results.some((r) => r.workload === id)))
  return ids.map((id) => {
    const byTarget = new Map<string, Array<Cell>>()
    for (const p of processes) {
      for (const r of p.results) {
        if (r.workload !== id) continue
        for (const c of r.cells) byTarget.set(c.target, [...(byTarget.get(c.target) ?? []), c])
      }
    }
    const rows = [...byTarget].map(([target, cells]): Summary => {
      const perProcess = cells.map((c) => median(c.rates) ?? 0)
      const spread = cells.length === 1 ? (cells[0]?.rates ?? []) : perProcess
      const firsts = cells.map((c) => median(c.firsts)).filter((x) => x !== undefined)
      const lasts = cells.map((c) => median(c.lasts)).filter((x) => x !== undefined)
      const memory = cells.map((c) => median(c.memory)).filter((x) => x !== undefined)
      return {
        target,
        role: cells[0]?.role ?? "peer",
        n: cells[0]?.n ?? 0,
        rate: median(perProcess) ?? 0,
        min: Math.min(...spread),
        max: Math.max(...spread),
        first: median(firsts),
        last: median(lasts),
        memory: median(memory),
        memoryWhat: cells.find((c) => c.memoryWhat !== undefined)?.memoryWhat
      }
    })
    return { workload: id, rows }
  })
}

const fmtRate = (x: number): string => Math.round(x).toLocaleString("en-US")
const fmtRatio = (x: number): string => (x >= 100 ? x.toFixed(0) : x >= 10 ? x.toFixed(1) : x.toFixed(2))

const kindOf = (workloadId: string): WorkloadSpec["kind"] | undefined => workloads.find((w) => w.id === workloadId)?.spec.kind

const commandKinds: ReadonlyArray<WorkloadSpec["kind"] | undefined> = ["commands", "hotStream", "fleet"]

/** What a rate counts: commands for the handler's workloads (W6–W8), events elsewhere. */
const unit = (workloadId: string): string => (commandKinds.includes(kindOf(workloadId)) ? "commands/s" : "events/s")

/** F2's rate as the time it stands for: `n` events opened in `n / rate` seconds. */
const openTime = (workloadId: string, s: Summary): string =>
  kindOf(workloadId) === "open" ? `open ${(1000 * s.n / s.rate).toFixed(0)} ms` : ""

interface Line {
  readonly workload: string
  readonly subject: Summary | undefined
  readonly peer: Summary | undefined
  readonly limit: Summary | undefined
  /** subject / peer */
  readonly ratio: number | undefined
  /** limit / subject: how many times slower than the physical limit the subject is. */
  readonly belowLimit: number | undefined
  readonly verdict: string
}

// Each miss says by how much: the factor the subject's figure must still grow by.
const judge = (bar: Bar | undefined, subject: Summary | undefined, ratio: number | undefined, belowLimit: number | undefined): string => {
  if (bar === undefined || subject === undefined) return ""
  const misses: Array<string> = []
  const short = (have: number, want: number): string => `${fmtRatio(want / have)}x short`
  if (bar.minRate !== undefined && subject.rate < bar.minRate) {
    misses.push(`rate ${fmtRate(subject.rate)} < ${fmtRate(bar.minRate)}: ${short(subject.rate, bar.minRate)}`)
  }
  if (bar.minRatio !== undefined && (ratio === undefined || ratio < bar.minRatio)) {
    misses.push(ratio === undefined ? `no peer for ratio ≥ ${bar.minRatio}x` : `ratio ${fmtRatio(ratio)}x < ${bar.minRatio}x: ${short(ratio, bar.minRatio)}`)
  }
  if (bar.minFlatness !== undefined) {
    const flat = subject.first !== undefined && subject.last !== undefined ? subject.last / subject.first : 0
    if (flat < bar.minFlatness) misses.push(`last/first ${flat.toFixed(2)} < ${bar.minFlatness.toFixed(2)}`)
  }
  if (bar.maxBelowLimit !== undefined && (belowLimit === undefined || belowLimit > bar.maxBelowLimit)) {
    misses.push(
      belowLimit === undefined
        ? "no disk figure to compare with"
        : `${fmtRatio(belowLimit)}x below the disk, more than ${bar.maxBelowLimit}x: ${short(bar.maxBelowLimit, belowLimit)}`
    )
  }
  return misses.length === 0 ? "meets bar" : `BELOW BAR (${misses.join("; ")})`
}

// The memory figures, one line per workload and target that measured one.
const memoryLines = (summary: ReturnType<typeof summarize>): ReadonlyArray<string> =>
  summary.flatMap(({ workload, rows }) =>
    rows.flatMap((r) =>
      r.memory === undefined ? [] : [
        `${workload} ${r.target}: ${r.memoryWhat === "peak RSS growth" ? `${(r.memory / 2 ** 20).toFixed(1)} MiB` : `${fmtRate(r.memory)} bytes`} ` +
        `${r.memoryWhat ?? ""} (n=${fmtRate(r.n)} events${r.memoryWhat === "peak RSS growth" ? `, ${(r.memory / r.n).toFixed(1)} bytes per event read` : ""})`
      ]
    )
  )

const lines = (suite: Suite, summary: ReturnType<typeof summarize>): ReadonlyArray<Line> =>
  summary.map(({ workload, rows }) => {
    const subject = rows.find((r) => r.role === "subject")
    const peer = rows.find((r) => r.role === "peer")
    const limit = rows.find((r) => r.role === "limit")
    const ratio = subject !== undefined && peer !== undefined ? subject.rate / peer.rate : undefined
    const belowLimit = subject !== undefined && limit !== undefined ? limit.rate / subject.rate : undefined
    return { workload, subject, peer, limit, ratio, belowLimit, verdict: judge(suite.bar[workload], subject, ratio, belowLimit) }
  })

const pad = (s: string, n: number, right = false): string => (right ? s.padStart(n) : s.padEnd(n))

const flatness = (s: Summary): string =>
  s.first !== undefined && s.last !== undefined
    ? `first 10% ${fmtRate(s.first)}/s, last 10% ${fmtRate(s.last)}/s, last/first ${(s.last / s.first).toFixed(2)}`
    : ""

const printText = (summary: ReturnType<typeof summarize>, suite: Suite, processes: number): void => {
  const out: Array<string> = []
  const spreadLabel = processes > 1 ? `min..max of ${processes} process medians` : "min..max of runs"
  out.push("")
  out.push(`${pad("workload", 8)} ${pad("target", 22)} ${pad("n", 9, true)} ${pad("rate/s (median)", 16, true)}  ${spreadLabel}`)
  for (const { workload, rows } of summary) {
    for (const r of rows) {
      out.push(
        `${pad(workload, 8)} ${pad(r.target, 22)} ${pad(fmtRate(r.n), 9, true)} ${pad(fmtRate(r.rate), 16, true)}  ` +
          `${fmtRate(r.min)}..${fmtRate(r.max)} ${unit(workload)}  ${openTime(workload, r)}${flatness(r)}`
      )
    }
  }
  const anyLimit = summary.some(({ rows }) => rows.some((r) => r.role === "limit"))
  out.push("")
  out.push(`${pad("workload", 8)} ${pad("ratio (subject / peer)", 30)} ${anyLimit ? `${pad("limit / subject", 15)} ` : ""}verdict`)
  for (const l of lines(suite, summary)) {
    const capped = l.subject !== undefined && l.peer !== undefined && l.peer.n < l.subject.n ? " (peer capped: lower bound)" : ""
    const limit = anyLimit ? `${pad(l.belowLimit === undefined ? "-" : `${fmtRatio(l.belowLimit)}x`, 15)} ` : ""
    out.push(`${pad(l.workload, 8)} ${pad(l.ratio === undefined ? "-" : `${fmtRatio(l.ratio)}x${capped}`, 30)} ${limit}${l.verdict}`)
  }
  const memory = memoryLines(summary)
  if (memory.length > 0) out.push("", "memory use (medians, taken after the clock stopped or beside it):", ...memory.map((m) => `  ${m}`))
  process.stdout.write(`${out.join("\n")}\n`)
}

const printMarkdown = (summary: ReturnType<typeof summarize>, suite: Suite): void => {
  const title = new Map(workloads.map((w) => [w.id, w.title]))
  const all = lines(suite, summary)
  const anyLimit = all.some((l) => l.limit !== undefined)
  const out: Array<string> = [
    "",
    `| workload | es-kernel /s | peer /s | ratio |${anyLimit ? " limit /s | limit ÷ es-kernel |" : ""} bar |`,
    `|---|---:|---:|---:|${anyLimit ? "---:|---:|" : ""}---|`
  ]
  for (const l of all) {
    const cell = (s: Summary | undefined): string => {
      if (s === undefined) return "-"
      const base = fmtRate(s.rate) + ` (n=${fmtRate(s.n)})`
      const time = openTime(l.workload, s)
      const extra = time === "" ? "" : `<br>${time}`
      return s.first !== undefined && s.last !== undefined
        ? `${base}${extra}<br>first 10% ${fmtRate(s.first)}, last 10% ${fmtRate(s.last)} (×${(s.last / s.first).toFixed(2)})`
        : `${base}${extra}`
    }
    const limit = anyLimit
      ? ` ${cell(l.limit)} | ${l.belowLimit === undefined ? "-" : `${fmtRatio(l.belowLimit)}×`} |`
      : ""
    out.push(
      `| ${l.workload}: ${title.get(l.workload) ?? ""} | ${cell(l.subject)} | ${cell(l.peer)} | ` +
        `${l.ratio === undefined ? "-" : `${fmtRatio(l.ratio)}×`} |${limit} ${l.verdict} |`
    )
  }
  const memory = memoryLines(summary)
  if (memory.length > 0) out.push("", ...memory.map((m) => `- memory, ${m}`))
  process.stdout.write(`${out.join("\n")}\n`)
}

// ---------------------------------------------------------------------------
// Several processes
// ---------------------------------------------------------------------------

const runChildren = (options: Options, argv: ReadonlyArray<string>): ReadonlyArray<ProcessResult> => {
  const script = process.argv[1]
  if (script === undefined) throw new Error("bench: cannot find my own script path")
  const childArgs = argv.filter((a, i) => a !== "--runs" && argv[i - 1] !== "--runs" && !a.startsWith("--runs="))
  const results: Array<ProcessResult> = []
  for (let i = 1; i <= options.runs; i++) {
    progress(`--- process ${i}/${options.runs} ---`)
    const child = spawnSync(process.execPath, [...process.execArgv, script, ...childArgs, "--json"], {
      stdio: ["ignore", "pipe", "inherit"],
      encoding: "utf8",
      maxBuffer: 64 * 1024 * 1024
    })
    if (child.status !== 0) throw new Error(`bench: process ${i} exited with ${String(child.status ?? child.signal)}`)
    const last = child.stdout.trim().split("\n").at(-1) ?? ""
    results.push(decodeProcessResult(last))
  }
  return results
}

const machine = (): string => {
  const cpu = cpus()
  const load = loadavg().map((x) => x.toFixed(2)).join(" ")
  return `${cpu.length} cores (${cpu[0]?.model ?? "unknown cpu"}), ${Math.round(totalmem() / 2 ** 30)} GiB, ` +
    `Node ${process.version}; load average at the end ${load}`
}

const main = async (): Promise<void> => {
  const argv = process.argv.slice(2)
  const options = parseOptions(argv)
  if (options.json) {
    const result = await runProcess(options)
    process.stdout.write(`${JSON.stringify(result)}\n`)
    return
  }
  const processes = options.runs > 1 ? runChildren(options, argv) : [await runProcess(options)]
  const summary = summarize(processes)
  process.stdout.write(`\n${options.suite.description}\n${machine()}\n`)
  process.stdout.write(
    `${processes.length} process(es) × ${options.reps} timed run(s) after ${options.warmup} warm-up(s); medians` +
      `${options.scale === 1 ? "" : `; scale ${options.scale}`}\n`
  )
  process.stdout.write(
    `load average (1 min) per process, start→end: ${processes.map((p) => `${p.loadBefore.toFixed(2)}→${p.loadAfter.toFixed(2)}`).join(", ")}\n`
  )
  for (const note of options.suite.notes ?? []) process.stdout.write(`note: ${note}\n`)
  printText(summary, options.suite, processes.length)
  if (options.markdown) printMarkdown(summary, options.suite)
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`)
  process.exitCode = 1
})
