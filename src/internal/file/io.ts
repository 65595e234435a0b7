/**
 * The file operations that change what is on disk, as a record a test can replace to
 * inject faults (a failing `datasync`, a short `writev`, a full disk) or to simulate a
 * power loss under the real store. Every create, write, sync, truncate, rename and
 * remove of the store's files goes through it; reads of data files do not (they change
 * nothing). Production code uses `nodeIo`: `node:fs/promises`, nothing else.
 *
 * The lock is the one exception: `lock.ts` binds and removes its socket directly (no
 * bytes of it outlive its process, let alone a power loss).
 *
 * @internal
 */
import { constants } from "node:fs"
import * as fs from "node:fs/promises"
import type { FileHandle } from "node:fs/promises"
import * as path from "node:path"

/**
 * How a file is opened: `"r"` to read, `"r+"` to write an existing file, `"wx"` to create
 * a new file (failing if it exists), `"w"` to create or empty one.
 *
 * @internal
 */
export type OpenMode = "r" | "r+" | "wx" | "w"

/** @internal */
export interface FileIo {
  readonly open: (file: string, mode: OpenMode) => Promise<FileHandle>
  /**
   * Opens a file to write whose every write is durable once it returns, as if a
   * `datasync` of its bytes followed (`O_DSYNC`): one call to the disk instead of two.
   * `undefined` where the platform has no such flag; writers then `datasync`.
   */
  readonly openSynced: ((file: string, mode: "r+" | "wx") => Promise<FileHandle>) | undefined
  readonly writev: (handle: FileHandle, buffers: ReadonlyArray<Buffer>, position: number) => Promise<number>
  readonly datasync: (handle: FileHandle) => Promise<void>
  readonly truncate: (handle: FileHandle, length: number) => Promise<void>
  readonly rename: (from: string, to: string) => Promise<void>
  /** Removes a file; a missing file is not an error. */
  readonly remove: (file: string) => Promise<void>
  /** Creates a directory and its missing parents; returns the first one created, if any. */
  readonly makeDirectory: (directory: string) => Promise<string | undefined>
  readonly syncDirectory: (directory: string) => Promise<void>
}

const { O_CREAT, O_DSYNC, O_EXCL, O_RDWR } = constants

/** @internal */
export const nodeIo: FileIo = {
  open: (file, mode) => fs.open(file, mode),
  openSynced: O_DSYNC === undefined ? undefined : (file, mode) => fs.open(file, O_RDWR | O_DSYNC | (mode === "wx" ? O_CREAT | O_EXCL : 0)),
  writev: async (handle, buffers, position) => (await handle.writev(buffers, position)).bytesWritten,
  datasync: (handle) => handle.datasync(),
  truncate: (handle, length) => handle.truncate(length),
  rename: (from, to) => fs.rename(from, to),
  remove: (file) => fs.rm(file, { force: true }),
  makeDirectory: (directory) => fs.mkdir(directory, { recursive: true }),
  syncDirectory: async (directory) => {
    const handle = await fs.open(directory, "r")
    try {
      await handle.sync()
    } finally {
      await handle.close()
    }
  }
}

/**
 * Writes every byte of `buffers` at `position`, continuing after a short write, and
 * `spare` (if given) after them in the same calls, but only as much of it as the disk
 * takes: a write cut short (a full disk) once `buffers` are in is not continued. Returns
 * the bytes of `spare` written.
 *
 * @internal
 */
export const writeFully = async (
  io: FileIo,
  handle: FileHandle,
  buffers: ReadonlyArray<Buffer>,
  position: number,
  spare?: Buffer
): Promise<number> => {
  let required = 0
  for (const buffer of buffers) required += buffer.length
  let pending = spare === undefined ? buffers : [...buffers, spare]
  let done = 0
  while (pending.length > 0) {
    const written = await io.writev(handle, pending, position + done)
    if (written <= 0) throw new Error(`writev wrote ${written} bytes at ${position + done}`)
    done += written
    // `buffers` are written: what the disk took of `spare` with them is enough.
    if (done >= required) break
    let skip = written
    let index = 0
    while (index < pending.length && skip >= (pending[index]?.length ?? 0)) {
      skip -= pending[index]?.length ?? 0
      index++
    }
    const rest = pending.slice(index)
    const head = rest[0]
    if (head !== undefined && skip > 0) rest[0] = head.subarray(skip)
    pending = rest
  }
  return done - required
}

/**
 * Creates `directory` and its missing parents, then syncs the parent of each directory
 * created, so that the new entries survive a power loss.
 *
 * @internal
 */
export const makeDirectoryDurably = async (io: FileIo, directory: string): Promise<void> => {
  const first = await io.makeDirectory(directory)
  if (first === undefined) return
  const target = path.resolve(directory)
  // From the innermost created directory's parent up to the first created one's parent.
  for (let created = target; ; created = path.dirname(created)) {
    await io.syncDirectory(path.dirname(created))
    if (created === path.resolve(first) || path.dirname(created) === created) return
  }
}
