/**
 * The few assertions the store conformance suite and model test use, on `node:assert`, so
 * they run under any test runner (vitest, jest, node's own) without one as a dependency.
 *
 * @internal
 */
import * as nodeAssert from "node:assert/strict"

export const deepStrictEqual = <A>(actual: unknown, expected: A, message?: string): void =>
  nodeAssert.deepStrictEqual(actual, expected, message)

export const strictEqual = <A>(actual: unknown, expected: A, message?: string): void =>
  nodeAssert.strictEqual(actual, expected, message)

export const fail = (message: string): never => nodeAssert.fail(message)

export const isTrue = (value: boolean, message?: string): void => nodeAssert.strictEqual(value, true, message)

export const isFalse = (value: boolean, message?: string): void => nodeAssert.strictEqual(value, false, message)

export function isDefined<A>(value: A | undefined, message?: string): asserts value is A {
  if (value === undefined) nodeAssert.fail(message ?? "expected a value, got undefined")
}

export const instanceOf = (value: unknown, constructor: abstract new(...args: never) => unknown, message?: string): void => {
  if (!(value instanceof constructor)) nodeAssert.fail(message ?? `expected an instance of ${constructor.name}`)
}

export const isBelow = (value: number, bound: number, message?: string): void => {
  if (!(value < bound)) nodeAssert.fail(message ?? `expected ${value} to be below ${bound}`)
}

export const isAbove = (value: number, bound: number, message?: string): void => {
  if (!(value > bound)) nodeAssert.fail(message ?? `expected ${value} to be above ${bound}`)
}

export const sameMembers = <A>(actual: ReadonlyArray<A>, expected: ReadonlyArray<A>, message?: string): void => {
  const sort = (values: ReadonlyArray<A>) => [...values].map((value) => JSON.stringify(value)).sort()
  nodeAssert.deepStrictEqual(sort(actual), sort(expected), message)
}
