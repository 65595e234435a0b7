/**
 * How a caught-up subscriber learns that there may be more to read.
 *
 * A generation counter goes up whenever something may have been committed: at once after
 * a local group commit, and on a notification from another process. A subscriber notes
 * the generation before it reads, and waits only while it is unchanged, so a commit that
 * lands between its read and its wait is never slept through.
 *
 * Other processes are told through `pg_notify`, sent on its own, outside any append
 * transaction (a NOTIFY inside one takes a cluster-wide lock held through commit, which
 * serialises every commit in the cluster), and debounced: at most one per `debounce`.
 * A notification is itself a small commit, so it is only sent while some other store
 * instance listens on the channel (counted at most once a second).
 * Polling every `poll` is the backstop for everything else (a lost notification, a
 * writer that rolled back while it held the horizon down).
 *
 * @internal
 */
import { Deferred, Duration, Effect } from "effect"

/**
 * The generation counter and its waiters.
 *
 * @internal
 */
export class Wakeup {
  private generation = 0
  private waiting: Deferred.Deferred<void> | undefined
  private notifyScheduled = false
  // Store instances listening on the channel, this one included, and when that was counted.
  private listeners = 2
  private countedAt = Number.NEGATIVE_INFINITY

  constructor(
    private readonly poll: Duration.Duration,
    private readonly debounce: Duration.Duration,
    // Tells other processes; its failure is ignored (they poll).
    private readonly notifyOthers: Effect.Effect<void>,
    // How many store instances listen on the channel; on failure, assume others do.
    private readonly countListeners: Effect.Effect<number>,
    // Runs the debounced notifier in the background of the layer's scope.
    private readonly runInBackground: (effect: Effect.Effect<void>) => void
  ) {}

  /** The current generation, to note before a read. */
  get current(): number {
    return this.generation
  }

  /** Something may have been committed by another process. */
  readonly bump = (): void => {
    this.generation++
    const waiting = this.waiting
    if (waiting === undefined) return
    this.waiting = undefined
    Deferred.doneUnsafe(waiting, Effect.void)
  }

  /** This process committed: wake local subscribers now, and others soon. */
  readonly committed = (): void => {
    this.bump()
    if (this.notifyScheduled) return
    this.notifyScheduled = true
    this.runInBackground(
      Effect.sleep(this.debounce).pipe(
        Effect.andThen(Effect.sync(() => {
          this.notifyScheduled = false
        })),
        Effect.andThen(this.othersListen),
        Effect.flatMap((others) => (others ? this.notifyOthers : Effect.void))
      )
    )
  }

  private get othersListen(): Effect.Effect<boolean> {
    return Effect.suspend(() => {
      const now = Date.now()
      if (now - this.countedAt < 1000) return Effect.succeed(this.listeners > 1)
      this.countedAt = now
      return Effect.map(this.countListeners, (count) => {
        this.listeners = count
        return count > 1
      })
    })
  }

  /** Completes once the generation differs from `seen`, or after the poll interval. */
  awaitChange(seen: number): Effect.Effect<void> {
    return Effect.suspend(() => {
      if (this.generation !== seen) return Effect.void
      this.waiting ??= Deferred.makeUnsafe()
      return Deferred.await(this.waiting).pipe(Effect.timeoutOption(this.poll), Effect.asVoid)
    })
  }
}
