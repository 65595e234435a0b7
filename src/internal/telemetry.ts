/**
 * The names es-kernel's spans and metrics use, in one place: span attribute keys shared
 * by `EventStoreTelemetry` and `CommandHandler`, and every metric, with its unit.
 *
 * Units follow Effect's convention: a `unit` attribute (`"milliseconds"`), which Effect's
 * OTLP exporter turns into the OTLP unit (`ms`).
 *
 * @internal
 */
import { Metric } from "effect"

/** Span attribute keys. */
export const attribute = {
  streamId: "es_kernel.stream_id",
  category: "es_kernel.category",
  id: "es_kernel.id",
  commandId: "es_kernel.command_id",
  expectedVersion: "es_kernel.expected_version",
  actualVersion: "es_kernel.actual_version",
  nextVersion: "es_kernel.next_version",
  eventCount: "es_kernel.event_count",
  position: "es_kernel.position",
  alreadyHandled: "es_kernel.already_handled",
  direction: "es_kernel.direction",
  from: "es_kernel.from",
  to: "es_kernel.to",
  limit: "es_kernel.limit",
  categories: "es_kernel.filter.categories",
  types: "es_kernel.filter.types"
} as const

// 0.05 ms to about 13 s, doubling: an in-memory append to a slow disk's sync.
const durationBoundaries = Metric.exponentialBoundaries({ start: 0.05, factor: 2, count: 19 })
// 1 to 16,384, doubling: a lone append to the largest groups.
const sizeBoundaries = Metric.exponentialBoundaries({ start: 1, factor: 2, count: 15 })
// 1 ms to about 9 hours, quadrupling: a live subscriber to one catching up on old history.
const lagBoundaries = Metric.exponentialBoundaries({ start: 1, factor: 4, count: 13 })

const milliseconds = (name: string, description: string, boundaries: ReadonlyArray<number>) =>
  Metric.histogram(name, { description, attributes: { unit: "milliseconds" }, boundaries })
const sizes = (name: string, description: string) => Metric.histogram(name, { description, boundaries: sizeBoundaries })
const count = (name: string, description: string) => Metric.counter(name, { description, incremental: true })

/** Every metric es-kernel records. */
export const metrics = {
  appendDuration: milliseconds(
    "es_kernel.append.duration",
    "Time from calling append to its outcome (success or failure), per append call",
    durationBoundaries
  ),
  appendedEvents: count("es_kernel.append.events", "Events in successful appends"),
  appendConflicts: count("es_kernel.append.conflicts", "Appends that failed with WrongExpectedVersion"),
  groupCommitAppends: sizes(
    "es_kernel.group_commit.appends",
    "Appends made durable together by one group commit (file: one write and sync; PostgreSQL: one statement)"
  ),
  groupCommitEvents: sizes("es_kernel.group_commit.events", "Events made durable together by one group commit"),
  fsyncDuration: milliseconds("es_kernel.fsync.duration", "Time one fdatasync of the file layer's segment took", durationBoundaries),
  subscriptionLag: milliseconds(
    "es_kernel.subscription.lag",
    "Age of the last event of each chunk a subscription delivers: delivery time minus its recordedAt",
    lagBoundaries
  ),
  commandConflicts: count(
    "es_kernel.command.conflicts",
    "Command batches whose append met WrongExpectedVersion (another writer appended first)"
  ),
  commandRetries: count("es_kernel.command.retries", "Times a command batch was decided again after a conflict"),
  projectionLag: Metric.gauge("es_kernel.projection.lag", {
    description:
      "Per projection: while a batch is being applied, the age of its first event; otherwise how old the last applied event was when it was applied",
    attributes: { unit: "milliseconds" }
  })
} as const
