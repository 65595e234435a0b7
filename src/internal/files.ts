/**
 * Small files replaced whole, and read back as JSON: what checkpoints and snapshots are.
 *
 * @internal
 */
import { randomUUID } from "node:crypto"
import * as fs from "node:fs/promises"
import * as path from "node:path"
import type { Json } from "../EventStore.js"

/** The `code` of a Node.js system error (`"ENOENT"`, …), if it has one. @internal */
export const errorCode = (error: unknown): unknown => error instanceof Error && "code" in error ? error.code : undefined

/** Makes the entries of `directory` (files created, renamed, removed) durable. @internal */
export const syncDirectory = async (directory: string): Promise<void> => {
  const handle = await fs.open(directory, "r")
  try {
    await handle.sync()
  } finally {
    await handle.close()
  }
}

/**
 * Replaces `file` by `content` so that a crash leaves the old content or the new, never a
 * mix: write a temporary file, fsync it, rename it over `file`, fsync the directory. The
 * temporary name is unique, so concurrent replacements of one file never clash (the last
 * rename wins).
 *
 * @internal
 */
export const writeAtomically = async (file: string, content: string): Promise<void> => {
  const temporary = `${file}.${randomUUID()}.tmp`
  try {
    const handle = await fs.open(temporary, "wx")
    try {
      await handle.writeFile(content, "utf8")
      await handle.sync()
    } finally {
      await handle.close()
    }
    await fs.rename(temporary, file)
  } catch (error) {
    await fs.unlink(temporary).catch(() => undefined)
    throw error
  }
  await syncDirectory(path.dirname(file))
}

/** The content of `file`, `undefined` when it does not exist. @internal */
export const readIfPresent = async (file: string): Promise<string | undefined> => {
  try {
    return await fs.readFile(file, "utf8")
  } catch (error) {
    if (errorCode(error) === "ENOENT") return undefined
    throw error
  }
}

/** @internal */
export const isObject = (value: Json): value is { readonly [key: string]: Json } =>
  typeof value === "object" && value !== null && !Array.isArray(value)

/** JSON text parsed (only JSON values come out of `JSON.parse`), `undefined` if it is not JSON. @internal */
export const parseJson = (text: string): Json | undefined => {
  try {
    const parsed: Json = JSON.parse(text)
    return parsed
  } catch {
    return undefined
  }
}
