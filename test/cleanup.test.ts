// The scheduler alone, without a database: fake timers are safe here since no engine runs.
import { afterEach, describe, expect, test, vi } from 'vitest'
import { CleanupScheduler } from '../src/store/cleanup.js'

afterEach(() => {
  vi.useRealTimers()
})

describe('CleanupScheduler', () => {
  test.each([
    [0, 900],
    [0.5, 1000],
    [0.999, 1100],
  ])(
    'each wait is the interval jittered by up to 10 percent: random %s waits %s ms',
    async (random, wait) => {
      vi.useFakeTimers()
      let runs = 0
      const scheduler = new CleanupScheduler(
        async () => {
          runs++
        },
        1000,
        () => undefined,
        () => random,
      )
      await vi.advanceTimersByTimeAsync(wait - 1)
      expect(runs).toBe(0)
      await vi.advanceTimersByTimeAsync(1)
      expect(runs).toBe(1)
      await vi.advanceTimersByTimeAsync(wait)
      expect(runs).toBe(2) // and the next wait is jittered again
      await scheduler.stop()
    },
  )

  test('the jittered wait never exceeds what setTimeout can wait', async () => {
    vi.useFakeTimers()
    let runs = 0
    const scheduler = new CleanupScheduler(
      async () => {
        runs++
      },
      2 ** 31 - 1,
      () => undefined,
      () => 0.999,
    )
    await vi.advanceTimersByTimeAsync(1000) // an overflowing delay would have fired after 1 ms
    expect(runs).toBe(0)
    await scheduler.stop()
  })
})
