/**
 * Client-side group commit: concurrent appends share one statement and one transaction.
 *
 * Appends wait in a queue. Each of a few lanes (one connection's worth of work each)
 * takes, whenever it is free, every queued append it may (at most one per stream, none to
 * a stream another lane has in flight, at most `maxEventsPerTransaction` events) and runs
 * them as one append statement, which checks each append's expected version and event ids
 * by itself. One round trip and one commit then serve the whole group.
 *
 * Isolation: a group fails as a whole only when the server aborts the statement, which
 * happens when another process races this one on a stream (a unique violation on
 * `(stream_id, version)`), when an event id is being written by another transaction at
 * the same moment, or on a deadlock or serialization failure. The lane then runs each of
 * the group's appends alone, each in its own statement, so every append gets its own
 * outcome and an innocent one is never failed by its neighbour. An append running alone
 * that hits a unique violation is simply run again: the row it collided with has
 * committed by then, so the next run sees it (and reports the stream's new version, or
 * finds its own ids recorded by an earlier attempt).
 *
 * Any other failure (a lost connection) leaves the group's outcome unknown, so each of
 * its appends fails with `StorageError`; retrying with the same event ids is safe.
 *
 * @internal
 */
import { Deferred, Effect } from "effect"
import type { SqlError } from "effect/sql/SqlError"
import { StorageError } from "../../EventStore.js"
import * as StoreProbe from "../storeProbe.js"
import type { EncodedAppend } from "./checks.js"
import { maxEventsPerTransaction } from "./sql.js"

/** What the append statement said about one append. */
export type Outcome =
  | { readonly _tag: "Appended"; readonly lastPosition: number; readonly actual: number }
  | { readonly _tag: "WrongExpectedVersion"; readonly actual: number }
  /** Some of its caller-chosen ids are already recorded: a retry, or a conflict. */
  | { readonly _tag: "IdsRecorded"; readonly actual: number }

/** One append in a group, as the statement runner gets it. */
export interface Submitted {
  readonly append: EncodedAppend
  readonly recordedAt: number
}

/**
 * Runs one group as one statement, giving one outcome per append in group order, or the
 * statement's failure.
 */
export type RunGroup = (group: ReadonlyArray<Submitted>) => Effect.Effect<ReadonlyArray<Outcome>, SqlError>

interface Pending {
  readonly submitted: Submitted
  readonly done: Deferred.Deferred<Outcome, StorageError>
}

/** Server errors after which the statement is known to have rolled back, and a rerun may succeed. */
const abortedByRace = (error: SqlError): boolean => {
  const tag = error.reason._tag
  return tag === "UniqueViolation" || tag === "DeadlockError" || tag === "SerializationError"
}

// An append running alone can only collide with a row that has committed by the time it
// runs again, so a handful of reruns means something is wrong, not unlucky.
const maxReruns = 50

const closedError = new StorageError({ reason: "the PostgreSQL store was closed (its layer's scope ended); open it again" })

const storageError = (what: string, error: SqlError) =>
  new StorageError({ reason: `${what}: ${error.message}`, cause: error })

/**
 * The queue and its lanes. `lane` is forked once per lane by the layer.
 *
 * @internal
 */
export class GroupCommitter {
  private readonly queue: Array<Pending> = []
  private readonly inFlight = new Set<string>()
  private work: Deferred.Deferred<void> | undefined
  private closed = false
  /** Told about each committed statement, when someone listens. */
  readonly probe: StoreProbe.StoreProbe = StoreProbe.make()

  constructor(
    private readonly run: RunGroup,
    private readonly onCommitted: () => void
  ) {}

  /** Queues an append and waits for its outcome. Interrupted while queued, it is dropped. */
  submit(submitted: Submitted): Effect.Effect<Outcome, StorageError> {
    return Effect.suspend(() => {
      if (this.closed) return Effect.fail(closedError)
      const pending: Pending = { submitted, done: Deferred.makeUnsafe() }
      this.queue.push(pending)
      this.wake()
      return Deferred.await(pending.done).pipe(
        Effect.onInterrupt(() =>
          Effect.sync(() => {
            const at = this.queue.indexOf(pending)
            if (at !== -1) this.queue.splice(at, 1)
          })
        )
      )
    })
  }

