/**
 * An order, as a decider: a shopping cart that is submitted, paid, and completed (shipped),
 * or cancelled on the way. The order's id is the stream id, so no event repeats it.
 *
 * Amounts are integer cents. Timestamps and payment ids are impure, so they arrive in the
 * command and are copied into the events: `decide` never reads a clock.
 */
import * as t from "io-ts"
import type * as Either from "fp-ts/lib/Either.js"
import { Decider, EventCodec, Upcaster } from "es-kernel"

// ---------------------------------------------------------------------------
// Events — a storage format, kept forever: change a payload only with a new schema
// version and an upcaster, never in place.
// ---------------------------------------------------------------------------

const ShipmentData = t.type({ carrier: t.string, trackingNumber: t.string })

/**
 * OrderCompleted v1 recorded only the moment. v2 records the shipment too; the orders
 * completed before it read as `shipment: null`, "not recorded", rather than a made-up
 * carrier, so no reader mistakes a guess for a fact.
 */
const OrderCompletedV1 = t.type({ at: t.string })

export const codec = EventCodec.make({
  OrderCreated: EventCodec.io(t.type({ customerId: t.string, at: t.string })),
  // `quantity` is how many were added by this event, not the line's new quantity: adding
  // a sku already in the cart adds to its line.
  ItemAdded: EventCodec.io(t.type({ sku: t.string, name: t.string, quantity: t.number, unitPrice: t.number })),
  // `quantity` is how many were removed; a line that reaches zero leaves the cart.
  ItemRemoved: EventCodec.io(t.type({ sku: t.string, quantity: t.number })),
  // The total is recorded so that readers of the stream need not recompute it from the lines.
  OrderSubmitted: EventCodec.io(t.type({ total: t.number, at: t.string })),
  OrderPaid: EventCodec.io(t.type({ amount: t.number, paymentId: t.string, at: t.string })),
  OrderCompleted: EventCodec.io(t.type({ at: t.string, shipment: t.union([ShipmentData, t.null]) }), {
    version: 2,
    upcast: { 1: Upcaster.io(OrderCompletedV1, (v1) => ({ at: v1.at, shipment: null })) }
  }),
  // `refund` is 0 for an order cancelled before it was paid.
  OrderCancelled: EventCodec.io(t.type({ reason: t.string, refund: t.number, at: t.string }))
})

export type Event = EventCodec.Event<typeof codec>

// ---------------------------------------------------------------------------
// State
// ---------------------------------------------------------------------------

export interface Item {
  readonly sku: string
  readonly name: string
  readonly quantity: number
  /** Integer cents, fixed when the sku is first added. */
  readonly unitPrice: number
}

export interface Shipment {
  readonly carrier: string
  readonly trackingNumber: string
}

/** The order's total in cents. */
export const total = (items: ReadonlyArray<Item>): number =>
  items.reduce((sum, item) => sum + item.quantity * item.unitPrice, 0)

export type State =
  | { readonly status: "none" }
  | { readonly status: "draft"; readonly customerId: string; readonly items: ReadonlyArray<Item> }
  | { readonly status: "submitted"; readonly customerId: string; readonly items: ReadonlyArray<Item>; readonly total: number }
  | {
    readonly status: "paid"
    readonly customerId: string
    readonly items: ReadonlyArray<Item>
    readonly total: number
    readonly paymentId: string
  }
  | {
    readonly status: "completed"
    readonly customerId: string
    readonly items: ReadonlyArray<Item>
    readonly total: number
    /** `null` for orders completed before shipments were recorded (OrderCompleted v1). */
    readonly shipment: Shipment | null
  }
  | { readonly status: "cancelled"; readonly customerId: string; readonly items: ReadonlyArray<Item>; readonly refund: number }

export const initialState: State = { status: "none" }

// Lines keep the order in which their skus were first added, so that replay gives the
// same array, and people see the cart in the order they filled it.
const addItem = (items: ReadonlyArray<Item>, added: Item): ReadonlyArray<Item> =>
  items.some((item) => item.sku === added.sku)
    ? items.map((item) => item.sku === added.sku ? { ...item, quantity: item.quantity + added.quantity } : item)
    : [...items, added]

