/**
 * The file checkpoint store's disk format: one directory per projection key holding
 * `checkpoint.json` (the checkpoint, replaced atomically) and `LOCK` (the runner's claim,
 * the same lock file the file event store uses against a second writer).
 *
 * A replacement is crash-safe: the new content goes to `checkpoint.json.tmp`, is fsynced,
 * renamed over `checkpoint.json` and the directory is fsynced, so after a crash the file
 * holds either the old or the new checkpoint, never a mix. Only the lock holder writes,
 * so one temporary name per key is enough.
 *
 * @internal
 */
import * as fs from "node:fs/promises"
import * as path from "node:path"
import type { Json, Position } from "../../EventStore.js"

/** @internal */
export interface StoredCheckpoint {
  readonly position: Position
  readonly state?: Json
}

const fileName = "checkpoint.json"
const activeFileName = "active.json"
const format = 1

const errorCode = (error: unknown): unknown => error instanceof Error && "code" in error ? error.code : undefined

const syncDirectory = async (directory: string): Promise<void> => {
  const handle = await fs.open(directory, "r")
  try {
    await handle.sync()
  } finally {
    await handle.close()
  }
}

/** Replaces `file` by `content`: temp, fsync, rename, fsync directory. @internal */
export const writeAtomically = async (file: string, content: string): Promise<void> => {
  const temporary = `${file}.tmp`
  const handle = await fs.open(temporary, "w")
  try {
    await handle.writeFile(content, "utf8")
    await handle.sync()
  } finally {
    await handle.close()
  }
  await fs.rename(temporary, file)
  await syncDirectory(path.dirname(file))
}

const readIfPresent = async (file: string): Promise<string | undefined> => {
  try {
    return await fs.readFile(file, "utf8")
  } catch (error) {
    if (errorCode(error) === "ENOENT") return undefined
    throw error
  }
}

const isObject = (value: Json): value is { readonly [key: string]: Json } =>
  typeof value === "object" && value !== null && !Array.isArray(value)

/** JSON text parsed: only JSON values come out of `JSON.parse`. */
const parseJson = (text: string): Json | undefined => {
  try {
    const parsed: Json = JSON.parse(text)
    return parsed
  } catch {
    return undefined
  }
}

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
