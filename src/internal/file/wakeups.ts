/**
 * The subscriptions waiting for the log to grow, as the writer and a read-only store's
 * follower both keep them.
 *
 * @internal
 */
export class Wakeups {
  private readonly waiters = new Set<() => void>()

  /** Calls `wake` now when `already`, else at the next `wakeAll`; returns how to cancel. */
  add(already: boolean, wake: () => void): (() => void) | undefined {
    if (already) {
      wake()
      return undefined
    }
    this.waiters.add(wake)
    return () => this.waiters.delete(wake)
  }

  /** Wakes every waiter once. */
  wakeAll(): void {
    const waiters = [...this.waiters]
    this.waiters.clear()
    for (const wake of waiters) wake()
  }
}
