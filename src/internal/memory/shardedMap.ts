/**
 * A string-keyed map that outgrows V8's limit of 2^24 entries per `Map`, by sharding.
 *
 * @internal
 */

const shardCapacity = 1 << 23

/** @internal */
export class ShardedMap<V> {
  private readonly shards: Array<Map<string, V>> = [new Map()]
  private current: Map<string, V>
  size = 0

  constructor() {
    this.current = this.shards[0] ?? new Map()
  }

  get(key: string): V | undefined {
    const found = this.current.get(key)
    if (found !== undefined || this.shards.length === 1) return found
    for (const shard of this.shards) {
      const value = shard.get(key)
      if (value !== undefined) return value
    }
    return undefined
  }

  /** Only for keys not yet present: entries are never replaced. */
  add(key: string, value: V): void {
    if (this.current.size >= shardCapacity) {
      this.current = new Map()
      this.shards.push(this.current)
    }
    this.current.set(key, value)
    this.size++
  }

  /** Only for keys already present. */
  replace(key: string, value: V): void {
    if (this.current.has(key)) {
      this.current.set(key, value)
      return
    }
    for (const shard of this.shards) {
      if (shard.has(key)) {
        shard.set(key, value)
        return
      }
    }
  }
}
