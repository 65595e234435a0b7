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
    if (record >= this.firstPosition.length) {
      const size = record + 1
      this.firstPosition = grow(this.firstPosition, (n) => new Float64Array(n), size)
      this.firstVersion = grow(this.firstVersion, (n) => new Uint32Array(n), size)
      this.count = grow(this.count, (n) => new Uint32Array(n), size)
      this.streamNo = grow(this.streamNo, (n) => new Uint32Array(n), size)
      this.segment = grow(this.segment, (n) => new Uint32Array(n), size)
      this.offset = grow(this.offset, (n) => new Float64Array(n), size)
      this.length = grow(this.length, (n) => new Uint32Array(n), size)
    }
    this.firstPosition[record] = firstPosition
    this.firstVersion[record] = firstVersion
    this.count[record] = count
    this.streamNo[record] = streamNo
    this.length[record] = length
    this.size = record + 1
    return record
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
 * Open-addressing hash table from 32-bit event-id hash to global position (`0` marks an
 * empty slot, positions start at 1). Event ids are unique in a store, so an id has at
 * most one true entry; equal hashes of different ids simply sit side by side.
 *
 * @internal
 */
export class IdTable {
  size = 0
  private hashes = new Uint32Array(4096)
  private positions = new Float64Array(4096)

  /** Makes room for `count` more ids without rehashing as they arrive. */
  reserve(count: number): void {
    let capacity = this.positions.length
    while ((this.size + count) * 2 > capacity) capacity *= 2
    if (capacity > this.positions.length) this.resize(capacity)
  }

  insert(hash: number, position: number): void {
    if ((this.size + 1) * 2 > this.positions.length) this.resize(this.positions.length * 2)
    this.place(hash, position)
    this.size++
  }

  /** Every position whose id has this hash. */
  candidates(hash: number): Array<number> {
    const mask = this.positions.length - 1
    const found: Array<number> = []
    for (let slot = hash & mask;; slot = (slot + 1) & mask) {
      const position = this.positions[slot] ?? 0
      if (position === 0) return found
      if (this.hashes[slot] === hash) found.push(position)
    }
  }

  private place(hash: number, position: number): void {
    const mask = this.positions.length - 1
    let slot = hash & mask
    while ((this.positions[slot] ?? 0) !== 0) slot = (slot + 1) & mask
    this.hashes[slot] = hash
    this.positions[slot] = position
  }

  private resize(capacity: number): void {
    const hashes = this.hashes
    const positions = this.positions
    this.hashes = new Uint32Array(capacity)
    this.positions = new Float64Array(capacity)
    for (let slot = 0; slot < positions.length; slot++) {
      const position = positions[slot] ?? 0
      if (position !== 0) this.place(hashes[slot] ?? 0, position)
    }
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
