/**
 * A power-loss model of a file system, as a `FileIo` the real file store runs on.
 *
 * The store works on a real directory (its reads go straight to the files), while this
 * recorder performs its writes for real and remembers, per file, the writes and
 * truncations no completed `datasync` has covered yet, and per directory, the entries
 * created, renamed and removed that no completed directory sync has covered yet. At the
 * crash point (the k-th operation) the power goes: that operation and every later one
 * fail, and an operation still running when it happened fails too, so the store never
 * acknowledges anything a sync after the crash would have covered. Syncs are not passed
 * to the disk: durability is what this model says it is.
 *
 * `materialise` then writes what a disk could hold after the power loss into a fresh
 * directory: every synced byte and entry, and for the rest, each unsynced write is
 * dropped, kept, or torn at 4 KiB pages (each page kept or dropped on its own; a dropped
 * page inside the file reads as what was there before, or zeros past the old end), each
 * unsynced truncation and directory operation kept or dropped, in their order.
 */
import * as fs from "node:fs"
import type { FileHandle } from "node:fs/promises"
import * as path from "node:path"
import type { FileIo, OpenMode } from "../../src/internal/file/io.js"
import { nodeIo } from "../../src/internal/file/io.js"

export const pageSize = 4096

/** A random source the test can seed; returns a float in [0, 1). */
export type Random = () => number

type DataOp =
  | { readonly kind: "write"; readonly position: number; readonly bytes: Buffer }
  | { readonly kind: "truncate"; readonly length: number }

interface FileState {
  durable: Buffer
  pending: Array<DataOp>
}

type Entry = { readonly kind: "file"; readonly file: FileState } | { readonly kind: "directory" }

type DirectoryOp =
  | { readonly kind: "add"; readonly name: string; readonly entry: Entry }
  | { readonly kind: "rename"; readonly from: string; readonly to: string }
  | { readonly kind: "remove"; readonly name: string }

interface DirectoryState {
  durable: Map<string, Entry>
  pending: Array<DirectoryOp>
}

/** What the power loss did to the unsynced operations, for the round's report. */
export interface Fates {
  writesKept: number
  writesDropped: number
  writesTorn: number
  truncationsDropped: number
  directoryOpsDropped: number
}

export class PowerLost extends Error {
  constructor(readonly operation: string) {
    super(`simulated power loss during ${operation}`)
  }
}

const resize = (bytes: Buffer, length: number): Buffer => {
  if (length <= bytes.length) return bytes.subarray(0, length)
  const grown = Buffer.alloc(length)
  bytes.copy(grown)
  return grown
}

const applyData = (content: Buffer, op: DataOp): Buffer => {
  if (op.kind === "truncate") return resize(content, op.length)
  const grown = resize(content, Math.max(content.length, op.position + op.bytes.length))
  op.bytes.copy(grown, op.position)
  return grown
}

const applyDirectory = (entries: Map<string, Entry>, op: DirectoryOp): void => {
  if (op.kind === "add") entries.set(op.name, op.entry)
  else if (op.kind === "remove") entries.delete(op.name)
  else {
    // A rename whose source a dropped operation never created leaves nothing to move.
    const moved = entries.get(op.from)
    if (moved === undefined) return
    entries.delete(op.from)
    entries.set(op.to, moved)
  }
}

/**
 * The recorder. `parent` is the directory holding the store's (which may not exist
 * yet); files already there are taken as synced.
 */
export class SimulatedDisk {
  private readonly directories = new Map<string, DirectoryState>()
  private readonly live = new Map<string, Entry>()
  private readonly handles = new Map<FileHandle, FileState>()
  // Handles opened with synced writes: each write is durable once it returns.
  private readonly synced = new Set<FileHandle>()
  /** What the store did that this model does not cover (the round reports it as a problem). */
  readonly unmodelled: Array<string> = []
  readonly io: FileIo
  private operations = 0
  private crashed = false

