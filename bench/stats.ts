/** Summaries the bench scripts share. */

/** The median of `xs`, `undefined` when there are none. */
export const median = (xs: ReadonlyArray<number>): number | undefined => {
  if (xs.length === 0) return undefined
  const s = [...xs].sort((a, b) => a - b)
  const mid = s.length >> 1
  const hi = s[mid] ?? 0
  return s.length % 2 === 1 ? hi : ((s[mid - 1] ?? 0) + hi) / 2
}
