/**
 * The file checkpoint store's disk format: one directory per projection key holding
 * `checkpoint.json` (the checkpoint, replaced atomically) and `LOCK` (the runner's claim,
 * the same lock file the file event store uses against a second writer).
 *
 * A replacement is crash-safe (`writeAtomically`): after a crash the file holds either
 * the old or the new checkpoint, never a mix.
 *
 * @internal
 */
import * as fs from "node:fs/promises"
import * as path from "node:path"
import type { Json, Position } from "../../EventStore.js"
import { errorCode, isObject, parseJson, readIfPresent, syncDirectory, writeAtomically } from "../files.js"

/** @internal */
export interface StoredCheckpoint {
  readonly position: Position
  readonly state?: Json
}

const fileName = "checkpoint.json"
const activeFileName = "active.json"
const format = 1

/** The directory of one key, created on first use. @internal */
export const keyDirectory = async (root: string, key: string): Promise<string> => {
  const directory = path.join(root, key)
  await fs.mkdir(directory, { recursive: true })
  return directory
}

/**
 * The stored checkpoint of the key in `directory`, `undefined` when none was saved, or a
 * string saying why the file is unreadable.
 *
 * @internal
 */
export const readCheckpoint = async (directory: string): Promise<StoredCheckpoint | undefined | { readonly unreadable: string }> => {
  const text = await readIfPresent(path.join(directory, fileName))
  if (text === undefined) return undefined
  const parsed = parseJson(text)
  if (parsed === undefined) return { unreadable: "it is not JSON" }
  if (!isObject(parsed) || parsed.format !== format) return { unreadable: `it is not a format ${format} checkpoint` }
  const position = parsed.position
  if (typeof position !== "number" || !Number.isSafeInteger(position) || position < 0) {
    return { unreadable: "its position is not a non-negative integer" }
  }
  const state = parsed.state
  return state === undefined ? { position } : { position, state }
}

/** @internal */
export const writeCheckpoint = (directory: string, checkpoint: StoredCheckpoint): Promise<void> =>
  writeAtomically(
    path.join(directory, fileName),
    JSON.stringify({ format, position: checkpoint.position, savedAt: new Date().toISOString(), state: checkpoint.state })
  )

/** The active version recorded for a projection name, if any. @internal */
export const readActive = async (root: string, name: string): Promise<number | undefined | { readonly unreadable: string }> => {
  const text = await readIfPresent(path.join(root, name, activeFileName))
  if (text === undefined) return undefined
  const parsed = parseJson(text)
  if (parsed !== undefined && isObject(parsed) && typeof parsed.version === "number" && Number.isSafeInteger(parsed.version)) {
    return parsed.version
  }
  return { unreadable: "it does not hold a version number" }
}

/** @internal */
export const writeActive = async (root: string, name: string, version: number): Promise<void> => {
  const directory = await keyDirectory(root, name)
  await writeAtomically(path.join(directory, activeFileName), JSON.stringify({ version, since: new Date().toISOString() }))
}

/**
 * The keys under `root` that hold a checkpoint, sorted (for the command line's list). A
 * missing `root` has none.
 *
 * @internal
 */
export const listKeys = async (root: string): Promise<ReadonlyArray<string>> => {
  const entries = await fs.readdir(root, { withFileTypes: true }).catch((error: unknown) => {
    if (errorCode(error) === "ENOENT") return []
    throw error
  })
  const keys = await Promise.all(
    entries.filter((entry) => entry.isDirectory()).map(async (entry) =>
      (await readIfPresent(path.join(root, entry.name, fileName))) === undefined ? [] : [entry.name]
    )
  )
  return keys.flat().sort()
}

/**
 * Removes the checkpoint of the key in `directory`, durably (the directory is synced):
 * its projection starts from the beginning of the store at its next start. Returns
 * whether there was one.
 *
 * @internal
 */
export const removeCheckpoint = async (directory: string): Promise<boolean> => {
  try {
    await fs.unlink(path.join(directory, fileName))
  } catch (error) {
    if (errorCode(error) === "ENOENT") return false
    throw error
  }
  await syncDirectory(directory)
  return true
}
