/**
 * Tracing and metrics: a bank account's commands run on a store decorated by
 * `EventStoreTelemetry.layer`, exported with Effect's own OTLP exporter (OTLP/HTTP, JSON)
 * to a tiny receiver started here, which prints, once the program is done, every span it
 * received (as a tree) and the last exported value of every es-kernel metric. Point `baseUrl` at a real OpenTelemetry Collector (port 4318) instead and the
 * same data lands in Jaeger, Tempo, Prometheus or any OTLP backend.
 *
 * What runs: a command, a second handler that meets a version conflict and retries, and a
 * projection that follows the store — so the output shows `CommandHandler.handle` spans with
 * their `EventStore.*` children, and the append, group-commit, fsync (on a file store),
 * conflict, retry, subscription and projection metrics.
 *
 * Run: npx tsx examples/telemetry.ts [--store memory | --store file:<directory> | --store postgres://…]
 */
import { randomUUID } from "node:crypto"
import * as http from "node:http"
import { Console, Effect, Layer } from "effect"
import { FetchHttpClient } from "effect/http"
import { Otlp, OtlpExporter } from "effect/observability"
import { CommandHandler, EventStoreTelemetry, Projector } from "es-kernel"
import * as Account from "./bank/Account.js"
import { storeFromArgs } from "./store.js"

// ---------------------------------------------------------------------------
// A tiny OTLP/HTTP receiver: what a collector would get, printed
// ---------------------------------------------------------------------------

interface AnyValue {
  readonly stringValue?: string
  readonly intValue?: number | string
  readonly doubleValue?: number
  readonly boolValue?: boolean
  readonly arrayValue?: { readonly values: ReadonlyArray<AnyValue> }
}
interface KeyValue {
  readonly key: string
  readonly value: AnyValue
}
interface Span {
  readonly spanId: string
  readonly parentSpanId?: string
  readonly name: string
  readonly startTimeUnixNano: string
  readonly endTimeUnixNano: string
  readonly attributes: ReadonlyArray<KeyValue>
  readonly status?: { readonly code?: number }
}
interface DataPoint {
  readonly attributes: ReadonlyArray<KeyValue>
  readonly asInt?: number | string
  readonly asDouble?: number
  readonly count?: number | string
  readonly sum?: number
  readonly min?: number
  readonly max?: number
}
interface Metric {
  readonly name: string
  readonly unit?: string
  readonly sum?: { readonly dataPoints: ReadonlyArray<DataPoint> }
  readonly gauge?: { readonly dataPoints: ReadonlyArray<DataPoint> }
  readonly histogram?: { readonly dataPoints: ReadonlyArray<DataPoint> }
}
interface TracesRequest {
  readonly resourceSpans?: ReadonlyArray<{ readonly scopeSpans?: ReadonlyArray<{ readonly spans?: ReadonlyArray<Span> }> }>
}
interface MetricsRequest {
  readonly resourceMetrics?: ReadonlyArray<{ readonly scopeMetrics?: ReadonlyArray<{ readonly metrics?: ReadonlyArray<Metric> }> }>
}

const show = (value: AnyValue): string =>
  value.stringValue ?? (value.arrayValue === undefined
    ? String(value.intValue ?? value.doubleValue ?? value.boolValue)
    : `[${value.arrayValue.values.map(show).join(", ")}]`)

const showAttributes = (attributes: ReadonlyArray<KeyValue>, skip: ReadonlyArray<string> = []): string =>
  attributes.filter(({ key }) => !skip.includes(key)).map(({ key, value }) => `${key.replace(/^es_kernel\./, "")}=${show(value)}`).join(" ")

const receivedSpans: Array<Span> = []

const collectSpans = (request: TracesRequest): void => {
  for (const resource of request.resourceSpans ?? []) {
    for (const scope of resource.scopeSpans ?? []) receivedSpans.push(...(scope.spans ?? []))
  }
}

// Spans arrive in batches, children before their parents: printed at the end, as a tree.
const printSpans = (): void => {
  const ids = new Set(receivedSpans.map((span) => span.spanId))
  const isRoot = (span: Span) => span.parentSpanId === undefined || !ids.has(span.parentSpanId)
  const byStart = (a: Span, b: Span) => (BigInt(a.startTimeUnixNano) < BigInt(b.startTimeUnixNano) ? -1 : 1)
  const print = (span: Span, depth: number): void => {
    const millis = Number(BigInt(span.endTimeUnixNano) - BigInt(span.startTimeUnixNano)) / 1e6
    const failed = span.status?.code === 2 ? " (failed)" : ""
    console.log(`${"  ".repeat(depth)}span ${span.name}${failed} ${millis.toFixed(2)} ms: ${showAttributes(span.attributes)}`)
    for (const child of receivedSpans.filter((each) => each.parentSpanId === span.spanId).sort(byStart)) print(child, depth + 1)
  }
  for (const root of receivedSpans.filter(isRoot).sort(byStart)) print(root, 0)
}

// Metrics are cumulative and exported more than once: the latest line of each series wins.
const metricLines = new Map<string, string>()