  /** Refuses new appends and fails the queued ones: the lanes are gone with the layer's scope. */
  close(): void {
    this.closed = true
    for (const pending of this.queue.splice(0)) Deferred.doneUnsafe(pending.done, Effect.fail(closedError))
  }

  /** One lane: forever take a group, run it, hand out the outcomes. */
  readonly lane: Effect.Effect<never> = Effect.forever(
    Effect.suspend(() => {
      const group = this.takeGroup()
      if (group.length === 0) {
        this.work ??= Deferred.makeUnsafe()
        return Deferred.await(this.work)
      }
      return this.commit(group).pipe(
        // Closed mid-statement: whether it committed is unknown, like a lost connection.
        Effect.onInterrupt(() => this.failAll(group, closedError)),
        Effect.ensuring(Effect.sync(() => {
          for (const { submitted } of group) this.inFlight.delete(submitted.append.streamId)
          // Appends held back for a stream this group had in flight may go now.
          if (this.queue.length > 0) this.wake()
        }))
      )
    })
  )

  private wake(): void {
    const work = this.work
    if (work === undefined) return
    this.work = undefined
    Deferred.doneUnsafe(work, Effect.void)
  }

  // In queue order, so two appends to one stream keep their order.
  private takeGroup(): ReadonlyArray<Pending> {
    const group: Array<Pending> = []
    const streams = new Set<string>()
    let events = 0
    let at = 0
    while (at < this.queue.length) {
      const pending = this.queue[at]
      if (pending === undefined) break
      const { streamId, events: batch } = pending.submitted.append
      if (events + batch.length > maxEventsPerTransaction) break
      if (streams.has(streamId) || this.inFlight.has(streamId)) {
        // A later append to this stream must not overtake this one.
        streams.add(streamId)
        at++
        continue
      }
      streams.add(streamId)
      events += batch.length
      group.push(pending)
      this.queue.splice(at, 1)
    }
    for (const pending of group) this.inFlight.add(pending.submitted.append.streamId)
    return group
  }

  private commit(group: ReadonlyArray<Pending>): Effect.Effect<void> {
    return this.run(group.map((pending) => pending.submitted)).pipe(
      Effect.matchEffect({
        onSuccess: (outcomes) => this.settle(group, outcomes),
        onFailure: (error) =>
          abortedByRace(error) ? this.oneByOne(group) : this.failAll(group, storageError("appending a group", error))
      })
    )
  }

  private settle(group: ReadonlyArray<Pending>, outcomes: ReadonlyArray<Outcome>): Effect.Effect<void> {
    return Effect.sync(() => {
      if (outcomes.some((outcome) => outcome._tag === "Appended")) {
        this.onCommitted()
        const { groupCommitted } = this.probe
        if (groupCommitted !== undefined) groupCommitted(group.length, group.reduce((events, pending) => events + pending.submitted.append.events.length, 0))
      }
      group.forEach((pending, index) => {
        const outcome = outcomes[index]
        Deferred.doneUnsafe(
          pending.done,
          outcome === undefined
            ? Effect.fail(new StorageError({ reason: `the append statement returned no row for append ${index}` }))
            : Effect.succeed(outcome)
        )
      })
    })
  }

  private failAll(group: ReadonlyArray<Pending>, error: StorageError): Effect.Effect<void> {
    return Effect.sync(() => {
      for (const pending of group) Deferred.doneUnsafe(pending.done, Effect.fail(error))
    })
  }

  private oneByOne(group: ReadonlyArray<Pending>): Effect.Effect<void> {
    return Effect.forEach(group, (pending) => this.alone(pending, 0), { discard: true })
  }

  private alone(pending: Pending, reruns: number): Effect.Effect<void> {
    return this.run([pending.submitted]).pipe(
      Effect.matchEffect({
        onSuccess: (outcomes) => this.settle([pending], outcomes),
        onFailure: (error) =>
          abortedByRace(error) && reruns < maxReruns
            ? this.alone(pending, reruns + 1)
            : this.failAll([pending], storageError("appending", error))
      })
    )
  }
}
