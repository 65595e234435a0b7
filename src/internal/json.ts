/**
 * Validating and freezing JSON in one walk.
 *
 * Every layer stores `data` and `metadata` as JSON, so an append must refuse what JSON
 * cannot represent faithfully (`undefined`, functions, `Date`s, `bigint`s, `NaN`,
 * class instances, cycles) instead of letting `JSON.stringify` drop or mangle it. The
 * same walk produces a deep, frozen copy: readers can share the stored value at no cost,
 * and a caller mutating its input after the append changes nothing.
 *
 * @internal
 */
import { limits } from "../EventStore.js"
import type { Json, Metadata } from "../EventStore.js"

/**
 * Why a value is not JSON, with the path to the offending part (`data.items[2]`).
 *
 * A plain class rather than an `Error`: it is a result, not an exception, and building
 * a stack trace for every rejected append would be wasted work.
 *
 * @internal
 */
export class NotJson {
  constructor(readonly path: string, readonly reason: string) {}
  get message(): string {
    return `${this.path}: ${this.reason}`
  }
}

// Deeper than this is almost certainly a runaway structure; refusing it keeps the walk
// (and every layer's parser) far from the call stack's limit.
const maxDepth = limits.depth

// An upper bound on the UTF-8 length of the JSON text of what the walks since the last
// `resetSize` copied: six bytes (a `\uXXXX` escape) per code unit of each string, 24 per
// number. Counting it costs next to nothing on the walk; the exact length is only worked
// out when the bound passes a limit.
let highBytes = 0

// Thrown inside the walk and caught at the top, so the happy path carries no result
// wrappers and no per-property try/catch. The path is only worked out after a refusal.
class Refusal {
  constructor(readonly reason: string) {}
}

const describe = (value: unknown): string => {
  if (value === undefined) return "undefined is not JSON"
  if (typeof value === "function") return "a function is not JSON"
  if (typeof value === "bigint") return "a bigint is not JSON"
  if (typeof value === "symbol") return "a symbol is not JSON"
  if (typeof value === "number") return `${String(value)} is not a finite number`
  if (value instanceof Date) return "a Date is not JSON (store an ISO string)"
  const constructor: unknown = typeof value === "object" && value !== null ? value.constructor : undefined
  const name = typeof constructor === "function" && constructor.name !== "" ? constructor.name : "a class"
  return `an instance of ${name} is not plain JSON`
}

const isPlainObject = (value: object): boolean => {
  const prototype = Object.getPrototypeOf(value)
  return prototype === Object.prototype || prototype === null
}

// A copied object gets an own `__proto__` key through defineProperty: plain assignment
// would silently replace the copy's prototype instead.
const setProtoKey = (target: Record<string, Json>, value: Json): void => {
  Object.defineProperty(target, "__proto__", { value, enumerable: true, writable: true, configurable: true })
}

/**
 * Whether `value` is an object other than an array, whose string keys can be read.
 *
 * @internal
 */
export const isFields = (value: unknown): value is { readonly [key: string]: unknown } =>
  typeof value === "object" && value !== null && !Array.isArray(value)

// The objects and arrays being walked, outermost first: a value already on it is a cycle.
// Shared by every walk (they are synchronous) and trimmed back at the end of each.
const ancestors: Array<object> = []

// What a composite value is, or why it cannot be JSON.
const classify = (value: object): "array" | "object" | Refusal => {
  if (ancestors.includes(value)) return new Refusal("a cycle is not JSON")
  if (ancestors.length >= maxDepth) return new Refusal(`nested deeper than ${maxDepth} levels`)
  if (Array.isArray(value)) {
    return Object.getPrototypeOf(value) === Array.prototype ? "array" : new Refusal(describe(value))
  }
  return isPlainObject(value) ? "object" : new Refusal(describe(value))
}

const walk = (value: unknown): Json => {
  switch (typeof value) {
    case "string":
      highBytes += 6 * value.length + 2
      return value
    case "boolean":
      highBytes += 5
      return value
    case "number":
      if (!Number.isFinite(value)) throw new Refusal(describe(value))
      highBytes += 24
      // JSON has no negative zero; normalising here makes every layer read back the same value.
      return value === 0 ? 0 : value
    case "object": {
      if (value === null) {
        highBytes += 4
        return null
      }
      const kind = classify(value)
      if (kind instanceof Refusal) throw kind
      ancestors.push(value)
      if (kind === "array") {
        const source: ReadonlyArray<unknown> = Array.isArray(value) ? value : []
        const length = source.length
        highBytes += length + 2
        const copy = new Array<Json>(length)
        for (let index = 0; index < length; index++) copy[index] = walk(source[index])
        ancestors.pop()
        return Object.freeze(copy)
      }
      highBytes += 2
      const fields = isFields(value) ? value : {}
      const copy: Record<string, Json> = {}
      // `fields[key]` straight inside the for-in (no `Reflect.get`, no helper call per key)
      // is the form V8 reads through the loop's enum cache: the copy's hottest line.
      for (const key in fields) {
        // for-in also visits inherited enumerable keys; a plain object has none unless
        // Object.prototype has been polluted.
        if (!Object.prototype.hasOwnProperty.call(fields, key)) continue
        highBytes += 6 * key.length + 4
        const field = walk(fields[key])
        if (key === "__proto__") setProtoKey(copy, field)
        else copy[key] = field
      }
      ancestors.pop()
      return Object.freeze(copy)
    }
    default:
      throw new Refusal(describe(value))
  }
}

const identifier = /^[A-Za-z_$][A-Za-z0-9_$]*$/