const collectMetrics = (request: MetricsRequest): void => {
  const metrics = (request.resourceMetrics ?? []).flatMap((r) => (r.scopeMetrics ?? []).flatMap((s) => s.metrics ?? []))
  for (const metric of metrics) {
    if (!metric.name.startsWith("es_kernel.")) continue
    const unit = metric.unit === undefined || metric.unit === "1" ? "" : ` [${metric.unit}]`
    const series = (point: DataPoint, kind: string) => {
      const labels = showAttributes(point.attributes, ["unit"])
      return `${metric.name}${unit} ${kind}${labels === "" ? "" : ` ${labels}`}`
    }
    for (const point of metric.histogram?.dataPoints ?? []) {
      const mean = Number(point.count) === 0 ? 0 : (point.sum ?? 0) / Number(point.count)
      metricLines.set(series(point, "histogram"), `count=${point.count} mean=${mean.toFixed(2)} max=${(point.max ?? 0).toFixed(2)}`)
    }
    for (const point of metric.sum?.dataPoints ?? []) metricLines.set(series(point, "counter"), String(point.asInt ?? point.asDouble))
    for (const point of metric.gauge?.dataPoints ?? []) metricLines.set(series(point, "gauge"), String(point.asInt ?? point.asDouble))
  }
}

const printMetrics = (): void => {
  for (const [series, value] of metricLines) console.log(`metric ${series}: ${value}`)
}

const startReceiver = (): Promise<http.Server> =>
  new Promise((resolve) => {
    const server = http.createServer((request, response) => {
      const chunks: Array<Buffer> = []
      request.on("data", (chunk: Buffer) => chunks.push(chunk))
      request.on("end", () => {
        const text = Buffer.concat(chunks).toString("utf8")
        if (request.url === "/v1/traces") collectSpans(JSON.parse(text))
        if (request.url === "/v1/metrics") collectMetrics(JSON.parse(text))
        response.writeHead(200, { "content-type": "application/json" }).end("{}")
      })
    })
    server.listen(0, "127.0.0.1", () => resolve(server))
  })

// ---------------------------------------------------------------------------
// The application: commands and a projection, on a decorated store
// ---------------------------------------------------------------------------

const accounts = CommandHandler.make({ decider: Account.decider, codec: Account.codec, category: "account" })
// A second handler stands for a second process writing the same streams.
const otherProcess = CommandHandler.make({ decider: Account.decider, codec: Account.codec, category: "account" })

const deposits = Projector.handler({ name: "deposits", codec: Account.codec, handle: () => Effect.void })

const program = (id: string) =>
  Effect.gen(function*() {
    const opened = yield* accounts.handle(id, { type: "OpenAccount", owner: "Ada", initialBalance: 10_000 }, { commandId: `open-${id}` })
    yield* Console.log(`> ${id}: opened, version ${opened.version}`)
    yield* otherProcess.load(id)
    yield* accounts.handle(id, { type: "Deposit", amount: 2_550, description: "salary" })
    // The other process still holds version 1: its append conflicts, it reads the deposit and decides again.
    const withdrawn = yield* otherProcess.handle(id, { type: "Withdraw", amount: 4_000, description: "rent" })
    yield* Console.log(`> ${id}: withdrawn after a conflict, ${Account.describeState(withdrawn.state)} (version ${withdrawn.version})`)
    const projection = yield* Projector.start(deposits)
    yield* projection.waitFor(withdrawn.position ?? 0)
    yield* Console.log("> the projection caught up; exporting telemetry while it runs, and again at the end")
    // Exports happen every few seconds, and when the exporter's layer closes; this one makes
    // sure the projection's lag is exported while the projection still runs.
    const flusher = yield* OtlpExporter.Flusher
    yield* flusher.flush
    yield* projection.stop
  }).pipe(Effect.withSpan("example.telemetry"), Effect.scoped)

const main = Effect.gen(function*() {
  const receiver = yield* Effect.promise(startReceiver)
  const address = receiver.address()
  const port = typeof address === "object" && address !== null ? address.port : 0
  const chosen = storeFromArgs()
  yield* Console.log(`telemetry example on the ${chosen.description}; OTLP receiver on http://127.0.0.1:${port}`)
  // Closing this layer at the end of the program flushes every span and metric to the receiver.
  const otlp = Otlp.layerJson({ baseUrl: `http://127.0.0.1:${port}`, resource: { serviceName: "telemetry-example" } }).pipe(
    Layer.provide(FetchHttpClient.layer)
  )
  const store = EventStoreTelemetry.layer.pipe(Layer.provide(chosen.layer))
  yield* program(`ada-${randomUUID().slice(0, 8)}`).pipe(Effect.provide(Layer.merge(store, chosen.checkpoints)), Effect.provide(otlp))
  yield* Effect.promise(() => new Promise<void>((resolve) => receiver.close(() => resolve())))
  printSpans()
  printMetrics()
})

Effect.runPromise(main).catch((error: unknown) => {
  console.error(error)
  process.exitCode = 1
})
