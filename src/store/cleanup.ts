/** Each wait is the interval times a factor in [1 - JITTER, 1 + JITTER). */
export const JITTER = 0.1

/**
 * Runs a task every `interval` ms, one run at a time: the next run is scheduled only after
 * the previous one settled, so runs never overlap. Each wait is jittered by up to ±10%, so
 * that app instances started together do not all clean at the same moment. The timer is
 * unref'd (it never keeps the process alive); a failed run goes to `onError` and the
 * schedule goes on.
 */
export class CleanupScheduler {
  readonly #task: (signal: AbortSignal) => Promise<unknown>
  readonly #interval: number
  readonly #onError: (error: unknown) => void
  readonly #random: () => number
  readonly #stop = new AbortController()
  #timer: NodeJS.Timeout | undefined
  #running: Promise<void> | undefined

  constructor(
    task: (signal: AbortSignal) => Promise<unknown>,
    interval: number,
    onError: (error: unknown) => void,
    random: () => number = Math.random,
  ) {
    this.#task = task
    this.#interval = interval
    this.#onError = onError
    this.#random = random
    if (interval > 0) this.#schedule()
  }

  /** Stops the timer; resolves once a run in progress has finished. Idempotent. */
  async stop(): Promise<void> {
    this.#stop.abort()
    clearTimeout(this.#timer)
    this.#timer = undefined
    await this.#running
  }

  #schedule(): void {
    if (this.#stop.signal.aborted) return
    const delay = Math.min(
      Math.round(this.#interval * (1 - JITTER + 2 * JITTER * this.#random())),
      2 ** 31 - 1,
    )
    this.#timer = setTimeout(() => this.#run(), delay)
    ;(this.#timer as { unref?: () => void }).unref?.() // a number on workerd with an old compatibility date
  }

  #run(): void {
    this.#timer = undefined
    this.#running = this.#task(this.#stop.signal)
      .then(
        () => undefined,
        (error: unknown) => this.#report(error),
      )
      .finally(() => {
        this.#running = undefined
        this.#schedule()
      })
  }

  #report(error: unknown): void {
    try {
      const result: unknown = this.#onError(error)
      // An async onError that rejects must not become an unhandled rejection either.
      if (result instanceof Promise) result.catch(() => undefined)
    } catch {
      // onError itself failed: nothing more can be reported without risking a crash.
    }
  }
}
