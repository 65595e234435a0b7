/**
 * The in-memory index of the log, rebuilt on open by a header-only scan: where each
 * record lives and what it holds (typed arrays, one slot per record), the records of
 * each stream, and a hash table from event id to global position.
 *
 * The id table keeps 32-bit hashes, not the ids: a million ids as JS strings in a `Map`
 * would cost more to build than the whole open budget. A hash hit is only a candidate;
 * the store confirms it against the record's real ids (in memory for records still being
 * written, from disk otherwise), so a collision costs a read, never a wrong answer.
 *
 * @internal
 */

const grow = <T extends Float64Array | Uint32Array>(array: T, make: (size: number) => T, size: number): T => {
  if (size <= array.length) return array
  const next = make(Math.max(size, array.length * 2))
  next.set(array)
  return next
}

/**
 * One slot per record, in log order. Positions and versions of the events of record `r`
 * are `firstPosition[r] + i` and `firstVersion[r] + i` for `i < count[r]`.
 *
 * @internal
 */
export class RecordTable {
  size = 0
  firstPosition = new Float64Array(1024)
  firstVersion = new Uint32Array(1024)
  count = new Uint32Array(1024)
  streamNo = new Uint32Array(1024)
  segment = new Uint32Array(1024)
  offset = new Float64Array(1024)
  length = new Uint32Array(1024)

  push(firstPosition: number, firstVersion: number, count: number, streamNo: number, length: number): number {
    const record = this.size
    this.reserve(1)
    this.firstPosition[record] = firstPosition
    this.firstVersion[record] = firstVersion
    this.count[record] = count
    this.streamNo[record] = streamNo
    this.length[record] = length
    this.size = record + 1
    return record
  }

  /** Makes room for `count` more records at once. */
  reserve(count: number): void {
    const size = this.size + count
    if (size <= this.firstPosition.length) return
    this.firstPosition = grow(this.firstPosition, (n) => new Float64Array(n), size)
    this.firstVersion = grow(this.firstVersion, (n) => new Uint32Array(n), size)
    this.count = grow(this.count, (n) => new Uint32Array(n), size)
    this.streamNo = grow(this.streamNo, (n) => new Uint32Array(n), size)
    this.segment = grow(this.segment, (n) => new Uint32Array(n), size)
    this.offset = grow(this.offset, (n) => new Float64Array(n), size)
    this.length = grow(this.length, (n) => new Uint32Array(n), size)
  }

  /** Appends whole columns of records of one segment (an idx file's) with one copy each. */
  pushColumns(
    columns: {
      readonly records: number
      readonly firstPosition: Float64Array
      readonly firstVersion: Uint32Array
      readonly count: Uint32Array
      readonly streamNo: Uint32Array
      readonly offset: Float64Array
      readonly length: Uint32Array
    },
    segment: number
  ): void {
    const at = this.size
    const records = columns.records
    this.reserve(records)
    this.firstPosition.set(columns.firstPosition.subarray(0, records), at)
    this.firstVersion.set(columns.firstVersion.subarray(0, records), at)
    this.count.set(columns.count.subarray(0, records), at)
    this.streamNo.set(columns.streamNo.subarray(0, records), at)
    this.offset.set(columns.offset.subarray(0, records), at)
    this.length.set(columns.length.subarray(0, records), at)
    this.segment.fill(segment, at, at + records)
    this.size = at + records
  }

  locate(record: number, segment: number, offset: number): void {
    this.segment[record] = segment
    this.offset[record] = offset
  }

  /** The record holding `position`, or the first record after it; `size` when none. */
  recordAtOrAfter(position: number): number {
    let low = 0
    let high = this.size
    while (low < high) {
      const middle = (low + high) >>> 1
      const last = (this.firstPosition[middle] ?? 0) + (this.count[middle] ?? 0) - 1
      if (last < position) low = middle + 1
      else high = middle
    }
    return low
  }
}

