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
// from overflowing the call stack.
const maxDepth = 512

// Thrown inside the walk and turned into a `NotJson` result at the top, so the happy
// path carries no result wrappers. `keys` is filled innermost-first while unwinding.
class Refusal {
  readonly keys: Array<string | number> = []
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
const setKey = (target: Record<string, Json>, key: string, value: Json): void => {
  if (key === "__proto__") {
    Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true })
  } else {
    target[key] = value
  }
}

const walk = (value: unknown, ancestors: Array<object>): Json => {
  switch (typeof value) {
    case "string":
    case "boolean":
      return value
    case "number":
      if (!Number.isFinite(value)) throw new Refusal(describe(value))
      // JSON has no negative zero; normalising here makes every layer read back the same value.
      return value === 0 ? 0 : value
    case "object": {
      if (value === null) return null
      if (ancestors.includes(value)) throw new Refusal("a cycle is not JSON")
      if (ancestors.length >= maxDepth) throw new Refusal(`nested deeper than ${maxDepth} levels`)
      if (Array.isArray(value)) {
        if (Object.getPrototypeOf(value) !== Array.prototype) throw new Refusal(describe(value))
        ancestors.push(value)
        const length = value.length
        const copy = new Array<Json>(length)
        for (let index = 0; index < length; index++) {
          try {
            copy[index] = walk(value[index], ancestors)
          } catch (refusal) {
            if (refusal instanceof Refusal) refusal.keys.push(index)
            throw refusal
          }
        }
        ancestors.pop()
        return Object.freeze(copy)
      }
      if (!isPlainObject(value)) throw new Refusal(describe(value))
      ancestors.push(value)
      const copy: Record<string, Json> = {}
      for (const key in value) {
        // for-in also visits inherited enumerable keys; a plain object has none unless
        // Object.prototype has been polluted.
        if (!Object.prototype.hasOwnProperty.call(value, key)) continue
        try {
          setKey(copy, key, walk(Reflect.get(value, key), ancestors))
        } catch (refusal) {
          if (refusal instanceof Refusal) refusal.keys.push(key)
          throw refusal
        }
      }
      ancestors.pop()
      return Object.freeze(copy)
    }
    default:
      throw new Refusal(describe(value))
  }
}

const identifier = /^[A-Za-z_$][A-Za-z0-9_$]*$/

const pathOf = (root: string, keys: ReadonlyArray<string | number>): string => {
  let path = root
  for (let index = keys.length - 1; index >= 0; index--) {
    const key = keys[index]
    path += typeof key === "number"
      ? `[${key}]`
      : key !== undefined && identifier.test(key)
      ? `.${key}`
      : `[${JSON.stringify(key)}]`
  }
  return path
}

const run = <A>(root: string, body: () => A): A | NotJson => {
  try {
    return body()
  } catch (refusal) {
    if (refusal instanceof Refusal) return new NotJson(pathOf(root, refusal.keys), refusal.reason)
    // A throwing getter or proxy trap: the value cannot be read, so it cannot be stored.
    return new NotJson(root, `reading the value threw: ${String(refusal)}`)
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
export const copyJson = (value: unknown, root = "value"): Json | NotJson => run(root, () => walk(value, []))

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
    const ancestors: Array<object> = [value]
    const copy: Record<string, Json> = {}
    for (const key in value) {
      if (!Object.prototype.hasOwnProperty.call(value, key)) continue
      const field: unknown = Reflect.get(value, key)
      if (field === undefined) continue
      try {
        setKey(copy, key, walk(field, ancestors))
      } catch (refusal) {
        if (refusal instanceof Refusal) refusal.keys.push(key)
        throw refusal
      }
    }
    return Object.freeze(copy)
  })
}

/**
 * The metadata of an event appended without any: one shared frozen empty object.
 *
 * @internal
 */
export const emptyMetadata: Metadata = Object.freeze({})
