import { describe, expect, it } from "@effect/vitest"
import { Cause, Deferred, Effect, Exit, Fiber, Layer, Ref, Schedule, Stream, Tracer } from "effect"
import { TestClock } from "effect/testing"
import * as Either from "fp-ts/lib/Either.js"
import * as t from "io-ts"
import { CommandHandler, Decider, EventCodec, EventStore, EventStoreMemory } from "es-kernel"
import * as Account from "../examples/bank/Account.js"

const accounts = CommandHandler.make({
  decider: Account.decider,
  codec: Account.codec,
  category: "account",
  retry: Schedule.recurs(200)
})

const open: Account.Command = { type: "OpenAccount", owner: "Ada", initialBalance: 0 }

const events = Effect.fnUntraced(function*(streamId: string) {
  const store = yield* EventStore.EventStore
  return yield* Stream.runCollect(store.readStream(streamId))
})

/**
 * The real memory store, with every append made to wait for the other fibers first, so
 * that concurrent writers really do interleave between deciding and appending. It counts
 * the appends and the conflicts it saw.
 */
const counting = (counts: Ref.Ref<{ readonly appends: number; readonly conflicts: number }>) =>
  Layer.effect(
    EventStore.EventStore,
    Effect.gen(function*() {
      const store = yield* EventStore.EventStore
      return EventStore.EventStore.of({
        ...store,
        append: (streamId, batch, expected) =>
          Effect.yieldNow.pipe(
            Effect.andThen(Ref.update(counts, ({ appends, conflicts }) => ({ appends: appends + 1, conflicts }))),
            Effect.andThen(store.append(streamId, batch, expected)),
            Effect.tapErrorTag("WrongExpectedVersion", () => Ref.update(counts, ({ appends, conflicts }) => ({ appends, conflicts: conflicts + 1 })))
          )
      })
    })
  ).pipe(Layer.provide(EventStoreMemory.layer))

const noCounts = { appends: 0, conflicts: 0 }

/** The amounts of the deposits recorded, in order. */
const depositsIn = (recorded: ReadonlyArray<EventStore.RecordedEvent>): ReadonlyArray<number> =>
  recorded.flatMap((e) => {
    const decoded = Account.codec.decode(e)
    return Either.isRight(decoded) && decoded.right.type === "MoneyDeposited" ? [decoded.right.data.amount] : []
  })

/** The memory store with a competing writer that deposits before every optimistic append of ours. */
const contested = Layer.effect(
  EventStore.EventStore,
  Effect.gen(function*() {
    const store = yield* EventStore.EventStore
    return EventStore.EventStore.of({
      ...store,
      append: (streamId, batch, expected) =>
        typeof expected === "number"
          ? store.append(streamId, [{ type: "MoneyDeposited", schemaVersion: 2, data: { amount: 1, description: "rival" } }]).pipe(
            Effect.andThen(store.append(streamId, batch, expected))
          )
          : store.append(streamId, batch, expected)
    })
  })
).pipe(Layer.provide(EventStoreMemory.layer))

