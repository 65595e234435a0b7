/**
 * Order fulfilment as a process manager: an order placed → its stock reserved → its
 * payment charged → the order confirmed. A payment that is declined releases the stock
 * and cancels the order; stock that runs out cancels the order.
 *
 * Three aggregates (orders, stock per product, a payment per order), each a plain decider,
 * and one process manager that reacts to `OrderPlaced` with the saga's commands. It runs
 * from a stored checkpoint and derives every command id from the event that caused it, so
 * killing the process at any moment and running it again finishes the work without doing
 * any of it twice.
 *
 * Run: npx tsx examples/order-fulfilment.ts [--store memory | --store file:<directory> | --store postgres://…] [--pause-ms <n>]
 * On a file or PostgreSQL store a second run continues the first (checkpoints in
 * <directory>/projections, or in the example's schema); `--pause-ms` slows each command
 * down, to leave time to kill the process mid-way.
 */
import { Console, Effect, Layer, Stream } from "effect"
import * as t from "io-ts"
import { CommandHandler, Decider, EventCodec, EventStore, ProcessManager } from "es-kernel"
import { storeFromArgs } from "./store.js"

// ---------------------------------------------------------------------------
// Orders — events are a storage format, kept forever
// ---------------------------------------------------------------------------

const orderCodec = EventCodec.make({
  OrderPlaced: EventCodec.io(t.type({ customer: t.string, sku: t.string, quantity: t.number, amount: t.number, cardLimit: t.number })),
  OrderConfirmed: EventCodec.io(t.type({})),
  OrderCancelled: EventCodec.io(t.type({ reason: t.string }))
})
type OrderEvent = EventCodec.Event<typeof orderCodec>

type OrderState =
  | { readonly status: "none" }
  | { readonly status: "placed" | "confirmed" }
  | { readonly status: "cancelled"; readonly reason: string }

type OrderCommand =
  | { readonly type: "Place"; readonly customer: string; readonly sku: string; readonly quantity: number; readonly amount: number; readonly cardLimit: number }
  | { readonly type: "Confirm" }
  | { readonly type: "Cancel"; readonly reason: string }

const noOrder: OrderState = { status: "none" }

const order = Decider.make({
  initialState: noOrder,
  evolve: (_state: OrderState, event: OrderEvent): OrderState => {
    switch (event.type) {
      case "OrderPlaced":
        return { status: "placed" }
      case "OrderConfirmed":
        return { status: "confirmed" }
      case "OrderCancelled":
        return { status: "cancelled", reason: event.data.reason }
    }
  },
  decide: (command: OrderCommand, state: OrderState) => {
    switch (command.type) {
      case "Place":
        return state.status === "none"
          ? Decider.accept<OrderEvent>({ type: "OrderPlaced", data: { ...command } })
          : Decider.reject("the order already exists")
      case "Confirm":
        return state.status === "placed" ? Decider.accept<OrderEvent>({ type: "OrderConfirmed", data: {} }) : Decider.reject(`the order is ${state.status}`)
      case "Cancel":
        return state.status === "placed"
          ? Decider.accept<OrderEvent>({ type: "OrderCancelled", data: { reason: command.reason } })
          : Decider.reject(`the order is ${state.status}`)
    }
  }
})

// ---------------------------------------------------------------------------
// Stock, one stream per product: what is on the shelf and reserved per order
// ---------------------------------------------------------------------------

const stockCodec = EventCodec.make({
  Restocked: EventCodec.io(t.type({ quantity: t.number })),
  StockReserved: EventCodec.io(t.type({ orderId: t.string, quantity: t.number })),
  StockReleased: EventCodec.io(t.type({ orderId: t.string, quantity: t.number }))
})
type StockEvent = EventCodec.Event<typeof stockCodec>

interface Stock {
  readonly available: number
  readonly reserved: ReadonlyMap<string, number>
}

type StockCommand =
  | { readonly type: "Restock"; readonly quantity: number }
  | { readonly type: "Reserve"; readonly orderId: string; readonly quantity: number }
  | { readonly type: "Release"; readonly orderId: string }

const emptyShelf: Stock = { available: 0, reserved: new Map() }

