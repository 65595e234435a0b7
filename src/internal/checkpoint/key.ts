/**
 * The one rule for checkpoint keys and projection names, on every checkpoint store: 1 to
 * 128 letters, digits, `.`, `_`, `-` and `@`, starting with a letter or digit, so that
 * they are safe as file names.
 *
 * @internal
 */

const keyPattern = /^[A-Za-z0-9][A-Za-z0-9._@-]{0,127}$/

/** Why `key` cannot be a checkpoint key, or `undefined` when it can. @internal */
export const invalidKey = (key: string): string | undefined =>
  keyPattern.test(key) ? undefined : "the key must be 1 to 128 letters, digits, '.', '_', '-' or '@', starting with a letter or digit"