const removeItem = (items: ReadonlyArray<Item>, sku: string, quantity: number): ReadonlyArray<Item> =>
  items.flatMap((item) =>
    item.sku !== sku ? [item] : item.quantity > quantity ? [{ ...item, quantity: item.quantity - quantity }] : []
  )

// Copied field by field: a decoded payload or a command may carry fields a shipment does not have.
const shipmentOf = (shipment: Shipment | null): Shipment | null =>
  shipment === null ? null : { carrier: shipment.carrier, trackingNumber: shipment.trackingNumber }

// An event that does not fit the state (one `decide` would never have produced) leaves it
// unchanged: replay must not fail on history it cannot explain.
export const evolve = (state: State, event: Event): State => {
  switch (event.type) {
    case "OrderCreated":
      return state.status === "none" ? { status: "draft", customerId: event.data.customerId, items: [] } : state
    case "ItemAdded":
      // Copied field by field: a decoded payload may carry fields a line does not have.
      return state.status === "draft"
        ? { ...state, items: addItem(state.items, { sku: event.data.sku, name: event.data.name, quantity: event.data.quantity, unitPrice: event.data.unitPrice }) }
        : state
    case "ItemRemoved":
      return state.status === "draft" ? { ...state, items: removeItem(state.items, event.data.sku, event.data.quantity) } : state
    case "OrderSubmitted":
      return state.status === "draft"
        ? { status: "submitted", customerId: state.customerId, items: state.items, total: event.data.total }
        : state
    case "OrderPaid":
      return state.status === "submitted" ? { ...state, status: "paid", paymentId: event.data.paymentId } : state
    case "OrderCompleted":
      return state.status === "paid"
        ? { status: "completed", customerId: state.customerId, items: state.items, total: state.total, shipment: shipmentOf(event.data.shipment) }
        : state
    case "OrderCancelled":
      return state.status === "none" || state.status === "completed" || state.status === "cancelled"
        ? state
        : { status: "cancelled", customerId: state.customerId, items: state.items, refund: event.data.refund }
  }
}

// ---------------------------------------------------------------------------
// Decisions
// ---------------------------------------------------------------------------

export type Command =
  | { readonly type: "CreateOrder"; readonly customerId: string; readonly at: string }
  | { readonly type: "AddItem"; readonly sku: string; readonly name: string; readonly quantity: number; readonly unitPrice: number }
  | { readonly type: "RemoveItem"; readonly sku: string; readonly quantity: number }
  | { readonly type: "SubmitOrder"; readonly at: string }
  | { readonly type: "PayOrder"; readonly amount: number; readonly paymentId: string; readonly at: string }
  | { readonly type: "CompleteOrder"; readonly at: string; readonly shipment: Shipment }
  | { readonly type: "CancelOrder"; readonly reason: string; readonly at: string }

export type Rejection =
  | { readonly type: "OrderAlreadyCreated" }
  | { readonly type: "OrderNotCreated" }
  | { readonly type: "OrderAlreadyCompleted" }
  | { readonly type: "OrderAlreadyCancelled" }
  | { readonly type: "OrderNotDraft"; readonly status: "submitted" | "paid" }
  | { readonly type: "OrderNotSubmitted"; readonly status: "draft" | "paid" }
  | { readonly type: "OrderNotPaid"; readonly status: "draft" | "submitted" }
  | { readonly type: "QuantityNotPositive"; readonly quantity: number }
  | { readonly type: "UnitPriceInvalid"; readonly unitPrice: number }
  // The sku is in the cart under another name or price: a line has one price, so the
  // caller must remove the line first rather than have one of the two silently win.
  | { readonly type: "ItemDetailsDiffer"; readonly sku: string; readonly name: string; readonly unitPrice: number }
  | { readonly type: "ItemNotInOrder"; readonly sku: string }
  | { readonly type: "NotEnoughOfItem"; readonly sku: string; readonly present: number; readonly requested: number }
  | { readonly type: "OrderEmpty" }
  | { readonly type: "AmountNotTotal"; readonly amount: number; readonly total: number }

