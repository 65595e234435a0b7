/**
 * Three read models of the orders, fed from the same events: a summary of every order,
 * the sales of every product, and the history of every customer.
 */
import { View } from "es-kernel"
import * as Order from "./Order.js"

const orderIdOf = (streamId: string): string => streamId.slice(streamId.indexOf("-") + 1)

// ---------------------------------------------------------------------------
// Order summaries: per order, its customer, status and total
// ---------------------------------------------------------------------------

export interface Summary {
  readonly customerId: string
  readonly status: Exclude<Order.State["status"], "none">
  /** While a draft, what the cart costs now; after that, the total it was submitted at. */
  readonly total: number
}

export type Summaries = ReadonlyMap<string, Summary>

const noSummaries: Summaries = new Map()

// A summary is the order's own fold, cut down: folding with the decider's `evolve` keeps
// the read model's idea of a total exactly the aggregate's. The full states are kept aside,
// because the next event needs them.
export const summaries = View.make({
  initialState: { orders: new Map<string, Order.State>(), summaries: noSummaries },
  evolve: ({ orders, summaries }, event: Order.Event, { streamId }) => {
    const id = orderIdOf(streamId)
    const state = Order.evolve(orders.get(id) ?? Order.initialState, event)
    const nextOrders = new Map(orders).set(id, state)
    if (state.status === "none") return { orders: nextOrders, summaries }
    const total = state.status === "draft" || state.status === "cancelled" ? Order.total(state.items) : state.total
    return { orders: nextOrders, summaries: new Map(summaries).set(id, { customerId: state.customerId, status: state.status, total }) }
  }
})

// ---------------------------------------------------------------------------
// Sales per product: what paid orders bought, less what cancellations refunded
// ---------------------------------------------------------------------------

export interface ProductSales {
  readonly name: string
  readonly quantity: number
  readonly revenue: number
}

export type Sales = ReadonlyMap<string, ProductSales>

const noSales: Sales = new Map()

const book = (sales: Sales, items: ReadonlyArray<Order.Item>, sign: 1 | -1): Sales => {
  const next = new Map(sales)
  for (const item of items) {
    const sold = next.get(item.sku) ?? { name: item.name, quantity: 0, revenue: 0 }
    next.set(item.sku, {
      name: item.name,
      quantity: sold.quantity + sign * item.quantity,
      revenue: sold.revenue + sign * item.quantity * item.unitPrice
    })
  }
  return next
}

// A sale happens when an order is paid, and is undone when a paid order is cancelled with a
// refund: the view watches each order's status change, so it needs each order's lines.
export const sales = View.make({
  initialState: { orders: new Map<string, Order.State>(), sales: noSales },
  evolve: ({ orders, sales }, event: Order.Event, { streamId }) => {
    const id = orderIdOf(streamId)
    const before = orders.get(id) ?? Order.initialState
    const after = Order.evolve(before, event)
    const nextOrders = new Map(orders).set(id, after)
    if (before.status === "submitted" && after.status === "paid") return { orders: nextOrders, sales: book(sales, after.items, 1) }
    if (before.status === "paid" && after.status === "cancelled") return { orders: nextOrders, sales: book(sales, after.items, -1) }
    return { orders: nextOrders, sales }
  }
})

// ---------------------------------------------------------------------------
// Customer histories: each customer's orders, oldest first, with their status now
// ---------------------------------------------------------------------------

export interface CustomerOrder {
  readonly orderId: string
  readonly createdAt: string
  readonly status: Summary["status"]
}

export type Customers = ReadonlyMap<string, ReadonlyArray<CustomerOrder>>

const noCustomers: Customers = new Map()

const statusAfter = (event: Order.Event): Summary["status"] | undefined => {
  switch (event.type) {
    case "OrderSubmitted":
      return "submitted"
    case "OrderPaid":
      return "paid"
    case "OrderCompleted":
      return "completed"
    case "OrderCancelled":
      return "cancelled"
    case "OrderCreated":
    case "ItemAdded":
    case "ItemRemoved":
      return undefined
  }
}

// Only OrderCreated names the customer, so the view remembers whose each order is.
export const customers = View.make({
  initialState: { customerOf: new Map<string, string>(), customers: noCustomers },
  evolve: ({ customerOf, customers }, event: Order.Event, { streamId }) => {
    const orderId = orderIdOf(streamId)
    if (event.type === "OrderCreated") {
      const { customerId, at } = event.data
      const history = [...(customers.get(customerId) ?? []), { orderId, createdAt: at, status: "draft" as const }]
      return { customerOf: new Map(customerOf).set(orderId, customerId), customers: new Map(customers).set(customerId, history) }
    }
    const customerId = customerOf.get(orderId)
    const status = statusAfter(event)
    if (customerId === undefined || status === undefined) return { customerOf, customers }
    const history = (customers.get(customerId) ?? []).map((order) => order.orderId === orderId ? { ...order, status } : order)
    return { customerOf, customers: new Map(customers).set(customerId, history) }
  }
})
