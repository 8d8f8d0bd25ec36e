/** A promise being watched: rejected by the watchdog once `deadline` (performance.now()) passes. */
interface Watched {
  readonly deadline: number
  expire(): void
}

/**
 * Rejects promises that outlast their deadline, with one unref'd timer for all of them
 * instead of one timer per call: a store call costs a Set insertion, not a setTimeout. The
 * timer runs only while something is watched. A promise is rejected between its deadline and
 * one tick (a tenth of the time limit, at most 1 s) later.
 */
export class Watchdog {
  readonly #watched = new Set<Watched>()
  readonly #tick: number
  #timer: NodeJS.Timeout | undefined

  constructor(limit: number) {
    this.#tick = Math.min(1000, Math.max(5, Math.floor(limit / 10)))
  }

  /**
   * Calls `expire` once `deadline` (a `performance.now()` time) has passed, unless
   * {@link Watchdog.remove} was called with the returned entry first.
   */
  add(deadline: number, expire: () => void): Watched {
    const entry: Watched = { deadline, expire }
    this.#watched.add(entry)
    this.#timer ??= setInterval(() => this.#check(), this.#tick).unref()
    return entry
  }

  /** Stops watching `entry`. */
  remove(entry: Watched): void {
    this.#watched.delete(entry)
  }

  /**
   * `promise`, or a rejection with `expired()` once `ms` have passed, whichever comes first;
   * `onExpire` runs when the deadline won. A late settlement of `promise` is ignored (and
   * never becomes an unhandled rejection).
   */
  watch<T>(promise: Promise<T>, ms: number, expired: () => Error, onExpire?: () => void): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const entry: Watched = {
        deadline: performance.now() + ms,
        expire: () => {
          onExpire?.()
          reject(expired())
        },
      }
      this.#watched.add(entry)
      this.#timer ??= setInterval(() => this.#check(), this.#tick).unref()
      promise.then(
        (value) => {
          this.#watched.delete(entry)
          resolve(value)
        },
        (error: unknown) => {
          this.#watched.delete(entry)
          reject(error)
        },
      )
    })
  }

  #check(): void {
    const now = performance.now()
    for (const entry of this.#watched) {
      if (entry.deadline > now) continue
      this.#watched.delete(entry)
      entry.expire()
    }
    if (this.#watched.size === 0) {
      clearInterval(this.#timer)
      this.#timer = undefined
    }
  }
}