/**
 * The largest position the id table can hold.
 *
 * @internal
 */
export const maxPosition = 0xffffffff

/**
 * Open-addressing hash table from 32-bit event-id hash to global position (`0` marks an
 * empty slot, positions start at 1). Event ids are unique in a store, so an id has at
 * most one true entry; equal hashes of different ids simply sit side by side.
 *
 * Each slot is a (position, hash) pair of u32s side by side in one array: inserts land at
 * random slots, so a slot in one cache line and a table half the size of f64 columns
 * halve the cache misses of building the table at open, which is most of its cost. It
 * limits a store to 2^32 - 1 events (`maxPosition`), which the store enforces.
 *
 * @internal
 */
export class IdTable {
  size = 0
  private slots = new Uint32Array(2 * 4096) // [position, hash] per slot

  /** Makes room for `count` more ids without rehashing as they arrive. */
  reserve(count: number): void {
    let capacity = this.capacity()
    while ((this.size + count) * 2 > capacity) capacity *= 2
    if (capacity > this.capacity()) this.resize(capacity)
  }

  insert(hash: number, position: number): void {
    if ((this.size + 1) * 2 > this.capacity()) this.resize(this.capacity() * 2)
    this.place(hash, position)
    this.size++
  }

  /** Inserts `hashes[i]` at position `firstPosition + i`, for every i < count. */
  insertAll(hashes: Uint32Array, count: number, firstPosition: number): void {
    this.reserve(count)
    for (let index = 0; index < count; index++) this.place(hashes[index] ?? 0, firstPosition + index)
    this.size += count
  }

  /** Every position whose id has this hash. */
  candidates(hash: number): Array<number> {
    const slots = this.slots
    const mask = (slots.length >>> 1) - 1
    const found: Array<number> = []
    for (let slot = hash & mask;; slot = (slot + 1) & mask) {
      const position = slots[2 * slot] ?? 0
      if (position === 0) return found
      if (slots[2 * slot + 1] === hash) found.push(position)
    }
  }

  private capacity(): number {
    return this.slots.length >>> 1
  }

  private place(hash: number, position: number): void {
    const slots = this.slots
    const mask = (slots.length >>> 1) - 1
    let slot = hash & mask
    while ((slots[2 * slot] ?? 0) !== 0) slot = (slot + 1) & mask
    slots[2 * slot] = position
    slots[2 * slot + 1] = hash
  }

  private resize(capacity: number): void {
    const old = this.slots
    this.slots = new Uint32Array(2 * capacity)
    for (let slot = 0; slot < old.length; slot += 2) {
      const position = old[slot] ?? 0
      if (position !== 0) this.place(old[slot + 1] ?? 0, position)
    }
  }
}

/**
 * The event-id hash of every event, by position (`hashes[position - 1]`): what an idx
 * file stores for its segment, so sealing a segment needs no reread of its ids.
 *
 * @internal
 */
export class HashLog {
  size = 0
  hashes = new Uint32Array(4096)

  reserve(count: number): void {
    this.hashes = grow(this.hashes, (n) => new Uint32Array(n), this.size + count)
  }

  push(hash: number): void {
    if (this.size >= this.hashes.length) this.hashes = grow(this.hashes, (n) => new Uint32Array(n), this.size + 1)
    this.hashes[this.size++] = hash
  }

  pushAll(hashes: Uint32Array, count: number): void {
    this.hashes = grow(this.hashes, (n) => new Uint32Array(n), this.size + count)
    this.hashes.set(hashes.subarray(0, count), this.size)
    this.size += count
  }
}

/**
 * What the store knows about one stream. `version` counts the events reserved for it,
 * including those of batches still being written; readers see only durable records.
 *
 * @internal
 */
export interface StreamEntry {
  readonly streamId: string
  readonly streamNo: number
  readonly category: string
  version: number
  readonly records: Array<number>
}