  /**
   * The power goes at operation `crashAt`, or with `onSync`, at the first sync (or synced
   * write) from there on (so a write is still waiting for it: the interesting moment).
   * With `syncedWrites` the disk offers `openSynced` (O_DSYNC), as Linux does; without,
   * writers must `datasync`.
   */
  constructor(
    private readonly storeDirectory: string,
    private readonly crashAt: number,
    private readonly onSync = false,
    private readonly syncedWrites = false
  ) {
    this.io = this.makeIo()
    const parent = path.dirname(storeDirectory)
    this.directories.set(parent, { durable: new Map(), pending: [] })
    if (fs.existsSync(storeDirectory)) {
      const store: Entry = { kind: "directory" }
      this.directories.get(parent)?.durable.set(path.basename(storeDirectory), store)
      this.live.set(storeDirectory, store)
      const entries = new Map<string, Entry>()
      for (const name of fs.readdirSync(storeDirectory)) {
        if (name.startsWith("LOCK")) continue
        const file: Entry = { kind: "file", file: { durable: fs.readFileSync(path.join(storeDirectory, name)), pending: [] } }
        entries.set(name, file)
        this.live.set(path.join(storeDirectory, name), file)
      }
      this.directories.set(storeDirectory, { durable: entries, pending: [] })
    }
  }

  /** How many operations ran before the power went (all of them, if it did not). */
  get operationCount(): number {
    return this.operations
  }

  get hasCrashed(): boolean {
    return this.crashed
  }

  /** Cuts the power now (the workload ended before the crash point). */
  crash(): void {
    this.crashed = true
  }

  private directory(directory: string): DirectoryState {
    let state = this.directories.get(directory)
    if (state === undefined) {
      state = { durable: new Map(), pending: [] }
      this.directories.set(directory, state)
    }
    return state
  }

  private addEntry(file: string, entry: Entry): void {
    this.live.set(file, entry)
    this.directory(path.dirname(file)).pending.push({ kind: "add", name: path.basename(file), entry })
  }

  /** How many files the store opened through this disk and has not closed. */
  openHandles(): number {
    return [...this.handles.keys()].filter((handle) => handle.fd !== -1).length
  }

  private fileOf(handle: FileHandle): FileState {
    const file = this.handles.get(handle)
    if (file === undefined) throw new Error("a handle the simulated disk did not open")
    return file
  }

  /** Runs one operation: the crash point fails it, a crash while it runs fails it after. */
  private async step<A>(
    operation: string,
    before: () => void,
    run: () => Promise<A>,
    after: (result: A) => void = () => undefined,
    discard: (result: A) => Promise<void> = async () => undefined
  ): Promise<A> {
    this.operations++
    if (this.operations >= this.crashAt && (!this.onSync || operation.startsWith("datasync") || operation === "synced writev")) this.crashed = true
    if (this.crashed) throw new PowerLost(operation)
    before()
    const result = await run()
    if (this.crashed) {
      await discard(result)
      throw new PowerLost(operation)
    }
    after(result)
    return result
  }

  private open(file: string, mode: OpenMode, synced: boolean): Promise<FileHandle> {
    return this.step(`open ${path.basename(file)} ${mode}${synced ? " synced" : ""}`, () => undefined, () => nodeIo.open(file, mode), (handle) => {
      let entry = this.live.get(file)
      if (entry?.kind !== "file") {
        if (mode === "r" || mode === "r+") throw new Error(`the simulated disk has no file ${file}`)
        entry = { kind: "file", file: { durable: Buffer.alloc(0), pending: [] } }
        this.addEntry(file, entry)
      } else if (mode === "w") {
        entry.file.pending.push({ kind: "truncate", length: 0 })
      }
      this.handles.set(handle, entry.file)
      if (synced) this.synced.add(handle)
    }, (handle) => handle.close())
  }

  // A write through a synced handle is durable once it returns: O_DSYNC syncs the range
  // written (and the size it needs), not the file's other unsynced operations, so one
  // left before it is a case this model does not cover: it fails the write and is kept
  // in `unmodelled` for the harness to report.
  private writev(handle: FileHandle, buffers: ReadonlyArray<Buffer>, position: number): Promise<number> {
    const file = this.fileOf(handle)
    const synced = this.synced.has(handle)
    const op: DataOp = { kind: "write", position, bytes: Buffer.concat(buffers) }
    // Recorded before it runs: bytes of a write cut by the power loss may be on disk too.
    return this.step(synced ? "synced writev" : "writev", () => {
      if (synced && file.pending.length > 0) {
        this.unmodelled.push("a synced write after unsynced operations of the same file")
        throw new Error("the simulated disk does not model a synced write after unsynced operations of the same file")
      }
      file.pending.push(op)
    }, () => nodeIo.writev(handle, buffers, position), (written) => {
      if (!synced) return
      file.pending.splice(file.pending.indexOf(op), 1)
      file.durable = applyData(file.durable, { ...op, bytes: op.bytes.subarray(0, written) })
    })
  }

