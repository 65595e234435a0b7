/**
 * A progress line for long work (export, import, verify, scans): redrawn in place on
 * standard error when it is a terminal, at most ten times a second, and silent when
 * standard error is a pipe or a file, so scripts and logs see only the results.
 *
 * @internal
 */

/** @internal */
export interface Progress {
  /** `done` units so far, of `total` when it is known. */
  readonly update: (done: number) => void
  /** Clears the line. */
  readonly finish: () => void
}

const silent: Progress = { update: () => undefined, finish: () => undefined }

const width = 30
const redrawEveryMs = 100

const formatCount = (value: number): string => Math.round(value).toLocaleString("en-US")

/**
 * A progress line counting `unit` (e.g. `"events"`, `"bytes"`) towards `total`, or
 * counting up when the total is unknown.
 *
 * @internal
 */
export const progress = (label: string, unit: string, total?: number): Progress => {
  const stream = process.stderr
  if (!stream.isTTY) return silent
  const started = Date.now()
  let drawnAt = 0
  let shown = false
  const draw = (done: number) => {
    const seconds = (Date.now() - started) / 1000
    const rate = seconds > 0 ? ` ${formatCount(done / seconds)} ${unit}/s` : ""
    let bar = `${formatCount(done)} ${unit}`
    if (total !== undefined && total > 0) {
      const fraction = Math.min(1, done / total)
      const filled = Math.round(fraction * width)
      bar = `[${"#".repeat(filled)}${"-".repeat(width - filled)}] ${Math.floor(fraction * 100)}% ${formatCount(done)}/${formatCount(total)} ${unit}`
    }
    stream.write(`\r\x1b[2K${label} ${bar}${rate}`)
    shown = true
  }
  return {
    update: (done) => {
      const now = Date.now()
      if (now - drawnAt < redrawEveryMs) return
      drawnAt = now
      draw(done)
    },
    finish: () => {
      if (shown) stream.write("\r\x1b[2K")
    }
  }
}