const stock = Decider.make({
  initialState: emptyShelf,
  evolve: (state: Stock, event: StockEvent): Stock => {
    switch (event.type) {
      case "Restocked":
        return { ...state, available: state.available + event.data.quantity }
      case "StockReserved":
        return { available: state.available - event.data.quantity, reserved: new Map(state.reserved).set(event.data.orderId, event.data.quantity) }
      case "StockReleased": {
        const reserved = new Map(state.reserved)
        reserved.delete(event.data.orderId)
        return { available: state.available + event.data.quantity, reserved }
      }
    }
  },
  decide: (command: StockCommand, state: Stock) => {
    switch (command.type) {
      case "Restock":
        return Decider.accept<StockEvent>({ type: "Restocked", data: { quantity: command.quantity } })
      case "Reserve":
        return command.quantity <= state.available
          ? Decider.accept<StockEvent>({ type: "StockReserved", data: { orderId: command.orderId, quantity: command.quantity } })
          : Decider.reject(`out of stock: ${state.available} left, ${command.quantity} wanted`)
      case "Release": {
        // Releasing what is not reserved changes nothing: a compensation may run twice.
        const quantity = state.reserved.get(command.orderId)
        return quantity === undefined
          ? Decider.accept<StockEvent>()
          : Decider.accept<StockEvent>({ type: "StockReleased", data: { orderId: command.orderId, quantity } })
      }
    }
  }
})

// ---------------------------------------------------------------------------
// Payments, one stream per order: charged once, or declined (a rejection)
// ---------------------------------------------------------------------------

const paymentCodec = EventCodec.make({
  PaymentCharged: EventCodec.io(t.type({ customer: t.string, amount: t.number }))
})
type PaymentEvent = EventCodec.Event<typeof paymentCodec>

type PaymentCommand = { readonly type: "Charge"; readonly customer: string; readonly amount: number; readonly cardLimit: number }

const payment = Decider.make({
  initialState: false,
  evolve: (_charged: boolean, _event: PaymentEvent) => true,
  decide: (command: PaymentCommand, charged: boolean) => {
    if (charged) return Decider.reject("already charged")
    return command.amount <= command.cardLimit
      ? Decider.accept<PaymentEvent>({ type: "PaymentCharged", data: { customer: command.customer, amount: command.amount } })
      : Decider.reject(`card declined: ${cents(command.amount)} is over the limit of ${cents(command.cardLimit)}`)
  }
})

const cents = (amount: number): string => (amount / 100).toFixed(2)

// ---------------------------------------------------------------------------
// The process manager: OrderPlaced → reserve → charge → confirm, with compensations
// ---------------------------------------------------------------------------

const orders = CommandHandler.make({ decider: order, codec: orderCodec, category: "order" })
const shelves = CommandHandler.make({ decider: stock, codec: stockCodec, category: "stock" })
const payments = CommandHandler.make({ decider: payment, codec: paymentCodec, category: "payment" })

const pauseFlag = process.argv.indexOf("--pause-ms")
const pauseMs = pauseFlag === -1 ? 0 : Number(process.argv[pauseFlag + 1])

/** A send that says what it does, and waits `--pause-ms` first. */
const traced = (what: string, step: ProcessManager.Send): ProcessManager.Send => ({
  ...step,
  dispatch: (options) =>
    Effect.andThen(
      Effect.andThen(Effect.sleep(`${pauseMs} millis`), Console.log(`  → ${step.target}: ${what}`)),
      step.dispatch(options)
    )
})

const fulfilment = ProcessManager.make({
  name: "fulfilment",
  codec: orderCodec,
  filter: { types: ["OrderPlaced"] },
  react: (event, { streamId }) => {
    if (event.type !== "OrderPlaced") return []
    const orderId = streamId.slice("order-".length)
    const { amount, cardLimit, customer, quantity, sku } = event.data
    const cancel = (reason: string) => traced(`cancel (${reason})`, ProcessManager.send(orders, orderId, { type: "Cancel", reason }))
    return [
      traced(
        `reserve ${quantity} for order ${orderId}`,
        ProcessManager.send(shelves, sku, { type: "Reserve", orderId, quantity }, { onRejected: () => [cancel("out of stock")] })
      ),
      traced(
        `charge ${customer} ${cents(amount)}`,
        ProcessManager.send(payments, orderId, { type: "Charge", customer, amount, cardLimit }, {
          onRejected: () => [traced(`release order ${orderId}'s stock`, ProcessManager.send(shelves, sku, { type: "Release", orderId })), cancel("payment declined")]
        })
      ),
      traced("confirm", ProcessManager.send(orders, orderId, { type: "Confirm" }))
    ]
  }
})

