import * as fs from "node:fs"
import * as path from "node:path"
import { afterEach, describe, expect, it } from "vitest"
import { DescriptorCache } from "../../src/internal/file/descriptors.js"
import { segmentName } from "../../src/internal/file/segments.js"
import { cleanup, tempDirectory } from "./helpers.js"

const directories: Array<string> = []
afterEach(() => {
  for (const directory of directories.splice(0)) cleanup(directory)
})

const withSegments = (count: number): string => {
  const directory = tempDirectory()
  directories.push(directory)
  for (let segment = 1; segment <= count; segment++) fs.writeFileSync(path.join(directory, segmentName(segment)), `s${segment}`)
  return directory
}

const readFirstBytes = (cache: DescriptorCache, segment: number): Promise<string> =>
  cache.use(segment, async (handle) => {
    const buffer = Buffer.alloc(8)
    const { bytesRead } = await handle.read(buffer, 0, 8, 0)
    return buffer.toString("utf8", 0, bytesRead)
  })

describe("DescriptorCache", () => {
  it("keeps at most its capacity of descriptors open across reads of many segments", async () => {
    const cache = new DescriptorCache(withSegments(20), 3)
    for (let round = 0; round < 2; round++) {
      for (let segment = 1; segment <= 20; segment++) {
        expect(await readFirstBytes(cache, segment)).toBe(`s${segment}`)
        expect(cache.size).toBeLessThanOrEqual(3)
      }
    }
    await cache.close()
    expect(cache.size).toBe(0)
  })

  it("never closes a descriptor in use, and shrinks back once the reads end", async () => {
    const cache = new DescriptorCache(withSegments(6), 2)
    const reads = await Promise.all([1, 2, 3, 4, 5, 6, 1, 2].map((segment) => readFirstBytes(cache, segment)))
    expect(reads).toEqual(["s1", "s2", "s3", "s4", "s5", "s6", "s1", "s2"])
    expect(cache.size).toBeLessThanOrEqual(2)
    await cache.close()
  })

  it("forgets a failed open, so a later read of the segment tries again", async () => {
    const directory = withSegments(1)
    const cache = new DescriptorCache(directory, 2)
    await expect(readFirstBytes(cache, 2)).rejects.toThrow(/ENOENT/)
    fs.writeFileSync(path.join(directory, segmentName(2)), "s2")
    expect(await readFirstBytes(cache, 2)).toBe("s2")
    await cache.close()
  })
})
