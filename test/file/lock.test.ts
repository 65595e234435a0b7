import { spawn } from "node:child_process"
import * as fs from "node:fs"
import * as net from "node:net"
import * as path from "node:path"
import { Effect, Exit, Layer } from "effect"
import { describe, expect, it } from "vitest"
import { EventStore } from "../../src/EventStore.js"
import * as EventStoreFile from "../../src/EventStoreFile.js"
import { acquireLock } from "../../src/internal/file/lock.js"
import { directoriesPerTest, spawnScript, waitForExit, waitForOutput } from "./helpers.js"

const freshDirectory = directoriesPerTest()

const openAndAppend = (directory: string) =>
  Effect.runPromise(Effect.exit(Effect.provide(
    Effect.gen(function*() {
      const store = yield* EventStore
      return (yield* store.append("lock-1", [{ type: "Opened", data: {} }])).nextExpectedVersion
    }),
    Layer.fresh(EventStoreFile.layer({ directory }))
  )))

const lockEntries = (directory: string): Array<string> => fs.readdirSync(directory).filter((name) => name.startsWith("LOCK"))

const repoRoot = path.resolve(import.meta.dirname, "../..")

describe("file store lock", () => {
  describe("a lock nobody holds any more is taken over without help", () => {
    it("opens when LOCK names a live process that is not a store (a recycled pid)", async () => {
      const directory = freshDirectory()
      const unrelated = spawn("sleep", ["30"], { stdio: "ignore" })
      try {
        fs.writeFileSync(path.join(directory, "LOCK"), `${unrelated.pid} 7d5f1c36-2f4e-4d0e-9a4f-3c1d2e5b6a70\n`)
        expect(Exit.isSuccess(await openAndAppend(directory))).toBe(true)
      } finally {
        unrelated.kill("SIGKILL")
        await waitForExit(unrelated)
      }
      expect(lockEntries(directory)).toEqual([])
    })

    it("opens when LOCK names the opener's own pid (a service restarted as PID 1 in a container)", async () => {
      const directory = freshDirectory()
      fs.writeFileSync(path.join(directory, "LOCK"), `${process.pid} 7d5f1c36-2f4e-4d0e-9a4f-3c1d2e5b6a70\n`)
      expect(Exit.isSuccess(await openAndAppend(directory))).toBe(true)
      expect(lockEntries(directory)).toEqual([])
    })

    it.each([["empty", ""], ["garbage", "\u0000\u0000\u0000\u0000"], ["half-written", "12"]])(
      "opens over an %s LOCK (never synced before a power loss)",
      async (_, content) => {
        const directory = freshDirectory()
        fs.writeFileSync(path.join(directory, "LOCK"), content)
        expect(Exit.isSuccess(await openAndAppend(directory))).toBe(true)
        expect(lockEntries(directory)).toEqual([])
      }
    )

    it("opens while the killed holder is a zombie its parent never reaped", async () => {
      const directory = freshDirectory()
      // The holder's parent execs into `sleep`, which never waits for it: once killed, the
      // holder stays a zombie (its pid still answers kill(pid, 0)) until `sleep` exits.
      const parent = spawn(
        "sh",
        ["-c", `"$0" --import tsx test/file/holdStore.ts "$1" & echo "holder $!"; exec sleep 60`, process.execPath, directory],
        { cwd: repoRoot, stdio: ["ignore", "pipe", "inherit"] }
      )
      try {
        const output = await waitForOutput(parent, "ready")
        const holderPid = Number(/holder (\d+)/.exec(output)?.[1])
        process.kill(holderPid, "SIGKILL")
        // A zombie leader's other threads may still be exiting, holding its files: wait
        // until only the zombie is left.
        await expect.poll(() => processState(holderPid), { timeout: 10_000 }).toBe("zombie")
        const exit = await openAndAppend(directory)
        expect(Exit.isSuccess(exit)).toBe(true)
        expect(processState(holderPid)).toBe("zombie")
      } finally {
        parent.kill("SIGKILL")
        await waitForExit(parent)
      }
    })

    it("opens after the holder was killed with SIGKILL, and the lock it left is gone", async () => {
      const directory = freshDirectory()
      const child = spawnScript("test/file/holdStore.ts", [directory])
      await waitForOutput(child, "ready")
      expect(lockEntries(directory)).toEqual([expect.stringMatching(new RegExp(`^LOCK\\.${child.pid}\\.`))])
      child.kill("SIGKILL")
      await waitForExit(child)
      expect(Exit.isSuccess(await openAndAppend(directory))).toBe(true)
      expect(lockEntries(directory)).toEqual([])
    })

    it("removes the temporary files a kill or a full disk left during an earlier open", async () => {
      const directory = freshDirectory()
      // An older lock's temporary file, and a claim socket whose process is gone.
      fs.writeFileSync(path.join(directory, "LOCK.0b9e4c3e-3f6a-4a47-8d0c-5b1e2f3a4d5c.tmp"), "")
      await deadSocket(path.join(directory, "LOCK.4242.mhx3k2a1.a1b2c3d4e5f6.tmp"))
      expect(Exit.isSuccess(await openAndAppend(directory))).toBe(true)
      expect(lockEntries(directory)).toEqual([])
    })

    it("lets the same process open again after an open failed for want of file descriptors (EMFILE)", async () => {
      const directory = freshDirectory()
      const child = spawn(
        "sh",
        ["-c", `ulimit -n 256 && exec "$0" --import tsx test/file/openWithoutDescriptors.ts "$1"`, process.execPath, directory],
        { cwd: repoRoot, stdio: ["ignore", "pipe", "inherit"] }
      )
      const output = await waitForOutput(child, "}")
      await waitForExit(child)
      expect(JSON.parse(output)).toEqual({ first: "failed", second: "opened" })
    })
  })

  describe("a live holder keeps it", () => {
    it("refuses a second open in the same process, naming this process and since when, until the first closes", async () => {
      const directory = freshDirectory()
      const layer = EventStoreFile.layer({ directory })
      const before = Date.now()
      const failure = await Effect.runPromise(Effect.provide(
        Effect.flip(Effect.provide(Effect.gen(function*() {
          yield* EventStore
        }), Layer.fresh(layer))),
        Layer.fresh(layer)
      ))
      expect(failure).toBeInstanceOf(EventStoreFile.FileStoreLocked)
      if (!(failure instanceof EventStoreFile.FileStoreLocked)) return
      expect(failure.holderPid).toBe(process.pid)
      expect(failure.heldSince.getTime()).toBeGreaterThanOrEqual(before - 1)
      expect(failure.heldSince.getTime()).toBeLessThanOrEqual(Date.now())
      expect(failure.message).toContain(`already open in this process (pid ${process.pid}) since`)
      expect(failure.message).toContain("close its scope")
      expect(Exit.isSuccess(await openAndAppend(directory))).toBe(true)
    })

    it("refuses an open while another process holds the store, saying which process, since when and what to do", async () => {
      const directory = freshDirectory()
      const child = spawnScript("test/file/holdStore.ts", [directory])
      try {
        await waitForOutput(child, "ready")
        const exit = await openAndAppend(directory)
        const failure = Exit.isFailure(exit) ? exit.cause.reasons.find((reason) => reason._tag === "Fail")?.error : undefined
        expect(failure).toBeInstanceOf(EventStoreFile.FileStoreLocked)
        if (!(failure instanceof EventStoreFile.FileStoreLocked)) return
        expect(failure.holderPid).toBe(child.pid)
        expect(failure.message).toMatch(new RegExp(`locked by the live process ${child.pid} .* since \\d{4}-\\d\\d-\\d\\dT`))
        expect(failure.message).toContain("never delete LOCK files by hand")
      } finally {
        child.stdin?.end()
        await waitForExit(child)
      }
      expect(Exit.isSuccess(await openAndAppend(directory))).toBe(true)
    })

    it("lets exactly one of many simultaneous openers take it", async () => {
      const directory = freshDirectory()
      for (let round = 0; round < 12; round++) {
        const results = await Promise.all(Array.from({ length: 6 }, () => acquireLock(directory)))
        const acquired = results.flatMap((result) => result._tag === "Acquired" ? [result] : [])
        expect(acquired).toHaveLength(1)
        for (const result of acquired) await result.release()
        expect(lockEntries(directory)).toEqual([])
      }
    })

    it("works in a directory whose path is too long for a socket address", async () => {
      const directory = path.join(freshDirectory(), "a-directory-name-long-enough-to-push-the-path-of-its-lock-past-what-a-socket-address-can-hold")
      expect(Buffer.byteLength(directory)).toBeGreaterThan(108)
      fs.mkdirSync(directory)
      const first = await acquireLock(directory)
      const second = await acquireLock(directory)
      expect([first._tag, second._tag]).toEqual(["Acquired", "Held"])
      if (first._tag === "Acquired") await first.release()
      expect(lockEntries(directory)).toEqual([])
      expect(lockEntries(path.dirname(directory))).toEqual([])
    })
  })
})

const processState = (pid: number): "zombie" | "exiting" | "running" | "gone" => {
  try {
    const state = fs.readFileSync(`/proc/${pid}/stat`, "utf8").replace(/^.*\) /s, "").charAt(0)
    if (state !== "Z") return "running"
    return fs.readdirSync(`/proc/${pid}/task`).length <= 1 ? "zombie" : "exiting"
  } catch {
    return "gone"
  }
}

/** Leaves a socket file at `file` that nobody listens on, as a killed process does. */
const deadSocket = async (file: string): Promise<void> => {
  // Node removes a socket file when its server closes, unless it was renamed meanwhile.
  const server = net.createServer()
  await new Promise<void>((resolve) => server.listen(`${file}.listening`, resolve))
  fs.renameSync(`${file}.listening`, file)
  await new Promise<void>((resolve) => server.close(() => resolve()))
  expect(fs.existsSync(file)).toBe(true)
}
