/**
 * A persistent (immutable, structurally shared) map from strings to values: a hash array
 * mapped trie. `set` returns a new map that shares all but one path of at most seven
 * nodes with the old one, so updating one key of a map of n keys costs O(log₃₂ n) time
 * and space, and the old map stays valid and unchanged.
 *
 * It reads as a `ReadonlyMap` and iterates in insertion order, like a `Map`: each key
 * keeps the sequence number of its first insertion, and iteration sorts by it
 * (O(n log n), paid only when iterating). Nothing ever mutates a node once it is
 * reachable from a map, so a map can be shared freely.
 */

const bitsPerLevel = 5
const mask = (1 << bitsPerLevel) - 1
/** 32-bit hashes, five bits a level: below this shift the hash is used up. */
const maxShift = 30

/** FNV-1a over UTF-16 code units: deterministic, so the trie's shape depends only on its keys. */
const hashOf = (key: string): number => {
  let hash = 0x811c9dc5
  for (let i = 0; i < key.length; i++) hash = Math.imul(hash ^ key.charCodeAt(i), 0x01000193)
  return hash >>> 0
}

const popcount = (n: number): number => {
  let v = n - ((n >>> 1) & 0x55555555)
  v = (v & 0x33333333) + ((v >>> 2) & 0x33333333)
  return (Math.imul((v + (v >>> 4)) & 0x0f0f0f0f, 0x01010101) >>> 24)
}

class Leaf<K extends string, V> {
  constructor(readonly hash: number, readonly key: K, readonly value: V, readonly order: number) {}
}

/** Keys whose 32-bit hashes are equal: a short list, searched linearly. */
class Collision<K extends string, V> {
  constructor(readonly hash: number, readonly leaves: ReadonlyArray<Leaf<K, V>>) {}
}

/** A trie level: `bitmap` says which of the 32 slots are present; `children` holds them in slot order. */
class Branch<K extends string, V> {
  constructor(readonly bitmap: number, readonly children: ReadonlyArray<Node<K, V>>) {}
}

type Node<K extends string, V> = Leaf<K, V> | Collision<K, V> | Branch<K, V>

const find = <K extends string, V>(node: Node<K, V> | undefined, hash: number, key: K, shift: number): Leaf<K, V> | undefined => {
  let current = node
  let level = shift
  while (current !== undefined) {
    if (current instanceof Leaf) return current.key === key ? current : undefined
    if (current instanceof Collision) return current.hash === hash ? current.leaves.find((leaf) => leaf.key === key) : undefined
    const bit = 1 << ((hash >>> level) & mask)
    if ((current.bitmap & bit) === 0) return undefined
    current = current.children[popcount(current.bitmap & (bit - 1))]
    level += bitsPerLevel
  }
  return undefined
}

const replaced = <T>(items: ReadonlyArray<T>, index: number, item: T): ReadonlyArray<T> => {
  const copy = items.slice()
  copy[index] = item
  return copy
}

/** A node holding `a` (a leaf or collision) and a leaf of another key, split at `shift` and below. */
const pair = <K extends string, V>(a: Leaf<K, V> | Collision<K, V>, b: Leaf<K, V>, shift: number): Node<K, V> => {
  if (shift > maxShift || a.hash === b.hash) return new Collision(a.hash, a instanceof Collision ? [...a.leaves, b] : [a, b])
  const slotA = (a.hash >>> shift) & mask
  const slotB = (b.hash >>> shift) & mask
  if (slotA === slotB) return new Branch(1 << slotA, [pair(a, b, shift + bitsPerLevel)])
  return new Branch((1 << slotA) | (1 << slotB), slotA < slotB ? [a, b] : [b, a])
}

/** `node` with `leaf` inserted or, when its key is present, replaced (keeping the first insertion's order). */
const insert = <K extends string, V>(node: Node<K, V>, leaf: Leaf<K, V>, shift: number): Node<K, V> => {
  if (node instanceof Leaf) {
    return node.key === leaf.key ? new Leaf(leaf.hash, leaf.key, leaf.value, node.order) : pair(node, leaf, shift)
  }
  if (node instanceof Collision) {
    const index = node.leaves.findIndex((existing) => existing.key === leaf.key)
    if (index === -1) return pair(node, leaf, shift)
    const existing = node.leaves[index]
    const order = existing === undefined ? leaf.order : existing.order
    return new Collision(node.hash, replaced(node.leaves, index, new Leaf(leaf.hash, leaf.key, leaf.value, order)))
  }
  const bit = 1 << ((leaf.hash >>> shift) & mask)
  const index = popcount(node.bitmap & (bit - 1))
  const child = node.children[index]
  if ((node.bitmap & bit) === 0 || child === undefined) {
    const children = node.children.slice()
    children.splice(index, 0, leaf)
    return new Branch(node.bitmap | bit, children)
  }
  return new Branch(node.bitmap, replaced(node.children, index, insert(child, leaf, shift + bitsPerLevel)))
}

const collect = <K extends string, V>(node: Node<K, V> | undefined, into: Array<Leaf<K, V>>): void => {
  if (node === undefined) return
  if (node instanceof Leaf) into.push(node)
  else if (node instanceof Collision) into.push(...node.leaves)
  else for (const child of node.children) collect(child, into)
}

/**
 * An immutable map with cheap updates. Read it as a `ReadonlyMap`; update it with `set`,
 * which returns a new map.
 */
export class PersistentMap<K extends string, V> implements ReadonlyMap<K, V> {
  private constructor(
    private readonly root: Node<K, V> | undefined,
    readonly size: number,
    /** The order number the next new key gets. */
    private readonly nextOrder: number
  ) {}

  static empty<K extends string, V>(): PersistentMap<K, V> {
    return new PersistentMap<K, V>(undefined, 0, 0)
  }

  /** A persistent copy of any map or list of entries, in its iteration order. */
  static from<K extends string, V>(entries: Iterable<readonly [K, V]>): PersistentMap<K, V> {
    let map = PersistentMap.empty<K, V>()
    for (const [key, value] of entries) map = map.set(key, value)
    return map
  }

  get(key: K): V | undefined {
    return find(this.root, hashOf(key), key, 0)?.value
  }

  has(key: K): boolean {
    return find(this.root, hashOf(key), key, 0) !== undefined
  }

  /** A new map with `key` bound to `value`; this one is unchanged. */
  set(key: K, value: V): PersistentMap<K, V> {
    const hash = hashOf(key)
    const isNew = find(this.root, hash, key, 0) === undefined
    const leaf = new Leaf(hash, key, value, this.nextOrder)
    const root = this.root === undefined ? leaf : insert(this.root, leaf, 0)
    return isNew ? new PersistentMap(root, this.size + 1, this.nextOrder + 1) : new PersistentMap(root, this.size, this.nextOrder)
  }

  private leaves(): ReadonlyArray<Leaf<K, V>> {
    const leaves: Array<Leaf<K, V>> = []
    collect(this.root, leaves)
    return leaves.sort((a, b) => a.order - b.order)
  }

  entries(): MapIterator<[K, V]> {
    return this.leaves().map((leaf): [K, V] => [leaf.key, leaf.value]).values()
  }

  keys(): MapIterator<K> {
    return this.leaves().map((leaf) => leaf.key).values()
  }

  values(): MapIterator<V> {
    return this.leaves().map((leaf) => leaf.value).values()
  }

  forEach(callback: (value: V, key: K, map: ReadonlyMap<K, V>) => void): void {
    for (const [key, value] of this.entries()) callback(value, key, this)
  }

  [Symbol.iterator](): MapIterator<[K, V]> {
    return this.entries()
  }
}
