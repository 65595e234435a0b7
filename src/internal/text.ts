/**
 * Renderings of caller-supplied text for error messages: quoted, escaped and cut short, so
 * a message never embeds unbounded or invisible input.
 *
 * @internal
 */

const shownLength = 64

/**
 * A string as a JSON literal, cut to its first 64 code units (`"cart-1"`,
 * `"aaaa…" (10000 chars)`). Anything else is named by its type.
 *
 * @internal
 */
export const quote = (value: unknown): string => {
  if (typeof value !== "string") return value === null ? "null" : Array.isArray(value) ? "an array" : typeof value
  if (value.length <= shownLength) return JSON.stringify(value)
  return `${JSON.stringify(value.slice(0, shownLength))}… (${value.length} chars)`
}

/**
 * At most the first five of `values`, quoted, then how many more there are.
 *
 * @internal
 */
export const quoteList = (values: ReadonlyArray<string>): string => {
  const shown = values.slice(0, 5).map(quote).join(", ")
  return values.length > 5 ? `${shown} and ${values.length - 5} more` : shown
}
