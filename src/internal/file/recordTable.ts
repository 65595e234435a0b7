/**
 * The in-memory record table of the log and its companions, rebuilt on open: where each
 * record lives and what it holds (typed arrays, one slot per record), a hash table from
 * event id to global position, and the id hash of every event.
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
 * The columns of a run of records, as an idx file stores them.
 *
 * @internal
 */
export interface RecordColumns {
  readonly records: number
  readonly firstPosition: Float64Array
  readonly firstVersion: Uint32Array
  readonly count: Uint32Array
  readonly streamNo: Uint32Array
  readonly offset: Float64Array
  readonly length: Uint32Array
}

/**
 * One slot per record, in log order. Positions and versions of the events of record `r`
 * are `firstPosition(r) + i` and `firstVersion(r) + i` for `i < count(r)`.
 *
 * The columns are private: every read goes through an accessor that refuses a record
 * number outside the table, so a bug reads nothing rather than quietly reading row 0.
 *
 * @internal
 */
export class RecordTable {
  size = 0
  private firstPositions = new Float64Array(1024)
  private firstVersions = new Uint32Array(1024)
  private counts = new Uint32Array(1024)
  private streamNos = new Uint32Array(1024)
  private segments = new Uint32Array(1024)
  private offsets = new Float64Array(1024)
  private lengths = new Uint32Array(1024)

  firstPosition(record: number): number {
    return this.read(this.firstPositions, record)
  }
  firstVersion(record: number): number {
    return this.read(this.firstVersions, record)
  }
  count(record: number): number {
    return this.read(this.counts, record)
  }
  streamNo(record: number): number {
    return this.read(this.streamNos, record)
  }
  segment(record: number): number {
    return this.read(this.segments, record)
  }
  offset(record: number): number {
    return this.read(this.offsets, record)
  }
  length(record: number): number {
    return this.read(this.lengths, record)
  }
  /** The position of the record's last event. */
  lastPosition(record: number): number {
    return this.firstPosition(record) + this.count(record) - 1
  }
  /** The stream version of the record's last event. */
  lastVersion(record: number): number {
    return this.firstVersion(record) + this.count(record) - 1
  }

  push(firstPosition: number, firstVersion: number, count: number, streamNo: number, length: number): number {
    const record = this.size
    this.reserve(1)
    this.firstPositions[record] = firstPosition
    this.firstVersions[record] = firstVersion
    this.counts[record] = count
    this.streamNos[record] = streamNo
    this.lengths[record] = length
    this.size = record + 1
    return record
  }

  /** Makes room for `count` more records at once. */
  reserve(count: number): void {
    const size = this.size + count
    if (size <= this.firstPositions.length) return
    this.firstPositions = grow(this.firstPositions, (n) => new Float64Array(n), size)
    this.firstVersions = grow(this.firstVersions, (n) => new Uint32Array(n), size)
    this.counts = grow(this.counts, (n) => new Uint32Array(n), size)
    this.streamNos = grow(this.streamNos, (n) => new Uint32Array(n), size)
    this.segments = grow(this.segments, (n) => new Uint32Array(n), size)
    this.offsets = grow(this.offsets, (n) => new Float64Array(n), size)
    this.lengths = grow(this.lengths, (n) => new Uint32Array(n), size)
  }

  /** Appends whole columns of records of one segment (an idx file's) with one copy each. */
  pushColumns(columns: RecordColumns, segment: number): void {
    const at = this.size
    const records = columns.records
    this.reserve(records)
    this.firstPositions.set(columns.firstPosition.subarray(0, records), at)
    this.firstVersions.set(columns.firstVersion.subarray(0, records), at)
    this.counts.set(columns.count.subarray(0, records), at)
    this.streamNos.set(columns.streamNo.subarray(0, records), at)
    this.offsets.set(columns.offset.subarray(0, records), at)
    this.lengths.set(columns.length.subarray(0, records), at)
    this.segments.fill(segment, at, at + records)
    this.size = at + records
  }

  /** Copies of the columns of records [first, end). */
  columns(first: number, end: number): RecordColumns {
    if (first < 0 || first > end || end > this.size) throw new RangeError(`records ${first}..${end} are outside the table of ${this.size}`)
    return {
      records: end - first,
      firstPosition: this.firstPositions.slice(first, end),
      firstVersion: this.firstVersions.slice(first, end),
      count: this.counts.slice(first, end),
      streamNo: this.streamNos.slice(first, end),
      offset: this.offsets.slice(first, end),
      length: this.lengths.slice(first, end)
    }
  }

  locate(record: number, segment: number, offset: number): void {
    this.check(record)
    this.segments[record] = segment
    this.offsets[record] = offset
  }

  /** The record holding `position`, or the first record after it; `size` when none. */
  recordAtOrAfter(position: number): number {
    let low = 0
    let high = this.size
    while (low < high) {
      const middle = (low + high) >>> 1
      if (this.lastPosition(middle) < position) low = middle + 1
      else high = middle
    }
    return low
  }

  private check(record: number): void {
    if (!(record >= 0 && record < this.size)) throw new RangeError(`record ${record} is outside the table of ${this.size}`)
  }

  private read(column: Float64Array | Uint32Array, record: number): number {
    const value = column[record]
    if (value === undefined || !(record >= 0 && record < this.size)) {
      throw new RangeError(`record ${record} is outside the table of ${this.size}`)
    }
    return value
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

  /** Copies of the hashes of positions [firstPosition, firstPosition + count). */
  slice(firstPosition: number, count: number): Uint32Array {
    if (firstPosition < 1 || count < 0 || firstPosition - 1 + count > this.size) {
      throw new RangeError(`positions ${firstPosition}+${count} are outside the hash log of ${this.size}`)
    }
    return this.hashes.slice(firstPosition - 1, firstPosition - 1 + count)
  }

  pushAll(hashes: Uint32Array, count: number): void {
    this.hashes = grow(this.hashes, (n) => new Uint32Array(n), this.size + count)
    this.hashes.set(hashes.subarray(0, count), this.size)
    this.size += count
  }
}
