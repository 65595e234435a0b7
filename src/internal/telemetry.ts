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

const milliseconds = { unit: "milliseconds" } as const

// 0.05 ms to about 13 s, doubling: an in-memory append to a slow disk's sync.
const durationBoundaries = Metric.exponentialBoundaries({ start: 0.05, factor: 2, count: 19 })
// 1 to 16,384, doubling: a lone append to the largest groups.
const sizeBoundaries = Metric.exponentialBoundaries({ start: 1, factor: 2, count: 15 })
// 1 ms to about 9 hours, quadrupling: a live subscriber to one catching up on old history.
const lagBoundaries = Metric.exponentialBoundaries({ start: 1, factor: 4, count: 13 })

/** Every metric es-kernel records. */
export const metrics = {
  appendDuration: Metric.histogram("es_kernel.append.duration", {
    description: "Time from calling append to its outcome (success or failure), per append call",
    attributes: milliseconds,
    boundaries: durationBoundaries
  }),
  appendedEvents: Metric.counter("es_kernel.append.events", {
    description: "Events recorded by successful appends (an idempotent retry records none)",
    incremental: true
  }),
  appendConflicts: Metric.counter("es_kernel.append.conflicts", {
    description: "Appends that failed with WrongExpectedVersion",
    incremental: true
  }),
  groupCommitAppends: Metric.histogram("es_kernel.group_commit.appends", {
    description: "Appends made durable together by one group commit (file: one write and sync; PostgreSQL: one statement)",
    boundaries: sizeBoundaries
  }),
  groupCommitEvents: Metric.histogram("es_kernel.group_commit.events", {
    description: "Events made durable together by one group commit",
    boundaries: sizeBoundaries
  }),
  fsyncDuration: Metric.histogram("es_kernel.fsync.duration", {
    description: "Time one fdatasync of the file layer's segment took",
    attributes: milliseconds,
    boundaries: durationBoundaries
  }),
  subscriptionLag: Metric.histogram("es_kernel.subscription.lag", {
    description: "Age of the last event of each chunk a subscription delivers: delivery time minus its recordedAt",
    attributes: milliseconds,
    boundaries: lagBoundaries
  }),
  commandConflicts: Metric.counter("es_kernel.command.conflicts", {
    description: "Command batches whose append met WrongExpectedVersion (another writer appended first)",
    incremental: true
  }),
  commandRetries: Metric.counter("es_kernel.command.retries", {
    description: "Times a command batch was decided again after a conflict",
    incremental: true
  }),
  projectionLag: Metric.gauge("es_kernel.projection.lag", {
    description: "Per projection: while a batch is being applied, the age of its first event; otherwise how old the last applied event was when it was applied",
    attributes: milliseconds
  })
} as const
