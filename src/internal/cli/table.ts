/**
 * Plain-text tables and values for the commands' human output. Machine output is
 * `--json` (NDJSON or one JSON object), never these.
 *
 * @internal
 */

/** `text` cut to `max` characters, with `…` when cut. @internal */
export const shorten = (text: string, max: number): string => text.length <= max ? text : `${text.slice(0, max - 1)}…`

/** Rows under a header, each column as wide as its widest cell; the last column is not padded. @internal */
export const table = (header: ReadonlyArray<string>, rows: ReadonlyArray<ReadonlyArray<string>>): ReadonlyArray<string> => {
  const widths = header.map((title, column) => Math.max(title.length, ...rows.map((row) => (row[column] ?? "").length)))
  const line = (cells: ReadonlyArray<string>) =>
    cells.map((cell, column) => column === cells.length - 1 ? cell : cell.padEnd(widths[column] ?? 0)).join("  ").trimEnd()
  return [line(header), ...rows.map(line)]
}

/** A count with thousands separators. @internal */
export const count = (value: number): string => value.toLocaleString("en-US")

/** A byte size in B, KiB, MiB or GiB. @internal */
export const bytes = (value: number): string => {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"]
  let size = value
  let unit = 0
  while (size >= 1024 && unit < units.length - 1) {
    size /= 1024
    unit++
  }
  return unit === 0 ? `${value} B` : `${size.toFixed(1)} ${units[unit]}`
}

/** A time, ISO 8601 in UTC. @internal */
export const time = (at: Date): string => at.toISOString()
