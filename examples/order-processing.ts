/**
 * Orders on an event store, through the command handler (the order workflow of the
 * "event store learning project"): several customers fill carts, submit, pay, complete
 * and cancel orders; two app servers race on one order and the handler's retry lands both;
 * one order's history as a table; queries over the history (by type, category,
 * correlation id and time range); an order's state at an earlier version and an earlier
 * moment; an order completed by an older version of the app (OrderCompleted v1) read
 * as v2; three read models fed from the same events.
 *
 * Run: npx tsx examples/order-processing.ts [--store memory | --store file:<directory>]
 * On a file store a second run continues the first: its orders get the next numbers, and
 * the read models count both runs' orders.
 */
import { Clock, Console, Deferred, Effect, Stream } from "effect"
import * as Either from "fp-ts/lib/Either.js"
import { CommandHandler, EventStore, Projection, View } from "es-kernel"
import * as Order from "./order/Order.js"
import * as ReadModels from "./order/ReadModels.js"
import { storeFromArgs } from "./store.js"

const orders = CommandHandler.make({ decider: Order.decider, codec: Order.codec, category: "order" })
// A second app server with its own handler. Within one handler, commands for one order
// queue and never conflict; two handlers (two processes, in real life) do race.
const ordersOnLaptop = CommandHandler.make({ decider: Order.decider, codec: Order.codec, category: "order" })

// Timestamps are impure, so commands carry them (see Order.ts): the example reads the clock.
const now = Effect.map(Clock.currentTimeMillis, (millis) => new Date(millis).toISOString())

const beans = { sku: "beans", name: "Coffee beans", unitPrice: 1_250 } as const
const mug = { sku: "mug", name: "Mug", unitPrice: 800 } as const
const grinder = { sku: "grinder", name: "Grinder", unitPrice: 4_500 } as const
const kettle = { sku: "kettle", name: "Kettle", unitPrice: 3_000 } as const
const tea = { sku: "tea", name: "Tea", unitPrice: 650 } as const
const filters = { sku: "filters", name: "Filter papers", unitPrice: 400 } as const

type Product = typeof beans | typeof mug | typeof grinder | typeof kettle | typeof tea | typeof filters

const add = (product: Product, quantity: number, unitPrice: number = product.unitPrice): Order.Command => ({
  type: "AddItem",
  sku: product.sku,
  name: product.name,
  quantity,
  unitPrice
})

// `correlationId`: the request the command belongs to, recorded with its events.
const run = (id: string, command: Order.Command, correlationId?: string) =>
  Effect.gen(function*() {
    yield* Console.log(`> order ${id}: ${Order.describeCommand(command)}`)
    const handled = yield* orders.handle(id, command, correlationId === undefined ? {} : { metadata: { correlationId } })
    for (const event of handled.events) yield* Console.log(`  + ${event.type} ${JSON.stringify(event.data)}`)
    yield* Console.log(`  = ${Order.describeState(handled.state)} (version ${handled.version})`)
  }).pipe(Effect.catchTag("Rejected", (rejected) => Console.log(`  rejected: ${Order.explain(rejected.rejection)}`)))

/** Commands that take the moment they happen: built when they run, not when the script is written. */
const timed = (command: (at: string) => Order.Command) => (id: string, correlationId?: string) =>
  Effect.flatMap(now, (at) => run(id, command(at), correlationId))

const create = (customerId: string) => timed((at) => ({ type: "CreateOrder", customerId, at }))
const submit = timed((at) => ({ type: "SubmitOrder", at }))
const pay = (amount: number, paymentId: string) => timed((at) => ({ type: "PayOrder", amount, paymentId, at }))
const complete = (carrier: string, trackingNumber: string) => timed((at) => ({ type: "CompleteOrder", at, shipment: { carrier, trackingNumber } }))
const cancel = (reason: string) => timed((at) => ({ type: "CancelOrder", reason, at }))

/**
 * The store, with a race staged on it: the laptop's append waits until the phone has
 * loaded the order and reached its own append, and the phone's first append waits until
 * the laptop's has landed. Real races depend on timing; this one happens on every run and
 * every store, so the trace is the same each time. Every append is reported.
 */
const withStagedRace = Effect.gen(function*() {
  const store = yield* EventStore.EventStore
  const phoneLoaded = yield* Deferred.make<void>()
  const laptopAppended = yield* Deferred.make<void>()
  const append: EventStore.EventStore["Service"]["append"] = (streamId, batch, expected) =>
    Effect.gen(function*() {
      const writer = String(batch[0]?.metadata?.["writer"] ?? "someone")
      const report = (outcome: string) => Console.log(`  ${writer.padEnd(6)} appends at expected version ${String(expected)}: ${outcome}`)
      if (writer === "phone" && (yield* Deferred.succeed(phoneLoaded, undefined))) yield* Deferred.await(laptopAppended)
      if (writer === "laptop") yield* Deferred.await(phoneLoaded)
      return yield* store.append(streamId, batch, expected).pipe(
        Effect.tap((appended) => report(`appended, the order is at version ${appended.nextExpectedVersion}`)),
        Effect.tapErrorTag("WrongExpectedVersion", (conflict) =>
          report(`WrongExpectedVersion, the order is at version ${conflict.actual}: the handler reloads and decides again`)),
        Effect.ensuring(writer === "laptop" ? Deferred.succeed(laptopAppended, undefined) : Effect.void)
      )
    })
  return EventStore.EventStore.of({ ...store, append })
})

