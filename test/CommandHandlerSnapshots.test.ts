import { describe, expect, it } from "@effect/vitest"
import { Effect, Exit, Layer, Stream } from "effect"
import * as t from "io-ts"
import { CommandHandler, EventStore, EventStoreMemory, Snapshot, SnapshotStore } from "es-kernel"
import * as Account from "../examples/bank/Account.js"

const AccountState: t.Type<Account.State, Account.State> = t.union([
  t.type({ status: t.literal("NotOpen") }),
  t.type({ status: t.literal("Open"), owner: t.string, balance: t.number }),
  t.type({ status: t.literal("Closed"), owner: t.string })
])

const stateCodec = (version: number): Snapshot.StateCodec<Account.State> => ({
  version,
  encode: (state) => AccountState.encode(state),
  decode: (json) => AccountState.decode(json)
})

const withSnapshots = (policy: Snapshot.Policy, options: { readonly version?: number; readonly cachedStreams?: number } = {}) =>
  CommandHandler.make({
    decider: Account.decider,
    codec: Account.codec,
    category: "account",
    snapshots: { state: stateCodec(options.version ?? 1), policy },
    ...(options.cachedStreams === undefined ? {} : { cachedStreams: options.cachedStreams })
  })

const withoutSnapshots = () => CommandHandler.make({ decider: Account.decider, codec: Account.codec, category: "account" })

const open: Account.Command = { type: "OpenAccount", owner: "Ada", initialBalance: 0 }
const deposit = (amount: number): Account.Command => ({ type: "Deposit", amount })

/** The memory store, counting the events its reads deliver. */
const counted = () => {
  const counter = { read: 0 }
  const layer = Layer.effect(
    EventStore.EventStore,
    EventStore.EventStore.useSync((store) =>
      EventStore.EventStore.of({
        ...store,
        readStream: (streamId, options) =>
          Stream.tap(store.readStream(streamId, options), () =>
            Effect.sync(() => {
              counter.read++
            }))
      }))
  ).pipe(Layer.provide(EventStoreMemory.layer))
  return { counter, layer: Layer.mergeAll(layer, SnapshotStore.layerMemory) }
}

const stored = (streamId: string, stateVersion = 1) =>
  SnapshotStore.SnapshotStore.use((snapshots) => snapshots.load(streamId, stateVersion))

const streamVersion = (streamId: string) => EventStore.EventStore.use((store) => store.streamVersion(streamId))