type Decision = Either.Either<Rejection, ReadonlyArray<Event>>
type Draft = Extract<State, { readonly status: "draft" }>

// Quantities count whole units and prices are whole cents; a fraction or NaN would make
// every total after it wrong.
const isCount = (n: number): boolean => Number.isSafeInteger(n) && n > 0

const decideAddItem = (command: Extract<Command, { readonly type: "AddItem" }>, state: Draft): Decision => {
  if (!isCount(command.quantity)) return Decider.reject({ type: "QuantityNotPositive", quantity: command.quantity })
  if (!Number.isSafeInteger(command.unitPrice) || command.unitPrice < 0) {
    return Decider.reject({ type: "UnitPriceInvalid", unitPrice: command.unitPrice })
  }
  const line = state.items.find((item) => item.sku === command.sku)
  if (line !== undefined && (line.name !== command.name || line.unitPrice !== command.unitPrice)) {
    return Decider.reject({ type: "ItemDetailsDiffer", sku: line.sku, name: line.name, unitPrice: line.unitPrice })
  }
  const { sku, name, quantity, unitPrice } = command
  return Decider.accept({ type: "ItemAdded", data: { sku, name, quantity, unitPrice } })
}

const decideRemoveItem = (command: Extract<Command, { readonly type: "RemoveItem" }>, state: Draft): Decision => {
  if (!isCount(command.quantity)) return Decider.reject({ type: "QuantityNotPositive", quantity: command.quantity })
  const line = state.items.find((item) => item.sku === command.sku)
  if (line === undefined) return Decider.reject({ type: "ItemNotInOrder", sku: command.sku })
  if (command.quantity > line.quantity) {
    return Decider.reject({ type: "NotEnoughOfItem", sku: command.sku, present: line.quantity, requested: command.quantity })
  }
  return Decider.accept({ type: "ItemRemoved", data: { sku: command.sku, quantity: command.quantity } })
}

export const decide = (command: Command, state: State): Decision => {
  if (command.type === "CreateOrder") {
    return state.status === "none"
      ? Decider.accept({ type: "OrderCreated", data: { customerId: command.customerId, at: command.at } })
      : Decider.reject({ type: "OrderAlreadyCreated" })
  }
  // A finished order refuses everything, so the same reason comes back whatever was asked.
  if (state.status === "none") return Decider.reject({ type: "OrderNotCreated" })
  if (state.status === "completed") return Decider.reject({ type: "OrderAlreadyCompleted" })
  if (state.status === "cancelled") return Decider.reject({ type: "OrderAlreadyCancelled" })
  switch (command.type) {
    case "AddItem":
      return state.status === "draft" ? decideAddItem(command, state) : Decider.reject({ type: "OrderNotDraft", status: state.status })
    case "RemoveItem":
      return state.status === "draft" ? decideRemoveItem(command, state) : Decider.reject({ type: "OrderNotDraft", status: state.status })
    case "SubmitOrder":
      if (state.status !== "draft") return Decider.reject({ type: "OrderNotDraft", status: state.status })
      if (state.items.length === 0) return Decider.reject({ type: "OrderEmpty" })
      return Decider.accept({ type: "OrderSubmitted", data: { total: total(state.items), at: command.at } })
    case "PayOrder":
      if (state.status !== "submitted") return Decider.reject({ type: "OrderNotSubmitted", status: state.status })
      if (command.amount !== state.total) return Decider.reject({ type: "AmountNotTotal", amount: command.amount, total: state.total })
      return Decider.accept({ type: "OrderPaid", data: { amount: command.amount, paymentId: command.paymentId, at: command.at } })
    case "CompleteOrder":
      return state.status === "paid"
        ? Decider.accept({ type: "OrderCompleted", data: { at: command.at, shipment: shipmentOf(command.shipment) } })
        : Decider.reject({ type: "OrderNotPaid", status: state.status })
    case "CancelOrder":
      return Decider.accept({
        type: "OrderCancelled",
        data: { reason: command.reason, refund: state.status === "paid" ? state.total : 0, at: command.at }
      })
  }
}

