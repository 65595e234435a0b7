/**
 * The read descriptors of a store's segments, bounded: reads of a store of thousands of
 * segments must not hold one descriptor per segment.
 *
 * @internal
 */
import * as fs from "node:fs/promises"
import type { FileHandle } from "node:fs/promises"
import * as path from "node:path"
import { segmentName } from "./segments.js"

// Read descriptors kept open, least recently used closed first: a store of thousands of
// segments must not hold one descriptor per segment.
const openDescriptors = 64

interface Descriptor {
  readonly handle: Promise<FileHandle>
  users: number
}

/**
 * The read descriptors of a store's segments: opened on first use, kept while in use,
 * and closed least recently used first beyond `capacity`.
 *
 * @internal
 */
export class DescriptorCache {
  // Map order is use order: a used entry is moved to the end.
  private readonly descriptors = new Map<number, Descriptor>()

  constructor(private readonly directory: string, private readonly capacity = openDescriptors) {}

  /** How many descriptors are open or opening. */
  get size(): number {
    return this.descriptors.size
  }

  async use<A>(segment: number, read: (handle: FileHandle) => Promise<A>): Promise<A> {
    let descriptor = this.descriptors.get(segment)
    if (descriptor === undefined) {
      const opened: Descriptor = { handle: fs.open(path.join(this.directory, segmentName(segment)), "r"), users: 0 }
      // A failed open is forgotten, so the next read tries again.
      opened.handle.catch(() => this.descriptors.get(segment) === opened && this.descriptors.delete(segment))
      descriptor = opened
    } else {
      this.descriptors.delete(segment)
    }
    this.descriptors.set(segment, descriptor)
    descriptor.users++
    try {
      return await read(await descriptor.handle)
    } finally {
      descriptor.users--
      this.evict()
    }
  }

  async close(): Promise<void> {
    const descriptors = [...this.descriptors.values()]
    this.descriptors.clear()
    for (const { handle } of descriptors) await (await handle.catch(() => undefined))?.close().catch(() => undefined)
  }

  private evict(): void {
    for (const [segment, descriptor] of this.descriptors) {
      if (this.descriptors.size <= this.capacity) return
      if (descriptor.users > 0) continue
      this.descriptors.delete(segment)
      void descriptor.handle.then((handle) => handle.close()).catch(() => undefined)
    }
  }
}
