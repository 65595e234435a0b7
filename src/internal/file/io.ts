/**
 * The file operations of the write path, as a record a test can replace to inject faults
 * (a failing `datasync`, a short `writev`) under the real store. Production code uses
 * `nodeIo`: `node:fs/promises` file handles, nothing else.
 *
 * @internal
 */
import * as fs from "node:fs/promises"
import type { FileHandle } from "node:fs/promises"

/** @internal */
export interface FileIo {
  readonly writev: (handle: FileHandle, buffers: ReadonlyArray<Buffer>, position: number) => Promise<number>
  readonly datasync: (handle: FileHandle) => Promise<void>
  readonly syncDirectory: (directory: string) => Promise<void>
}

/** @internal */
export const nodeIo: FileIo = {
  writev: async (handle, buffers, position) => (await handle.writev(buffers, position)).bytesWritten,
  datasync: (handle) => handle.datasync(),
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
 * Writes every byte of `buffers` at `position`, continuing after a short write.
 *
 * @internal
 */
export const writeFully = async (
  io: FileIo,
  handle: FileHandle,
  buffers: ReadonlyArray<Buffer>,
  position: number
): Promise<void> => {
  let pending = buffers
  let at = position
  while (pending.length > 0) {
    const written = await io.writev(handle, pending, at)
    if (written <= 0) throw new Error(`writev wrote ${written} bytes at ${at}`)
    at += written
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
}