describe("CommandHandler", () => {
  it.effect("60 fibers on one stream: every command has exactly one outcome, rejections stay alone, no conflicts", () =>
    Effect.gen(function*() {
      const uncached = CommandHandler.make({ decider: Account.decider, codec: Account.codec, category: "account", cachedStreams: 0 })
      for (const handler of [accounts, uncached]) {
        const counts = yield* Ref.make(noCounts)
        yield* Effect.gen(function*() {
          yield* handler.handle("shared", { type: "OpenAccount", owner: "Ada", initialBalance: 100 })
          // Deposits 1..60 with ids, every tenth a withdrawal that must be refused, and
          // three redeliveries of deposit 30 (same id) in the same burst.
          const commands = [
            ...Array.from({ length: 60 }, (_, i) =>
              (i + 1) % 10 === 0
                ? { command: { type: "Withdraw" as const, amount: 1_000_000 }, commandId: `w-${i + 1}` }
                : { command: { type: "Deposit" as const, amount: i + 1 }, commandId: `d-${i + 1}` }),
            ...Array.from({ length: 3 }, () => ({ command: { type: "Deposit" as const, amount: 30 }, commandId: "d-29" }))
          ]
          const outcomes = yield* Effect.forEach(
            commands,
            ({ command, commandId }) => Effect.exit(handler.handle("shared", command, { commandId })),
            { concurrency: "unbounded" }
          )
          const recorded = yield* events("account-shared")
          const deposited = commands.filter((c) => c.command.type === "Deposit" && c.commandId !== "d-29").map((c) => c.command.amount)
          expect([...depositsIn(recorded)].sort((x, y) => x - y)).toEqual(deposited.concat(29).sort((x, y) => x - y))
          for (const [index, outcome] of outcomes.entries()) {
            const { command, commandId } = commands[index] ?? { command: undefined, commandId: "" }
            if (command?.type === "Withdraw") {
              expect(outcome).toMatchObject({ _tag: "Failure" })
              if (Exit.isFailure(outcome)) expect(Cause.squash(outcome.cause)).toMatchObject({ _tag: "Rejected", rejection: { type: "InsufficientFunds" } })
              continue
            }
            if (!Exit.isSuccess(outcome)) throw new Error(`deposit ${commandId} failed: ${String(outcome.cause)}`)
            const handled = outcome.value
            const amount = commandId === "d-29" ? 29 : command?.amount
            expect(handled.events).toEqual([{ type: "MoneyDeposited", data: { amount, description: "" } }])
            if (!handled.alreadyHandled) {
              // The version a command reports is the one its own event was recorded at.
              expect(recorded[handled.version - 1]?.data).toEqual({ amount, description: "" })
              expect(recorded[handled.version - 1]?.metadata.commandId).toBe(commandId)
            }
          }
          expect(outcomes.filter((o) => Exit.isSuccess(o) && o.value.alreadyHandled)).toHaveLength(commands.filter((c) => c.commandId === "d-29").length - 1)
          const { state } = yield* handler.load("shared")
          expect(state).toEqual({ status: "Open", owner: "Ada", balance: 100 + deposited.reduce((x, y) => x + y, 0) + 29 })
        }).pipe(Effect.provide(counting(counts)))
        const { appends, conflicts } = yield* Ref.get(counts)
        expect(conflicts).toBe(0)
        // Commands that queued behind an append went together in later ones.
        expect(appends).toBeLessThan(20)
      }
    }))

  it.live("two handlers on one stream, as two processes would: every command lands once, conflicts retried by the default retry", () =>
    Effect.gen(function*() {
      const counts = yield* Ref.make(noCounts)
      const [first, second] = [1, 2].map(() => CommandHandler.make({ decider: Account.decider, codec: Account.codec, category: "account" }))
      if (first === undefined || second === undefined) return
      yield* Effect.gen(function*() {
        yield* first.handle("contested", open)
        yield* second.load("contested")
        const commands = Array.from({ length: 100 }, (_, i) => ({ handler: i % 2 === 0 ? first : second, amount: i + 1 }))
        yield* Effect.forEach(
          commands,
          ({ handler, amount }) => handler.handle("contested", { type: "Deposit", amount }, { commandId: `c-${amount}` }),
          { concurrency: "unbounded", discard: true }
        )
        const recorded = yield* events("account-contested")
        expect(depositsIn(recorded)).toHaveLength(100)
        expect(new Set(recorded.map((e) => e.metadata.commandId)).size).toBe(101)
        expect((yield* first.load("contested")).state).toMatchObject({ balance: (100 * 101) / 2 })
      }).pipe(Effect.provide(counting(counts)))
      expect((yield* Ref.get(counts)).conflicts).toBeGreaterThan(0)
    }))

  it.effect("an append the store refuses is split up, so the fault stays with the command that caused it", () =>
    Effect.gen(function*() {
      yield* accounts.handle("split", open)
      const amounts = [1, 2, Number.POSITIVE_INFINITY, 4, 5, 6]
      const outcomes = yield* Effect.forEach(
        amounts,
        (amount) => Effect.exit(accounts.handle("split", { type: "Deposit", amount })),
        { concurrency: "unbounded" }
      )
      expect(outcomes.map((o) => Exit.isSuccess(o) ? "ok" : Cause.squash(o.cause))).toEqual([
        "ok",
        "ok",
        expect.objectContaining({ _tag: "InvalidAppend" }),
        "ok",
        "ok",
        "ok"
      ])
      expect((yield* accounts.load("split")).state).toMatchObject({ balance: 18 })
    }).pipe(Effect.provide(EventStoreMemory.layer)))

  it.effect("the same command id sent by many fibers at once appends once; the others get its events back", () =>
    Effect.gen(function*() {
      yield* accounts.handle("dup", open)
      const outcomes = yield* Effect.forEach(
        Array.from({ length: 20 }, () => ({ type: "Deposit" as const, amount: 7 })),
        (command) => accounts.handle("dup", command, { commandId: "once" }),
        { concurrency: "unbounded" }
      )
      expect(outcomes.filter((o) => !o.alreadyHandled)).toHaveLength(1)
      for (const outcome of outcomes) expect(outcome.events).toEqual([{ type: "MoneyDeposited", data: { amount: 7, description: "" } }])
      expect(depositsIn(yield* events("account-dup"))).toHaveLength(1)
    }).pipe(Effect.provide(EventStoreMemory.layer)))

  it.effect("a retried command with the same id appends once and returns the first run's events", () =>
    Effect.gen(function*() {
      yield* accounts.handle("a", open)
      const first = yield* accounts.handle("a", { type: "Deposit", amount: 10 }, { commandId: "cmd-1" })
      const again = yield* accounts.handle("a", { type: "Deposit", amount: 10 }, { commandId: "cmd-1" })
      expect(first.alreadyHandled).toBe(false)
      expect(again.alreadyHandled).toBe(true)
      expect(again.events).toEqual(first.events)
      expect(again.version).toBe(2)
      const recorded = yield* events("account-a")
      expect(recorded.map((e) => e.eventId)).toEqual([expect.any(String), CommandHandler.eventIdFor("cmd-1", 0)])
    }).pipe(Effect.provide(EventStoreMemory.layer)))

  it.effect("a stored v1 event loads through the handler as the current type", () =>
    Effect.gen(function*() {
      const store = yield* EventStore.EventStore
      yield* store.append("account-old", [
        { type: "AccountOpened", data: { owner: "Old", initialBalance: 100 } },
        { type: "MoneyDeposited", schemaVersion: 1, data: { amount: 50 } }
      ])
      const loaded = yield* accounts.load("old")
      expect(loaded.state).toEqual({ status: "Open", owner: "Old", balance: 150 })
      const handled = yield* accounts.handle("old", { type: "Deposit", amount: 5, description: "new" })
      expect(handled.version).toBe(3)
      const [, v1, v2] = yield* events("account-old")
      expect(v1?.data).toEqual({ amount: 50 })
      expect(v1?.schemaVersion).toBe(1)
      expect(v2?.schemaVersion).toBe(2)
    }).pipe(Effect.provide(EventStoreMemory.layer)))

  it.effect("a rejection is a typed failure and appends nothing", () =>
    Effect.gen(function*() {
      yield* accounts.handle("r", { type: "OpenAccount", owner: "R", initialBalance: 100 })
      const failure = yield* Effect.flip(accounts.handle("r", { type: "Withdraw", amount: 500 }))
      expect(failure._tag).toBe("Rejected")
      if (failure._tag === "Rejected") {
        expect(failure.rejection).toEqual({ type: "InsufficientFunds", balance: 100, amount: 500 })
        expect(failure.streamId).toBe("account-r")
      }
      expect(yield* events("account-r")).toHaveLength(1)
    }).pipe(Effect.provide(EventStoreMemory.layer)))

  it.effect("command metadata flows into every event's metadata", () =>
    Effect.gen(function*() {
      yield* accounts.handle("m", open, { commandId: "c-1", correlationId: "req-9", metadata: { user: "ada", ip: "127.0.0.1" } })
      const [event] = yield* events("account-m")
      expect(event?.metadata).toEqual({ correlationId: "req-9", causationId: "c-1", commandId: "c-1", user: "ada", ip: "127.0.0.1" })
    }).pipe(Effect.provide(EventStoreMemory.layer)))

  it.effect("events are stamped by Effect's Clock", () =>
    Effect.gen(function*() {
      yield* TestClock.setTime(Date.UTC(2030, 0, 2, 3, 4, 5))
      yield* accounts.handle("clock", open)
      const [event] = yield* events("account-clock")
      expect(event?.recordedAt.toISOString()).toBe("2030-01-02T03:04:05.000Z")
    }).pipe(Effect.provide(EventStoreMemory.layer)))

  it.effect("gives up with WrongExpectedVersion when the retries run out", () =>
    Effect.gen(function*() {
      const impatient = CommandHandler.make({ decider: Account.decider, codec: Account.codec, category: "account", retry: Schedule.recurs(2) })
      const store = yield* EventStore.EventStore
      yield* store.append("account-hot", [{ type: "AccountOpened", data: { owner: "Hot", initialBalance: 0 } }])
      const failure = yield* Effect.flip(impatient.handle("hot", { type: "Deposit", amount: 5 }))
      expect(failure._tag).toBe("WrongExpectedVersion")
      // Three attempts, each losing to the rival: three rival deposits, none of ours.
      const recorded = yield* events("account-hot")
      expect(recorded.map((e) => e.type === "MoneyDeposited" ? e.data : null).filter((d) => d !== null)).toEqual([
        { amount: 1, description: "rival" },
        { amount: 1, description: "rival" },
        { amount: 1, description: "rival" }
      ])
    }).pipe(Effect.provide(contested)))

  it.effect("an undecodable stored payload is a typed error naming the event, and nothing is appended", () =>
    Effect.gen(function*() {
      const store = yield* EventStore.EventStore
      yield* store.append("account-bad", [{ type: "AccountOpened", data: { owner: 42 } }])
      const failure = yield* Effect.flip(accounts.handle("bad", { type: "Deposit", amount: 5 }))
      expect(failure._tag).toBe("PayloadDecodeFailed")
      expect(failure.message).toContain("stream \"account-bad\" version 1")
      expect(yield* events("account-bad")).toHaveLength(1)
    }).pipe(Effect.provide(EventStoreMemory.layer)))

  it.effect("events of unknown types are skipped and reported under the skip policy", () =>
    Effect.gen(function*() {
      const lenient = EventCodec.make({ Counted: EventCodec.io(t.type({ n: t.number })) }, { unknownTypes: "skip" })
      const counter = CommandHandler.make({
        category: "counter",
        codec: lenient,
        decider: {
          initialState: 0,
          decide: (n: number) => Decider.accept({ type: "Counted" as const, data: { n } }),
          evolve: (total: number, event: EventCodec.Event<typeof lenient>) => total + event.data.n
        }
      })
      const store = yield* EventStore.EventStore
      yield* store.append("counter-1", [{ type: "Counted", data: { n: 2 } }, { type: "FromTheFuture", data: {} }])
      const loaded = yield* counter.load("1")
      expect(loaded.state).toBe(2)
      expect(loaded.version).toBe(2)
      expect(loaded.skipped).toEqual([{ _tag: "Skipped", streamId: "counter-1", version: 2, type: "FromTheFuture", schemaVersion: 1 }])
    }).pipe(Effect.provide(EventStoreMemory.layer)))

  it.effect("loads the state as it was at an earlier version or an earlier moment", () =>
    Effect.gen(function*() {
      yield* TestClock.setTime(Date.UTC(2030, 0, 1))
      yield* accounts.handle("tt", open)
      yield* TestClock.setTime(Date.UTC(2030, 0, 2))
      yield* accounts.handle("tt", { type: "Deposit", amount: 10 })
      yield* TestClock.setTime(Date.UTC(2030, 0, 3))
      yield* accounts.handle("tt", { type: "Deposit", amount: 20 })
      const atVersion2 = yield* accounts.load("tt", { version: 2 })
      expect(atVersion2.version).toBe(2)
      expect(atVersion2.state).toEqual({ status: "Open", owner: "Ada", balance: 10 })
      const onJanuary2 = yield* accounts.load("tt", { at: new Date(Date.UTC(2030, 0, 2, 12)) })
      expect(onJanuary2.state).toEqual({ status: "Open", owner: "Ada", balance: 10 })
      const beforeOpening = yield* accounts.load("tt", { at: new Date(Date.UTC(2029, 11, 31)) })
      expect(beforeOpening).toMatchObject({ version: 0, state: { status: "NotOpen" } })
      expect((yield* accounts.load("tt")).state).toEqual({ status: "Open", owner: "Ada", balance: 30 })
    }).pipe(Effect.provide(EventStoreMemory.layer)))

  it.effect("a cached stream still sees events appended behind the handler's back", () =>
    Effect.gen(function*() {
      const store = yield* EventStore.EventStore
      yield* accounts.handle("c", open)
      yield* accounts.handle("c", { type: "Deposit", amount: 10 })
      yield* store.append("account-c", [{ type: "MoneyDeposited", data: { amount: 5, description: "elsewhere" } }], 2)
      expect((yield* accounts.load("c")).state).toEqual({ status: "Open", owner: "Ada", balance: 15 })
      const handled = yield* accounts.handle("c", { type: "Withdraw", amount: 15 })
      expect(handled).toMatchObject({ version: 4, state: { balance: 0 } })
    }).pipe(Effect.provide(EventStoreMemory.layer)))

  it.effect("recognises a retried command recorded long before the cached version", () =>
    Effect.gen(function*() {
      yield* accounts.handle("old-cmd", open, { commandId: "open-1" })
      for (let i = 0; i < 5; i++) yield* accounts.handle("old-cmd", { type: "Deposit", amount: 1 })
      const again = yield* accounts.handle("old-cmd", open, { commandId: "open-1" })
      expect(again.alreadyHandled).toBe(true)
      expect(again.events).toEqual([{ type: "AccountOpened", data: { owner: "Ada", initialBalance: 0 } }])
      expect(again.version).toBe(6)
    }).pipe(Effect.provide(EventStoreMemory.layer)))

  it.effect("one handler over two stores keeps their states apart, with or without the cache", () =>
    Effect.gen(function*() {
      for (const handler of [accounts, CommandHandler.make({ decider: Account.decider, codec: Account.codec, category: "account", cachedStreams: 0 })]) {
        const first = yield* Layer.build(EventStoreMemory.layer)
        const second = yield* Layer.build(EventStoreMemory.layer)
        yield* handler.handle("x", { type: "OpenAccount", owner: "One", initialBalance: 1 }).pipe(Effect.provideContext(first))
        yield* handler.handle("x", { type: "OpenAccount", owner: "Two", initialBalance: 2 }).pipe(Effect.provideContext(second))
        expect((yield* handler.load("x").pipe(Effect.provideContext(first))).state).toMatchObject({ owner: "One", balance: 1 })
        expect((yield* handler.load("x").pipe(Effect.provideContext(second))).state).toMatchObject({ owner: "Two", balance: 2 })
      }
    }))

  it.effect("a command interrupted while it waits for its stream is withdrawn; the others still land", () =>
    Effect.gen(function*() {
      const release = yield* Deferred.make<void>()
      const held = Layer.effect(
        EventStore.EventStore,
        Effect.gen(function*() {
          const store = yield* EventStore.EventStore
          return EventStore.EventStore.of({
            ...store,
            append: (streamId, batch, expected) => Effect.andThen(Deferred.await(release), store.append(streamId, batch, expected))
          })
        })
      ).pipe(Layer.provide(EventStoreMemory.layer))
      yield* Effect.gen(function*() {
        const first = yield* Effect.forkChild(accounts.handle("w", open))
        yield* Effect.yieldNow
        const withdrawn = yield* Effect.forkChild(accounts.handle("w", { type: "Deposit", amount: 1 }))
        const kept = yield* Effect.forkChild(accounts.handle("w", { type: "Deposit", amount: 2 }))
        yield* Effect.yieldNow
        yield* Fiber.interrupt(withdrawn)
        yield* Deferred.succeed(release, undefined)
        yield* Fiber.join(first)
        expect((yield* Fiber.join(kept)).state).toMatchObject({ balance: 2 })
        expect(depositsIn(yield* events("account-w"))).toEqual([2])
      }).pipe(Effect.provide(held))
    }))

  it.effect("traces each command when a tracing backend is installed, and not with traced: false", () =>
    Effect.gen(function*() {
      const spans: Array<{ readonly name: string; readonly attributes: ReadonlyMap<string, unknown> }> = []
      const recording = Tracer.make({
        span(options) {
          const span = Tracer.nativeTracer.span(options)
          spans.push({ name: span.name, attributes: span.attributes })
          return span
        }
      })
      const untraced = CommandHandler.make({ decider: Account.decider, codec: Account.codec, category: "account", traced: false })
      yield* accounts.handle("traced", open).pipe(Effect.withTracer(recording))
      yield* untraced.handle("traced", { type: "Deposit", amount: 1 }).pipe(Effect.withTracer(recording))
      yield* accounts.handle("traced", { type: "Deposit", amount: 2 })
      expect(spans.map((span) => span.name)).toEqual(["CommandHandler.handle"])
      expect(Object.fromEntries(spans[0]?.attributes ?? [])).toEqual({
        "es_kernel.category": "account",
        "es_kernel.id": "traced",
        "es_kernel.stream_id": "account-traced",
        "es_kernel.event_count": 1,
        "es_kernel.next_version": 1,
        "es_kernel.position": 1,
        "es_kernel.already_handled": false
      })
      expect((yield* accounts.load("traced")).version).toBe(3)
    }).pipe(Effect.provide(EventStoreMemory.layer)))

  it("derives stable, distinct, UUID-shaped event ids from a command id", () => {
    const id = CommandHandler.eventIdFor("cmd", 0)
    expect(id).toBe(CommandHandler.eventIdFor("cmd", 0))
    expect(id).not.toBe(CommandHandler.eventIdFor("cmd", 1))
    expect(id).not.toBe(CommandHandler.eventIdFor("cmd2", 0))
    expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/)
  })
})