const program = Effect.gen(function*() {
  const store = yield* EventStore.EventStore
  // Everything this run records is recorded at or after this moment: recording times
  // never go backwards in a store.
  const startedAt = new Date(yield* Clock.currentTimeMillis)
  const earlierEvents = yield* Stream.runCount(store.readAll({ filter: { categories: ["order"] } }))
  const earlierOrders = yield* Stream.runCount(store.readAll({ filter: { categories: ["order"], types: ["OrderCreated"] } }))
  yield* Console.log(`${earlierEvents} order events from earlier runs (${earlierOrders} orders)`)
  // Each run numbers its orders after the ones already in the store.
  const numbered = (n: number): string => String(1_000 + earlierOrders + n)
  const ada = numbered(1), bob = numbered(2), cy = numbered(3), adaAgain = numbered(4), fromOldApp = numbered(5)

  yield* Console.log(`\n== Ada's order ${ada}: a cart, submitted, paid, completed`)
  yield* create("ada")(ada)
  yield* run(ada, add(beans, 2))
  yield* run(ada, add(mug, 1))
  yield* run(ada, add(grinder, 1))
  yield* run(ada, add(mug, 1, 900))
  yield* run(ada, { type: "RemoveItem", sku: "mug", quantity: 1 })
  yield* run(ada, { type: "RemoveItem", sku: "grinder", quantity: 2 })
  yield* submit(ada)
  // Noted between two events, for time travel below. The pause makes sure the next event
  // is recorded at a later millisecond.
  const afterSubmitting = new Date(yield* Clock.currentTimeMillis)
  yield* Effect.sleep("5 millis")
  yield* pay(6_000, `pay-${ada}`)(ada)
  yield* pay(7_000, `pay-${ada}`)(ada)
  yield* complete("DHL", `JD${ada}`)(ada)
  yield* cancel("changed mind")(ada)

  yield* Console.log(`\n== Bob's order ${bob}: paid, then cancelled with a refund`)
  yield* create("bob")(bob)
  yield* run(bob, add(kettle, 1))
  yield* run(bob, add(tea, 2))
  // The checkout is one request: its events carry its correlation id.
  const checkout = `checkout-${bob}`
  yield* pay(4_300, `pay-${bob}`)(bob, checkout)
  yield* submit(bob, checkout)
  yield* pay(4_300, `pay-${bob}`)(bob, checkout)
  yield* run(bob, add(tea, 1))
  yield* cancel("out of stock")(bob)

  yield* Console.log(`\n== Cy's order ${cy}: cancelled before it was submitted`)
  yield* create("cy")(cy)
  yield* submit(cy)
  yield* run(cy, add(mug, 1))
  yield* cancel("found one at home")(cy)
  yield* create("cy")(cy)

  yield* Console.log(`\n== Ada's order ${adaAgain}: two writers add items at once`)
  yield* create("ada")(adaAgain)
  yield* run(adaAgain, add(filters, 1))
  yield* Console.log("  the phone adds a mug and the laptop 2 filter papers; both load version 2 before either appends:")
  const raced = yield* Effect.all([
    orders.handle(adaAgain, add(mug, 1), { metadata: { writer: "phone" } }),
    ordersOnLaptop.handle(adaAgain, add(filters, 2), { metadata: { writer: "laptop" } })
  ], { concurrency: 2 }).pipe(Effect.provideServiceEffect(EventStore.EventStore, withStagedRace))
  for (const [writer, handled] of [["phone", raced[0]], ["laptop", raced[1]]] as const) {
    yield* Console.log(`  ${writer.padEnd(6)} done at version ${handled.version}`)
  }
  const both = yield* orders.load(adaAgain)
  yield* Console.log(`  both landed: ${Order.describeState(both.state)} (version ${both.version})`)
  yield* submit(adaAgain)

  yield* Console.log(`\n== History of order ${ada}`)
  yield* Console.log(`  ${"position".padStart(8)} ${"version".padStart(7)}  ${"type".padEnd(15)} schema  recorded at`)
  yield* store.readStream(orders.streamIdOf(ada)).pipe(Stream.runForEach((recorded) =>
    Console.log(
      `  ${String(recorded.position).padStart(8)} ${String(recorded.version).padStart(7)}  ${recorded.type.padEnd(15)} v${recorded.schemaVersion}      ${recorded.recordedAt.toISOString()}`
    )
  ))

  yield* Console.log("\n== Querying the history of this run")
  const thisRun: EventStore.TimeRange = { from: startedAt }
  const line = (recorded: EventStore.RecordedEvent) =>
    Console.log(`  ${String(recorded.position).padStart(8)}  ${recorded.streamId.padEnd(10)} v${recorded.version}  ${recorded.type}`)
  yield* Console.log("  payments (by type):")
  yield* store.readAll({ filter: { types: ["OrderPaid"], recordedAt: thisRun } }).pipe(Stream.runForEach(line))
  const orderEvents = yield* Stream.runCount(store.readAll({ filter: { categories: ["order"], recordedAt: thisRun } }))
  yield* Console.log(`  order events (by category): ${orderEvents}`)
  yield* Console.log(`  everything the request ${checkout} caused (by correlation id):`)
  yield* store.readAll({ filter: { correlationIds: [checkout] } }).pipe(Stream.runForEach(line))
  const early = yield* Stream.runCollect(store.readAll({
    filter: { categories: ["order"], recordedAt: { from: startedAt, before: new Date(afterSubmitting.getTime() + 1) } }
  }))
  yield* Console.log(
    `  recorded from the start of this run until order ${ada} was submitted (by time range): ${early.length} events, of ${
      [...new Set(early.map((recorded) => recorded.streamId))].join(", ")
    }`
  )

  yield* Console.log(`\n== Time travel: order ${ada} as it was`)
  const atVersion4 = yield* orders.load(ada, { version: 4 })
  yield* Console.log(`  at version 4: ${Order.describeState(atVersion4.state)}`)
  const atMoment = yield* orders.load(ada, { at: afterSubmitting })
  yield* Console.log(`  at ${afterSubmitting.toISOString()}, just after it was submitted: ${Order.describeState(atMoment.state)} (version ${atMoment.version})`)
  // The same moment, straight from the store: the stream as of then.
  const asOf = yield* Stream.runCollect(store.readStream(orders.streamIdOf(ada), { asOf: afterSubmitting }))
  yield* Console.log(`  its events as of then: ${asOf.map((recorded) => recorded.type).join(", ")}`)
  const today = yield* orders.load(ada)
  yield* Console.log(`  now: ${Order.describeState(today.state)} (version ${today.version})`)

  yield* Console.log(`\n== Order ${fromOldApp}, completed by an older version of the app`)
  // OrderCompleted v1 had no shipment: written here raw, the way the old app did.
  const longAgo = "2024-11-05T09:30:00.000Z"
  yield* store.append(orders.streamIdOf(fromOldApp), [
    { type: "OrderCreated", data: { customerId: "bob", at: longAgo } },
    { type: "ItemAdded", data: { sku: beans.sku, name: beans.name, quantity: 1, unitPrice: beans.unitPrice } },
    { type: "OrderSubmitted", data: { total: beans.unitPrice, at: longAgo } },
    { type: "OrderPaid", data: { amount: beans.unitPrice, paymentId: "pay-old", at: longAgo } },
    { type: "OrderCompleted", schemaVersion: 1, data: { at: longAgo } }
  ], "noStream")
  const [stored] = yield* Stream.runCollect(store.readStream(orders.streamIdOf(fromOldApp), { direction: "backward", limit: 1 }))
  if (stored !== undefined) {
    yield* Console.log(`  stored:  ${stored.type} v${stored.schemaVersion} ${JSON.stringify(stored.data)}`)
    const decoded = Order.codec.decode(stored)
    if (Either.isRight(decoded)) yield* Console.log(`  read as: ${decoded.right.type} v2 ${JSON.stringify(decoded.right.data)}`)
  }
  const old = yield* orders.load(fromOldApp)
  yield* Console.log(`  order ${fromOldApp}: ${Order.describeState(old.state)}`)

  yield* Console.log("\n== Read models, fed from the same events")
  const { state: [[summaries, sales], customers], checkpoint } = yield* Projection.run({
    codec: Order.codec,
    view: View.both(View.both(ReadModels.summaries, ReadModels.sales), ReadModels.customers),
    filter: { categories: ["order"] }
  })
  yield* Console.log("  order summaries:")
  for (const [id, summary] of summaries.summaries) {
    yield* Console.log(`    ${id}  ${summary.customerId.padEnd(4)} ${summary.status.padEnd(9)} ${Order.money(summary.total).padStart(7)}`)
  }
  yield* Console.log("  sales per product (paid orders, less refunds):")
  for (const [sku, sold] of sales.sales) {
    yield* Console.log(`    ${sku.padEnd(8)} ${sold.name.padEnd(13)} ${String(sold.quantity).padStart(3)} sold ${Order.money(sold.revenue).padStart(7)}`)
  }
  yield* Console.log("  orders per customer:")
  for (const [customerId, history] of customers.customers) {
    yield* Console.log(`    ${customerId.padEnd(4)} ${history.map((order) => `${order.orderId} ${order.status}`).join(", ")}`)
  }
  yield* Console.log(`  (read up to position ${checkpoint})`)
})

const chosen = storeFromArgs()
console.log(`order processing example on the ${chosen.description} store`)
Effect.runPromise(program.pipe(Effect.provide(chosen.layer))).catch((error: unknown) => {
  console.error(error)
  process.exitCode = 1
})
