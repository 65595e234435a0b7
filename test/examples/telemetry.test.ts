import { mkdtemp, rm } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { describe, expect, it } from "vitest"
import { runExample } from "./run.js"

const example = "examples/telemetry.ts"

/** The lines of `output` that start (after indentation) with `prefix`. */
const linesStarting = (output: string, prefix: string) => output.split("\n").filter((line) => line.trimStart().startsWith(prefix))

describe("telemetry example", () => {
  it("exports a handled command's spans, nested, and the store's and handler's metrics over OTLP, and prints them", async () => {
    const output = await runExample(example)
    expect(output).toMatch(/^telemetry example on the memory; OTLP receiver on http:\/\/127\.0\.0\.1:\d+$/m)
    expect(output).toMatch(/^> ada-[0-9a-f]{8}: withdrawn after a conflict, open, Ada, balance 85\.50 \(version 3\)$/m)
    expect(output).toMatch(/^span example\.telemetry /m)
    // The command's span, with the store's operations inside it.
    expect(output).toMatch(
      /^ {2}span CommandHandler\.handle [\d.]+ ms: category=account id=(ada-[0-9a-f]{8}) stream_id=account-\1 command_id=open-\1 event_count=1 next_version=1 already_handled=false position=1\n {4}span EventStore\.readStream [\d.]+ ms: stream_id=account-\1 direction=forward event_count=0\n {4}span EventStore\.append [\d.]+ ms: stream_id=account-\1 expected_version=0 event_count=1 next_version=1 position=1$/m
    )
    // The conflict: a failed append with the actual version, a read of what was missed, and the retry.
    expect(output).toMatch(
      /^ {4}span EventStore\.append \(failed\) [\d.]+ ms: stream_id=account-ada-[0-9a-f]{8} expected_version=1 event_count=1 actual_version=2\n {4}span EventStore\.readStream [\d.]+ ms: .* from=2 event_count=1 position=2\n {4}span EventStore\.append [\d.]+ ms: .* expected_version=2 event_count=1 next_version=3 position=3$/m
    )
    expect(linesStarting(output, "span EventStore.subscribe")).toHaveLength(1)
    expect(output).toMatch(/^metric es_kernel\.append\.duration \[ms\] histogram: count=4 mean=[\d.]+ max=[\d.]+$/m)
    expect(output).toContain("metric es_kernel.append.events counter: 3\n")
    expect(output).toContain("metric es_kernel.append.conflicts counter: 1\n")
    expect(output).toContain("metric es_kernel.command.conflicts counter category=account: 1\n")
    expect(output).toContain("metric es_kernel.command.retries counter category=account: 1\n")
    expect(output).toMatch(/^metric es_kernel\.projection\.lag \[ms\] gauge projection=deposits@1: \d+$/m)
    expect(output).toMatch(/^metric es_kernel\.subscription\.lag \[ms\] histogram: count=1 /m)
    // The memory layer has no group commit and no fsync.
    expect(linesStarting(output, "metric es_kernel.group_commit")).toEqual([])
  })

  it("on a file store, adds the group-commit sizes and fsync times", async () => {
    const directory = await mkdtemp(join(tmpdir(), "es-kernel-telemetry-example-"))
    try {
      const output = await runExample(example, ["--store", `file:${directory}`])
      expect(output).toMatch(/^metric es_kernel\.fsync\.duration \[ms\] histogram: count=3 mean=[\d.]+ max=[\d.]+$/m)
      expect(output).toContain("metric es_kernel.group_commit.appends histogram: count=3 mean=1.00 max=1.00\n")
      expect(output).toContain("metric es_kernel.group_commit.events histogram: count=3 mean=1.00 max=1.00\n")
      expect(output).toMatch(/^ {2}span CommandHandler\.handle .* next_version=3 already_handled=false position=3$/m)
    } finally {
      await rm(directory, { recursive: true, force: true })
    }
  })
})