describe("CommandHandler with snapshots", () => {
  it.effect("saves a snapshot every n events, and a handler with no state of the stream reads only the tail", () => {
    const { counter, layer } = counted()
    return Effect.gen(function*() {
      const writer = withSnapshots(Snapshot.every(10))
      yield* writer.handle("a", open)
      for (let amount = 1; amount <= 25; amount++) yield* writer.handle("a", deposit(amount))
      expect(yield* stored("account-a")).toMatchObject({ _tag: "Found", snapshot: { version: 20 } })

      counter.read = 0
      const reader = withSnapshots(Snapshot.every(10))
      const loaded = yield* reader.load("a")
      expect(counter.read).toBe(6)
      expect(loaded).toEqual(yield* withoutSnapshots().load("a"))
      expect(loaded.state).toEqual({ status: "Open", owner: "Ada", balance: 325 })

      counter.read = 0
      const handled = yield* withSnapshots(Snapshot.every(10)).handle("a", deposit(100))
      expect(counter.read).toBe(6)
      expect(handled).toMatchObject({ version: 27, state: { balance: 425 }, alreadyHandled: false })
    }).pipe(Effect.provide(layer))
  })

  it.effect("a retried command whose events lie before the snapshot is recognised: its event ids are already recorded", () => {
    const { counter, layer } = counted()
    return Effect.gen(function*() {
      const writer = withSnapshots(Snapshot.every(5))
      yield* writer.handle("a", open)
      const first = yield* writer.handle("a", deposit(7), { commandId: "deposit-7" })
      for (let amount = 1; amount <= 10; amount++) yield* writer.handle("a", deposit(amount))
      expect(yield* stored("account-a")).toMatchObject({ _tag: "Found", snapshot: { version: 10 } })

      counter.read = 0
      const again = yield* withSnapshots(Snapshot.every(5)).handle("a", deposit(7), { commandId: "deposit-7" })
      expect(again).toMatchObject({ alreadyHandled: true, events: first.events, version: 12, state: { balance: 62 } })
      expect(yield* streamVersion("account-a")).toBe(12)
      // The tail, then the ids before the snapshot, then the command's own events.
      expect(counter.read).toBe(2 + 10 + 12)
    }).pipe(Effect.provide(layer))
  })

  it.effect("a retried command that would now be rejected is recognised, not rejected", () =>
    Effect.gen(function*() {
      const writer = withSnapshots(Snapshot.every(5))
      const first = yield* writer.handle("a", open, { commandId: "open-a" })
      for (let amount = 1; amount <= 6; amount++) yield* writer.handle("a", deposit(amount))
      const fresh = withSnapshots(Snapshot.every(5))
      const again = yield* fresh.handle("a", open, { commandId: "open-a" })
      expect(again).toMatchObject({ alreadyHandled: true, events: first.events, version: 7 })
      // A command with an id never recorded is still rejected, after the same check.
      const other = yield* Effect.exit(withSnapshots(Snapshot.every(5)).handle("a", open, { commandId: "open-b" }))
      expect(other).toEqual(Exit.fail(new CommandHandler.Rejected({ streamId: "account-a", rejection: { type: "AccountAlreadyOpen" } })))
      // Once the ids are read, the handler knows them: the next retry is recognised without reading.
      expect(yield* fresh.handle("a", open, { commandId: "open-a" })).toMatchObject({ alreadyHandled: true })
    }).pipe(Effect.provide(Layer.mergeAll(EventStoreMemory.layer, SnapshotStore.layerMemory))))

  it.effect("many fibers, redeliveries and no state cache: every command lands once", () =>
    Effect.gen(function*() {
      const handler = withSnapshots(Snapshot.every(4), { cachedStreams: 0 })
      yield* handler.handle("a", open, { commandId: "open" })
      const commands = Array.from({ length: 30 }, (_, index) => ({ amount: index + 1, commandId: `deposit-${index + 1}` }))
      const redelivered = [...commands, ...commands.filter((_, index) => index % 3 === 0), { amount: 0, commandId: "open" }]
      const outcomes = yield* Effect.forEach(
        redelivered,
        ({ amount, commandId }) => Effect.exit(handler.handle("a", amount === 0 ? open : deposit(amount), { commandId })),
        { concurrency: "unbounded" }
      )
      expect(outcomes.every(Exit.isSuccess)).toBe(true)
      const recorded = yield* Stream.runCollect(EventStore.EventStore.use((store) => Effect.succeed(store.readStream("account-a"))).pipe(Stream.unwrap))
      expect(recorded).toHaveLength(31)
      expect(new Set(recorded.map((event) => event.eventId)).size).toBe(31)
      expect((yield* withoutSnapshots().load("a")).state).toEqual({ status: "Open", owner: "Ada", balance: 465 })
    }).pipe(Effect.provide(Layer.mergeAll(EventStoreMemory.layer, SnapshotStore.layerMemory))))

  it.effect("a new state version never reads the old version's snapshots: it replays and saves its own", () => {
    const { counter, layer } = counted()
    return Effect.gen(function*() {
      const v1 = withSnapshots(Snapshot.every(5))
      yield* v1.handle("a", open)
      for (let amount = 1; amount <= 6; amount++) yield* v1.handle("a", deposit(amount))
      expect(yield* stored("account-a", 1)).toMatchObject({ _tag: "Found", snapshot: { version: 5 } })

      counter.read = 0
      const v2 = yield* withSnapshots(Snapshot.every(5), { version: 2 }).load("a")
      expect(counter.read).toBe(7)
      expect(v2.state).toEqual({ status: "Open", owner: "Ada", balance: 21 })
      expect(yield* stored("account-a", 2)).toMatchObject({ _tag: "Found", snapshot: { version: 7, stateVersion: 2 } })
      expect(yield* stored("account-a", 1)).toMatchObject({ _tag: "Found", snapshot: { version: 5, stateVersion: 1 } })
    }).pipe(Effect.provide(layer))
  })

  it.effect("a snapshot whose state does not decode, or that is ahead of the stream, is ignored: the stream is read whole", () =>
    Effect.gen(function*() {
      const snapshots = yield* SnapshotStore.SnapshotStore
      const writer = withoutSnapshots()
      yield* writer.handle("a", open)
      yield* writer.handle("a", deposit(5))
      yield* snapshots.save({ streamId: "account-a", version: 2, stateVersion: 1, state: { status: "Open", balance: "lots" } })
      const handler = withSnapshots(Snapshot.never)
      expect((yield* handler.load("a")).state).toEqual({ status: "Open", owner: "Ada", balance: 5 })

      yield* writer.handle("b", open)
      yield* snapshots.save({ streamId: "account-b", version: 9, stateVersion: 1, state: { status: "Open", owner: "Eve", balance: 1e6 } })
      expect((yield* handler.handle("b", deposit(3))).state).toEqual({ status: "Open", owner: "Ada", balance: 3 })
    }).pipe(Effect.provide(Layer.mergeAll(EventStoreMemory.layer, SnapshotStore.layerMemory))))

  it.effect("on demand: saveSnapshot saves whatever the policy, and Snapshot.never saves nothing by itself", () =>
    Effect.gen(function*() {
      const handler = withSnapshots(Snapshot.never)
      yield* handler.handle("a", open)
      for (let amount = 1; amount <= 20; amount++) yield* handler.handle("a", deposit(amount))
      expect(yield* stored("account-a")).toEqual({ _tag: "Missing" })
      const saved = yield* handler.saveSnapshot("a")
      expect(saved).toMatchObject({ version: 21, state: { balance: 210 } })
      expect(yield* stored("account-a")).toEqual({
        _tag: "Found",
        snapshot: { streamId: "account-a", version: 21, stateVersion: 1, state: { status: "Open", owner: "Ada", balance: 210 } }
      })
    }).pipe(Effect.provide(Layer.mergeAll(EventStoreMemory.layer, SnapshotStore.layerMemory))))

  it.effect("a failed save is not the command's failure; saveSnapshot reports it", () => {
    const failing = Layer.succeed(
      SnapshotStore.SnapshotStore,
      SnapshotStore.SnapshotStore.of({
        load: () => Effect.succeed({ _tag: "Missing" }),
        save: (snapshot) => Effect.fail(new SnapshotStore.SnapshotError({ streamId: snapshot.streamId, reason: "the disk is full" }))
      })
    )
    return Effect.gen(function*() {
      const handler = withSnapshots(Snapshot.every(1))
      expect(yield* handler.handle("a", open)).toMatchObject({ version: 1 })
      expect(yield* handler.handle("a", deposit(4))).toMatchObject({ version: 2, state: { balance: 4 } })
      const onDemand = yield* Effect.exit(handler.saveSnapshot("a"))
      expect(onDemand).toEqual(Exit.fail(new SnapshotStore.SnapshotError({ streamId: "account-a", reason: "the disk is full" })))
    }).pipe(Effect.provide(Layer.mergeAll(EventStoreMemory.layer, failing)))
  })

  it.effect("time travel reads from the start, past any snapshot", () =>
    Effect.gen(function*() {
      const handler = withSnapshots(Snapshot.every(2))
      yield* handler.handle("a", open)
      for (let amount = 1; amount <= 5; amount++) yield* handler.handle("a", deposit(amount))
      expect((yield* withSnapshots(Snapshot.every(2)).load("a", { version: 3 })).state).toEqual({ status: "Open", owner: "Ada", balance: 3 })
    }).pipe(Effect.provide(Layer.mergeAll(EventStoreMemory.layer, SnapshotStore.layerMemory))))
})