  // Built in the constructor: it reads `syncedWrites`, which is set there.
  private makeIo(): FileIo {
    return {
      open: (file, mode) => this.open(file, mode, false),
      openSynced: this.syncedWrites ? (file, mode) => this.open(file, mode, true) : undefined,
      writev: (handle, buffers, position) => this.writev(handle, buffers, position),
      truncate: (handle, length) =>
        this.step("truncate", () => this.fileOf(handle).pending.push({ kind: "truncate", length }), () => nodeIo.truncate(handle, length)),
      datasync: (handle) => {
        const file = this.fileOf(handle)
        let covered = 0
        return this.step("datasync", () => {
          covered = file.pending.length
        }, async () => undefined, () => {
          for (const op of file.pending.splice(0, covered)) file.durable = applyData(file.durable, op)
        })
      },
      rename: (from, to) =>
        this.step(`rename ${path.basename(from)}`, () => undefined, () => nodeIo.rename(from, to), () => {
          const entry = this.live.get(from)
          if (entry === undefined) return
          this.live.delete(from)
          this.live.set(to, entry)
          this.directory(path.dirname(from)).pending.push({ kind: "rename", from: path.basename(from), to: path.basename(to) })
        }),
      remove: (file) =>
        this.step(`remove ${path.basename(file)}`, () => undefined, () => nodeIo.remove(file), () => {
          if (!this.live.delete(file)) return
          this.directory(path.dirname(file)).pending.push({ kind: "remove", name: path.basename(file) })
        }),
      makeDirectory: (directory) =>
        this.step("makeDirectory", () => undefined, () => nodeIo.makeDirectory(directory), (created) => {
          if (created === undefined) return
          this.addEntry(directory, { kind: "directory" })
        }),
      syncDirectory: (directory) => {
        const state = this.directory(directory)
        let covered = 0
        return this.step(`syncDirectory ${path.basename(directory)}`, () => {
          covered = state.pending.length
        }, async () => undefined, () => {
          for (const op of state.pending.splice(0, covered)) applyDirectory(state.durable, op)
        })
      }
    }
  }

  /**
   * Writes into `target` (an empty directory standing for the store's) what the disk
   * could hold after the power loss; `false` when the store's directory itself did not
   * survive (its creation was never synced).
   */
  materialise(target: string, random: Random): { readonly storeSurvived: boolean; readonly fates: Fates } {
    const fates: Fates = { writesKept: 0, writesDropped: 0, writesTorn: 0, truncationsDropped: 0, directoryOpsDropped: 0 }
    const survivingEntries = (directory: string): Map<string, Entry> => {
      const state = this.directory(directory)
      const entries = new Map(state.durable)
      for (const op of state.pending) {
        if (random() < 0.5) applyDirectory(entries, op)
        else fates.directoryOpsDropped++
      }
      return entries
    }
    const parent = survivingEntries(path.dirname(this.storeDirectory))
    if (parent.get(path.basename(this.storeDirectory))?.kind !== "directory") return { storeSurvived: false, fates }
    // Every file's fate is drawn once, even if two names reach it.
    const contents = new Map<FileState, Buffer>()
    for (const [name, entry] of survivingEntries(this.storeDirectory)) {
      if (entry.kind !== "file") continue
      let content = contents.get(entry.file)
      if (content === undefined) {
        content = this.survivingContent(entry.file, random, fates)
        contents.set(entry.file, content)
      }
      fs.writeFileSync(path.join(target, name), content)
    }
    return { storeSurvived: true, fates }
  }

  private survivingContent(file: FileState, random: Random, fates: Fates): Buffer {
    // A copy: the writes below change it in place.
    let content: Buffer = Buffer.from(file.durable)
    for (const op of file.pending) {
      if (op.kind === "truncate") {
        if (random() < 0.5) content = applyData(content, op)
        else fates.truncationsDropped++
        continue
      }
      const fate = random()
      if (fate < 1 / 3) {
        fates.writesDropped++
        continue
      }
      if (fate < 2 / 3) {
        fates.writesKept++
        content = applyData(content, op)
        continue
      }
      fates.writesTorn++
      const end = op.position + op.bytes.length
      for (let page = Math.floor(op.position / pageSize) * pageSize; page < end; page += pageSize) {
        if (random() < 0.5) continue
        const from = Math.max(page, op.position)
        const to = Math.min(page + pageSize, end)
        content = applyData(content, { kind: "write", position: from, bytes: op.bytes.subarray(from - op.position, to - op.position) })
      }
    }
    return content
  }
}
