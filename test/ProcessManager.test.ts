import { describe, expect, it } from "@effect/vitest"
import { Effect, Layer, Stream } from "effect"
import * as t from "io-ts"
import * as Either from "fp-ts/lib/Either.js"
import { CheckpointStore, CommandHandler, Decider, EventCodec, EventStore, EventStoreMemory, ProcessManager, Snapshot, SnapshotStore } from "es-kernel"

// Counters that can be closed (a closed counter rejects every command), and requests that
// ask a process manager to move an amount between two counters, undoing the first step if
// the second is rejected.
const counterCodec = EventCodec.make({
  Added: EventCodec.io(t.type({ amount: t.number })),
  Closed: EventCodec.io(t.type({}))
})
type CounterEvent = EventCodec.Event<typeof counterCodec>
type CounterCommand = { readonly _tag: "Add"; readonly amount: number } | { readonly _tag: "Close" }

const counter = Decider.make({
  initialState: false,
  evolve: (closed: boolean, event: CounterEvent) => closed || event.type === "Closed",
  decide: (command: CounterCommand, closed: boolean) => {
    if (closed) return Decider.reject({ _tag: "AlreadyClosed" })
    return command._tag === "Add"
      ? Decider.accept<CounterEvent>({ type: "Added", data: { amount: command.amount } })
      : Decider.accept<CounterEvent>({ type: "Closed", data: {} })
  }
})
const counters = CommandHandler.make({ decider: counter, codec: counterCodec, category: "counter" })
const requestCodec = EventCodec.make({ TransferRequested: EventCodec.io(t.type({ from: t.string, to: t.string, amount: t.number })) })

const add = (id: string, amount: number) => ProcessManager.send(counters, id, { _tag: "Add", amount })

const transfers = ProcessManager.make({
  name: "transfers",
  codec: requestCodec,
  react: ({ data: { amount, from, to } }) => [
    ProcessManager.send(counters, from, { _tag: "Add", amount: -amount }, { onRejected: () => [] }),
    ProcessManager.send(counters, to, { _tag: "Add", amount }, { onRejected: () => [add(from, amount)] })
  ]
})

const layer = Layer.mergeAll(EventStoreMemory.layer, CheckpointStore.layerMemory)

const typesOf = Effect.fnUntraced(function*(streamId: string) {
  const store = yield* EventStore.EventStore
  return (yield* Stream.runCollect(store.readStream(streamId))).map((event) => `${event.type} ${JSON.stringify(event.data)}`)
})

const request = Effect.fnUntraced(function*(from: string, to: string, amount: number) {
  const store = yield* EventStore.EventStore
  return yield* store.append("request-1", [{ type: "TransferRequested", data: { from, to, amount } }])
})

