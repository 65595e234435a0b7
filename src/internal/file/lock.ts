/**
 * The writer lock: a `LOCK` file naming the holder's pid and a random token.
 *
 * It is created atomically by writing a private temporary file and `link`ing it to
 * `LOCK` (which fails if `LOCK` exists), so a reader never sees a half-written lock. A
 * lock whose pid is dead is stale: it is renamed aside (atomic, so of two reclaimers only
 * one moves it), checked to be the stale lock that was read, and removed; then the
 * acquisition starts over.
 *
 * @internal
 */
import { randomUUID } from "node:crypto"
import * as fs from "node:fs/promises"
import * as path from "node:path"

/** @internal */
export const lockFileName = "LOCK"

/** @internal */
export type LockResult =
  | { readonly _tag: "Acquired"; readonly release: () => Promise<void> }
  | { readonly _tag: "Held"; readonly holderPid: number }

const isAlive = (pid: number): boolean => {
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    // EPERM: the process exists but belongs to someone else.
    return error instanceof Error && "code" in error && error.code === "EPERM"
  }
}

const errorCode = (error: unknown): unknown => error instanceof Error && "code" in error ? error.code : undefined

const readHolder = async (file: string): Promise<{ readonly content: string; readonly pid: number } | undefined> => {
  try {
    const content = await fs.readFile(file, "utf8")
    return { content, pid: Number.parseInt(content, 10) }
  } catch (error) {
    if (errorCode(error) === "ENOENT") return undefined
    throw error
  }
}

/**
 * Takes the lock of `directory`, or names the live process holding it.
 *
 * @internal
 */
export const acquireLock = async (directory: string): Promise<LockResult> => {
  const lockFile = path.join(directory, lockFileName)
  const token = randomUUID()
  const content = `${process.pid} ${token}\n`
  const temporary = path.join(directory, `${lockFileName}.${token}.tmp`)
  await fs.writeFile(temporary, content, { flag: "wx" })
  try {
    for (let attempt = 0; attempt < 100; attempt++) {
      try {
        await fs.link(temporary, lockFile)
        const release = async (): Promise<void> => {
          const holder = await readHolder(lockFile)
          if (holder?.content === content) await fs.unlink(lockFile)
        }
        return { _tag: "Acquired", release }
      } catch (error) {
        if (errorCode(error) !== "EEXIST") throw error
      }
      const holder = await readHolder(lockFile)
      if (holder === undefined) continue
      // A lock being written by `link` is complete, so an unparsable pid is a foreign
      // file: refuse rather than guess.
      if (!Number.isSafeInteger(holder.pid) || holder.pid <= 0) {
        throw new Error(`unreadable lock file ${lockFile}: ${JSON.stringify(holder.content)}`)
      }
      if (isAlive(holder.pid)) return { _tag: "Held", holderPid: holder.pid }
      const aside = path.join(directory, `${lockFileName}.${token}.stale`)
      try {
        await fs.rename(lockFile, aside)
      } catch (error) {
        if (errorCode(error) === "ENOENT") continue // another process reclaimed it first
        throw error
      }
      const moved = await readHolder(aside)
      if (moved !== undefined && moved.content !== holder.content) {
        // We moved a fresh lock another reclaimer had just taken: put it back.
        try {
          await fs.link(aside, lockFile)
        } catch (error) {
          if (errorCode(error) !== "EEXIST") throw error
        }
      }
      await fs.unlink(aside)
    }
    throw new Error(`could not take the lock ${lockFile} after 100 attempts`)
  } finally {
    await fs.unlink(temporary).catch(() => undefined)
  }
}
