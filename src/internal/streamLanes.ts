/**
 * One lane per stream, so that requests for the same stream from one process never race
 * each other. The first request for an idle stream runs at once, in its own fiber, as a
 * batch of one. Requests arriving while that batch is in flight wait in the lane; when it
 * is done, one detached fiber takes everything that waited, in arrival order, as the next
 * batch (up to `maxBatch` at a time) and keeps going until the lane is empty, then removes
 * the lane. So a lone request pays nothing for the queue, and a burst on one stream costs
 * one batch per round trip instead of one conflict per request.
 *
 * The detached fiber's batches run uninterruptibly: the requests of several callers ride
 * in them, and an append in flight cannot be taken back. A caller interrupted while its
 * request is still waiting withdraws the request; once its batch has started, the request
 * runs to the end.
 */
import { Deferred, Effect, Exit } from "effect"

/**
 * Runs a batch of requests for one stream: one outcome per request, in the same order.
 * `R`: the services it needs besides the store (a batch run by the detached fiber gets
 * those of the caller whose request started the lane's drain).
 */
export type RunBatch<Store, Request, A, E, R> = (
  store: Store,
  streamId: string,
  requests: ReadonlyArray<Request>
) => Effect.Effect<ReadonlyArray<Exit.Exit<A, E>>, never, R>

interface Waiting<Request, A, E> {
  readonly request: Request
  readonly deferred: Deferred.Deferred<A, E>
}

/** The requests waiting for a stream while a batch of it is in flight. */
interface Lane<Request, A, E> {
  readonly waiting: Array<Waiting<Request, A, E>>
}

const missingOutcome = Exit.die(new Error("es-kernel: a command batch returned no outcome for one of its commands (a bug)"))

/**
 * Lanes for every stream of every store, keyed by the store object (a handler used with
 * two stores keeps their lanes apart).
 */
export const make = <Store extends object, Request, A, E, R>(options: {
  readonly maxBatch: number
  readonly run: RunBatch<Store, Request, A, E, R>
}) => {
  const byStore = new WeakMap<Store, Map<string, Lane<Request, A, E>>>()
  // Almost every call is for the store of the call before: that one is found without the
  // WeakMap lookup. Held weakly, so a closed store can still be collected.
  let last: { readonly store: WeakRef<Store>; readonly map: WeakRef<Map<string, Lane<Request, A, E>>> } | undefined
  const lanesOf = (store: Store) => {
    const lastMap = last?.store.deref() === store ? last.map.deref() : undefined
    if (lastMap !== undefined) return lastMap
    let map = byStore.get(store)
    if (map === undefined) {
      map = new Map<string, Lane<Request, A, E>>()
      byStore.set(store, map)
    }
    last = { store: new WeakRef(store), map: new WeakRef(map) }
    return map
  }

  // A defect in a batch (a decider that throws) is every request's outcome, not a hang.
  const runSafely = (store: Store, streamId: string, requests: ReadonlyArray<Request>) =>
    Effect.catchCause(options.run(store, streamId, requests), (cause) => Effect.succeed(requests.map(() => Exit.failCause(cause))))

  const drain = (store: Store, streamId: string, lanes: Map<string, Lane<Request, A, E>>, lane: Lane<Request, A, E>): Effect.Effect<void, never, R> =>
    Effect.suspend(() => {
      if (lane.waiting.length === 0) {
        lanes.delete(streamId)
        return Effect.void
      }
      const batch = lane.waiting.splice(0, options.maxBatch)
      return runSafely(store, streamId, batch.map((waiting) => waiting.request)).pipe(
        Effect.flatMap((outcomes) => {
          for (const [index, waiting] of batch.entries()) Deferred.doneUnsafe(waiting.deferred, outcomes[index] ?? missingOutcome)
          return drain(store, streamId, lanes, lane)
        })
      )
    })

  const wait = (lane: Lane<Request, A, E>, request: Request): Effect.Effect<A, E> => {
    const waiting: Waiting<Request, A, E> = { request, deferred: Deferred.makeUnsafe<A, E>() }
    lane.waiting.push(waiting)
    return Effect.onInterrupt(Deferred.await(waiting.deferred), () =>
      Effect.sync(() => {
        const index = lane.waiting.indexOf(waiting)
        if (index !== -1) lane.waiting.splice(index, 1)
      }))
  }

  /**
   * Hands the lane to a detached fiber when requests queued behind the batch that just
   * ended, or removes it.
   */
  const release = (store: Store, streamId: string, lanes: Map<string, Lane<Request, A, E>>, lane: Lane<Request, A, E>): Effect.Effect<void, never, R> => {
    if (lane.waiting.length === 0) {
      lanes.delete(streamId)
      return Effect.void
    }
    return Effect.asVoid(Effect.forkDetach(drain(store, streamId, lanes, lane), { uninterruptible: true }))
  }

  /**
   * Runs `request` in its stream's lane and returns its own outcome. A request that finds
   * its stream idle runs alone in the caller's fiber, as an ordinary interruptible effect
   * whose failures and defects are its own.
   */
  const submit = (store: Store, streamId: string, request: Request): Effect.Effect<A, E, R> => {
    const lanes = lanesOf(store)
    const busy = lanes.get(streamId)
    if (busy !== undefined) return wait(busy, request)
    const lane: Lane<Request, A, E> = { waiting: [] }
    lanes.set(streamId, lane)
    return options.run(store, streamId, [request]).pipe(
      Effect.flatMap((outcomes) => outcomes[0] ?? missingOutcome),
      Effect.onExit(() => release(store, streamId, lanes, lane))
    )
  }

  return { submit }
}