const child = (path: string, key: string | number): string =>
  typeof key === "number" ? `${path}[${key}]` : identifier.test(key) ? `${path}.${key}` : `${path}[${JSON.stringify(key)}]`

// The slow second look after a refusal: the same rules, tracking the path to the first
// offending part. Runs on a failed append only.
const locate = (value: unknown, path: string): NotJson | undefined => {
  if (typeof value === "string" || typeof value === "boolean" || value === null) return undefined
  if (typeof value === "number") return Number.isFinite(value) ? undefined : new NotJson(path, describe(value))
  if (typeof value !== "object") return new NotJson(path, describe(value))
  const kind = classify(value)
  if (kind instanceof Refusal) return new NotJson(path, kind.reason)
  ancestors.push(value)
  let found: NotJson | undefined
  if (kind === "array" && Array.isArray(value)) {
    for (let index = 0; index < value.length && found === undefined; index++) {
      found = locate(value[index], child(path, index))
    }
  } else {
    for (const key in value) {
      if (found !== undefined) break
      if (Object.prototype.hasOwnProperty.call(value, key)) found = locate(Reflect.get(value, key), child(path, key))
    }
  }
  ancestors.pop()
  return found
}

const run = <A>(root: string, body: () => A, relocate: () => NotJson | undefined): A | NotJson => {
  const depth = ancestors.length
  try {
    return body()
  } catch (refusal) {
    ancestors.length = depth
    // A throwing getter or proxy trap: the value cannot be read, so it cannot be stored.
    if (!(refusal instanceof Refusal)) return new NotJson(root, `reading the value threw: ${String(refusal)}`)
    try {
      return relocate() ?? new NotJson(root, refusal.reason)
    } catch (thrown) {
      return new NotJson(root, `reading the value threw: ${String(thrown)}`)
    } finally {
      ancestors.length = depth
    }
  }
}

/**
 * Validates `value` as JSON and returns a deep copy in which every object and array is
 * frozen, or a `NotJson` naming the first offending part. `root` names the value in that
 * path (`"data"`). Symbol-keyed and non-enumerable properties are not copied, as with
 * `JSON.stringify`; negative zero becomes zero.
 *
 * @internal
 */
export const copyJson = (value: unknown, root = "value"): Json | NotJson => run(root, () => walk(value), () => locate(value, root))

/**
 * Validates and freezes event metadata: it must be a plain object of JSON values. A key
 * whose value is `undefined` is dropped rather than refused, because the `Metadata` type
 * admits it (an optional key passed through) and JSON has no way to store it anyway.
 *
 * @internal
 */
export const copyMetadata = (value: unknown, root = "metadata"): Metadata | NotJson => {
  if (value === undefined) return emptyMetadata
  if (typeof value !== "object" || value === null || Array.isArray(value) || !isPlainObject(value)) {
    return new NotJson(root, "metadata must be a plain object")
  }
  return run(root, () => {
    const copy: Record<string, Json> = {}
    ancestors.push(value)
    highBytes += 2
    const fields = isFields(value) ? value : {}
    for (const key in fields) {
      if (!Object.prototype.hasOwnProperty.call(fields, key)) continue
      const field = fields[key]
      if (field === undefined) continue
      highBytes += 6 * key.length + 4
      const copied = walk(field)
      if (key === "__proto__") setProtoKey(copy, copied)
      else copy[key] = copied
    }
    ancestors.pop()
    return Object.freeze(copy)
  }, () => {
    ancestors.push(value)
    for (const key in value) {
      if (!Object.prototype.hasOwnProperty.call(value, key)) continue
      const field: unknown = Reflect.get(value, key)
      const found = field === undefined ? undefined : locate(field, child(root, key))
      if (found !== undefined) return found
    }
    return undefined
  })
}

/**
 * The metadata of an event appended without any: one shared frozen empty object.
 *
 * @internal
 */
export const emptyMetadata: Metadata = Object.freeze({})

/**
 * Starts counting the JSON size of the values the next walks copy.
 *
 * @internal
 */
export const resetSize = (): void => {
  highBytes = 0
}

/**
 * Counts `bytes` of JSON text that no walk copies (the `{}` of absent metadata).
 *
 * @internal
 */
export const addSize = (bytes: number): void => {
  highBytes += bytes
}

/**
 * The upper bound on the JSON size of the values copied since `resetSize`.
 *
 * @internal
 */
export const highSize = (): number => highBytes

/**
 * Whether the values copied since `resetSize` — `data` and `metadata` — take more than
 * `limit` bytes as UTF-8 JSON text: their size when they do, `undefined` when not. They
 * are serialised only when the cheap upper bound counted on the walk passes the limit.
 *
 * @internal
 */
export const exceedsSize = (limit: number, data: Json, metadata: Metadata): number | undefined => {
  if (highBytes <= limit) return undefined
  const exact = jsonBytes(data, metadata)
  return exact > limit ? exact : undefined
}

/**
 * The exact UTF-8 length of the JSON text of `data` and `metadata`.
 *
 * @internal
 */
export const jsonBytes = (data: Json, metadata: Metadata): number =>
  utf8Length(JSON.stringify(data)) + utf8Length(JSON.stringify(metadata))

// The UTF-8 length of well-formed text (JSON.stringify escapes lone surrogates).
const utf8Length = (text: string): number => {
  let bytes = text.length
  for (let index = 0; index < text.length; index++) {
    const unit = text.charCodeAt(index)
    if (unit < 0x80) continue
    if (unit < 0x800) bytes += 1
    else if (unit >= 0xd800 && unit <= 0xdbff) {
      bytes += 2
      index++
    } else bytes += 2
  }
  return bytes
}