describe("ProcessManager", () => {
  it.live("sends each command once with ids derived from the event, even when the event is delivered again", () =>
    Effect.gen(function*() {
      const appended = yield* request("a", "b", 5)
      const first = yield* ProcessManager.start(transfers)
      yield* first.waitFor(appended.position)
      yield* first.stop
      // Forget the checkpoint: the request is delivered again, as after a crash.
      const checkpoints = yield* CheckpointStore.CheckpointStore
      yield* checkpoints.save("transfers@1", { position: 0 })
      const second = yield* ProcessManager.start(transfers)
      yield* second.waitFor(appended.position)
      expect(yield* typesOf("counter-a")).toEqual(["Added {\"amount\":-5}"])
      expect(yield* typesOf("counter-b")).toEqual(["Added {\"amount\":5}"])
      const store = yield* EventStore.EventStore
      const [added] = yield* Stream.runCollect(store.readStream("counter-b"))
      expect(added?.metadata).toMatchObject({ causationId: (yield* Stream.runCollect(store.readStream("request-1")))[0]?.eventId })
    }).pipe(Effect.provide(layer)))

  it.live("a rejected step is compensated in order; redelivered, the recorded rejection is compensated again, never retried", () =>
    Effect.gen(function*() {
      yield* counters.handle("b", { _tag: "Close" })
      const appended = yield* request("a", "b", 5)
      const first = yield* ProcessManager.start(transfers)
      yield* first.waitFor(appended.position)
      yield* first.stop
      expect(yield* typesOf("counter-a")).toEqual(["Added {\"amount\":-5}", "Added {\"amount\":5}"])
      const store = yield* EventStore.EventStore
      const rejections = yield* Stream.runCollect(store.readAll({ filter: { categories: ["transfers"] } }))
      expect(rejections.map((event) => [event.type, event.data])).toEqual([["CommandRejected", { target: "counter-b", rejection: { _tag: "AlreadyClosed" } }]])

      // Even if counter-b would accept the command now, a redelivery keeps to the recorded outcome.
      const reopened = CommandHandler.make({ decider: { ...counter, evolve: () => false }, codec: counterCodec, category: "counter" })
      const lenient = ProcessManager.make({
        ...transfers,
        react: ({ data: { amount, from, to } }) => [
          ProcessManager.send(counters, from, { _tag: "Add", amount: -amount }, { onRejected: () => [] }),
          ProcessManager.send(reopened, to, { _tag: "Add", amount }, { onRejected: () => [add(from, amount)] })
        ]
      })
      const checkpoints = yield* CheckpointStore.CheckpointStore
      yield* checkpoints.save("transfers@1", { position: 0 })
      const second = yield* ProcessManager.start(lenient)
      yield* second.waitFor(appended.position)
      expect(yield* typesOf("counter-a")).toEqual(["Added {\"amount\":-5}", "Added {\"amount\":5}"])
      expect(yield* typesOf("counter-b")).toEqual(["Closed {}"])
    }).pipe(Effect.provide(layer)))

  it.live("a rejection with no compensation stops the runner at the event, naming the command", () =>
    Effect.gen(function*() {
      yield* counters.handle("b", { _tag: "Close" })
      const appended = yield* request("a", "b", 5)
      const strict = ProcessManager.make({ ...transfers, react: ({ data }) => [add(data.to, data.amount)] })
      const running = yield* ProcessManager.start(strict)
      const failure = yield* Effect.flip(running.await)
      expect(failure).toMatchObject({ _tag: "ProjectionFailed", key: "transfers@1", position: 0 })
      expect(failure.cause).toMatchObject({ _tag: "Uncompensated", target: "counter-b", rejection: { _tag: "AlreadyClosed" } })
      expect(yield* Effect.flip(running.waitFor(appended.position))).toBe(failure)
    }).pipe(Effect.provide(layer)))

  it.live("sends to a handler made with snapshots: the runner then needs a SnapshotStore, and the handler saves on its policy", () =>
    Effect.gen(function*() {
      const closedCodec: Snapshot.StateCodec<boolean> = {
        version: 1,
        encode: (closed) => closed,
        decode: (json) => typeof json === "boolean" ? Either.right(json) : Either.left("not a boolean")
      }
      const snapshotting = CommandHandler.make({
        decider: counter,
        codec: counterCodec,
        category: "counter",
        snapshots: { state: closedCodec, policy: Snapshot.every(1) }
      })
      const manager = ProcessManager.make({
        ...transfers,
        react: ({ data: { amount, from, to } }) => [
          ProcessManager.send(snapshotting, from, { _tag: "Add", amount: -amount }, { onRejected: () => [] }),
          ProcessManager.send(counters, to, { _tag: "Add", amount }, { onRejected: () => [ProcessManager.send(snapshotting, from, { _tag: "Add", amount })] })
        ]
      })
      const appended = yield* request("a", "b", 5)
      const running = yield* ProcessManager.start(manager)
      yield* running.waitFor(appended.position)
      expect(yield* typesOf("counter-a")).toEqual(["Added {\"amount\":-5}"])
      expect(yield* typesOf("counter-b")).toEqual(["Added {\"amount\":5}"])
      const snapshots = yield* SnapshotStore.SnapshotStore
      expect(yield* snapshots.load("counter-a", 1)).toMatchObject({ _tag: "Found", snapshot: { version: 1, state: false } })
    }).pipe(Effect.provide(Layer.mergeAll(layer, SnapshotStore.layerMemory))))
})