// ---------------------------------------------------------------------------
// The service: stock the shelves, place orders, let the process manager settle them
// ---------------------------------------------------------------------------

const placed = [
  { id: "1001", customer: "ada", sku: "beans", quantity: 2, amount: 2_500, cardLimit: 10_000 },
  { id: "1002", customer: "bob", sku: "grinder", quantity: 1, amount: 4_500, cardLimit: 3_000 },
  { id: "1003", customer: "cy", sku: "beans", quantity: 10, amount: 12_500, cardLimit: 50_000 },
  { id: "1004", customer: "ada", sku: "grinder", quantity: 1, amount: 4_500, cardLimit: 10_000 }
] as const

const describeOrder = (state: OrderState): string => state.status === "cancelled" ? `cancelled (${state.reason})` : state.status

const program = Effect.gen(function*() {
  // Command ids make a second run of these lines change nothing.
  yield* shelves.handle("beans", { type: "Restock", quantity: 10 }, { commandId: "restock-beans" })
  yield* shelves.handle("grinder", { type: "Restock", quantity: 1 }, { commandId: "restock-grinder" })
  for (const { id, ...placement } of placed) {
    const handled = yield* orders.handle(id, { type: "Place", ...placement }, { commandId: `place-${id}` })
    yield* Console.log(`> order ${id}: ${placement.customer} orders ${placement.quantity} × ${placement.sku} for ${cents(placement.amount)}${handled.alreadyHandled ? " (placed by an earlier run)" : ""}`)
  }
  const manager = yield* ProcessManager.start(fulfilment)
  yield* Console.log("process manager started")
  const settled = Effect.forEach(placed, ({ id }) => Effect.map(orders.load(id), (loaded) => loaded.state.status !== "placed"))
  while (!(yield* settled).every(Boolean)) yield* Effect.sleep("10 millis")
  yield* manager.stop

  yield* Console.log("== Orders")
  for (const { id } of placed) yield* Console.log(`  ${id}  ${describeOrder((yield* orders.load(id)).state)}`)
  yield* Console.log("== Stock")
  for (const sku of ["beans", "grinder"]) {
    const { state } = yield* shelves.load(sku)
    yield* Console.log(`  ${sku.padEnd(8)} ${state.available} on the shelf, reserved for ${[...state.reserved.keys()].join(", ") || "nobody"}`)
  }
  yield* Console.log("== Streams (every event once)")
  const store = yield* storeEvents
  for (const line of store) yield* Console.log(`  ${line}`)
})

/** Each business stream's event types, in order (the process manager's own records aside). */
const storeEvents = Effect.gen(function*() {
  const lines: Array<string> = []
  for (const id of placed.map((p) => p.id)) {
    lines.push(`order-${id}`.padEnd(15) + (yield* typesOf(`order-${id}`)))
    lines.push(`payment-${id}`.padEnd(15) + (yield* typesOf(`payment-${id}`)))
  }
  for (const sku of ["beans", "grinder"]) lines.push(`stock-${sku}`.padEnd(15) + (yield* typesOf(`stock-${sku}`)))
  return lines
})

const typesOf = (streamId: string) =>
  Effect.gen(function*() {
    const store = yield* EventStore.EventStore
    const events = yield* Stream.runCollect(store.readStream(streamId))
    return events.length === 0 ? "(none)" : events.map((event) => event.type).join(", ")
  })

const chosen = storeFromArgs()
Effect.runPromise(
  Console.log(`order fulfilment example on the ${chosen.description} store`).pipe(
    Effect.andThen(program),
    Effect.scoped,
    Effect.provide(Layer.mergeAll(chosen.layer, chosen.checkpoints))
  )
).catch((error: unknown) => {
  console.error(error)
  process.exit(1)
})