export const decider: Decider.Decider<Command, State, Event, Rejection> = {
  decide,
  evolve,
  initialState,
  isTerminal: (state) => state.status === "completed" || state.status === "cancelled"
}

// ---------------------------------------------------------------------------
// Words for people
// ---------------------------------------------------------------------------

export const money = (cents: number): string => `${cents < 0 ? "-" : ""}${(Math.abs(cents) / 100).toFixed(2)}`

const describeItems = (items: ReadonlyArray<Item>): string =>
  items.length === 0 ? "no items" : items.map((item) => `${item.quantity} × ${item.name}`).join(", ")

export const describeCommand = (command: Command): string => {
  switch (command.type) {
    case "CreateOrder":
      return `create for customer ${command.customerId}`
    case "AddItem":
      return `add ${command.quantity} × ${command.name} (${command.sku}) at ${money(command.unitPrice)}`
    case "RemoveItem":
      return `remove ${command.quantity} × ${command.sku}`
    case "SubmitOrder":
      return "submit"
    case "PayOrder":
      return `pay ${money(command.amount)} (payment ${command.paymentId})`
    case "CompleteOrder":
      return `complete (shipped by ${command.shipment.carrier}, tracking ${command.shipment.trackingNumber})`
    case "CancelOrder":
      return `cancel (${command.reason})`
  }
}

export const explain = (rejection: Rejection): string => {
  switch (rejection.type) {
    case "OrderAlreadyCreated":
      return "the order already exists"
    case "OrderNotCreated":
      return "there is no such order"
    case "OrderAlreadyCompleted":
      return "the order is already completed"
    case "OrderAlreadyCancelled":
      return "the order is already cancelled"
    case "OrderNotDraft":
      return `the order can no longer be changed (it is ${rejection.status})`
    case "OrderNotSubmitted":
      return rejection.status === "paid" ? "the order is already paid" : "only a submitted order can be paid (it is still a draft)"
    case "OrderNotPaid":
      return `only a paid order can be completed (it is ${rejection.status})`
    case "QuantityNotPositive":
      return `the quantity must be a whole number above zero (got ${rejection.quantity})`
    case "UnitPriceInvalid":
      return `the unit price must be a whole number of cents, not negative (got ${rejection.unitPrice})`
    case "ItemDetailsDiffer":
      return `${rejection.sku} is already in the order as ${rejection.name} at ${money(rejection.unitPrice)}; remove it first to change it`
    case "ItemNotInOrder":
      return `${rejection.sku} is not in the order`
    case "NotEnoughOfItem":
      return `the order has only ${rejection.present} × ${rejection.sku}, cannot remove ${rejection.requested}`
    case "OrderEmpty":
      return "an empty order cannot be submitted"
    case "AmountNotTotal":
      return `the payment must equal the total: paid ${money(rejection.amount)}, total ${money(rejection.total)}`
  }
}

export const describeShipment = (shipment: Shipment | null): string =>
  shipment === null ? "shipment not recorded" : `shipped by ${shipment.carrier} (${shipment.trackingNumber})`

export const describeState = (state: State): string => {
  switch (state.status) {
    case "none":
      return "no order"
    case "draft":
      return `draft for ${state.customerId}: ${describeItems(state.items)}, total ${money(total(state.items))}`
    case "submitted":
      return `submitted for ${state.customerId}: ${describeItems(state.items)}, total ${money(state.total)}`
    case "paid":
      return `paid by ${state.customerId}: ${money(state.total)} (payment ${state.paymentId})`
    case "completed":
      return `completed for ${state.customerId}: ${money(state.total)}, ${describeShipment(state.shipment)}`
    case "cancelled":
      return `cancelled for ${state.customerId}${state.refund > 0 ? `, refund ${money(state.refund)}` : ""}`
  }
}
