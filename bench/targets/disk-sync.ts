/**
 * The physical limit of the `file` suite: the disk's own write + fdatasync rate.
 *
 * A raw loop in a fresh directory under `os.tmpdir()` (where the stores live too): open
 * one file, then for each "event" write ~300 bytes (a 200-byte payload plus a record's
 * framing) at the end of the file and `fdatasync` it, one at a time, synchronously — no
 * event loop, no thread pool, no encoding. A durable store that acknowledges each append
 * after its own sync cannot beat this one writer at a time; W2's bar is to stay within
 * 1.5× of it. W1 runs the same loop (the disk has no streams): W1's bar is the same.
 */
import { closeSync, fdatasyncSync, openSync, writeSync } from "node:fs"
import { join } from "node:path"
import { now, windows } from "../workloads.js"
import type { Target } from "../workloads.js"
import { freshDirectory, removeDirectory } from "./eskernel-file.js"

/** Bytes written per synced "event". */
export const recordBytes = 300

export const diskSync: Target = {
  name: "disk write+fdatasync",
  role: "limit",
  runners: {
    roundRobin: async (spec) => {
      const loop = diskSync.runners.oneStream
      if (loop === undefined) throw new Error("disk write+fdatasync: no loop to run")
      const { events, seconds } = await loop({ kind: "oneStream", events: spec.events, window: 0.1 }, [])
      return { events, seconds }
    },
    oneStream: async (spec) => {
      const directory = await freshDirectory("disk")
      try {
        const fd = openSync(join(directory, "raw.log"), "a")
        try {
          const record = Buffer.alloc(recordBytes, "x")
          record.write("\n", recordBytes - 1)
          const { head, tail } = windows(spec)
          let headEnd = 0
          let tailStart = 0
          const t0 = now()
          for (let i = 0; i < spec.events; i++) {
            if (i === head) headEnd = now()
            if (i === tail) tailStart = now()
            writeSync(fd, record)
            fdatasyncSync(fd)
          }
          const t1 = now()
          if (head >= spec.events) headEnd = t1
          return {
            events: spec.events,
            seconds: (t1 - t0) / 1000,
            first: head / ((headEnd - t0) / 1000),
            last: (spec.events - tail) / ((t1 - tailStart) / 1000)
          }
        } finally {
          closeSync(fd)
        }
      } finally {
        await removeDirectory(directory)
      }
    }
  }
}
