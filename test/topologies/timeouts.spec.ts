// Nothing the store does waits forever. Against a socket that accepts and never answers, every
// store call and migrate() through postgres() and mysql() rejects after the connection timeout
// with a SessionStoreError whose cause is a ConnectionTimeoutError. Against a proxy that
// freezes connections already open, the store's `timeout` ends each call.
import { describe, expect, test } from 'vitest'
import { ConnectionTimeoutError } from '../../dialects/postgres.js'
import { resolveOptions } from '../../src/store/options.js'
import { frozen, silent, type TimedCall } from '../../scripts/topologies/scenarios.js'
import { withServer } from '../servers.js'
import { printFigures } from './require.js'

/** The cap past which a call counts as hung; far above the 1 s bounds under test. */
const CAP_MS = 15_000

function expectBounded(calls: TimedCall[]): void {
  for (const call of calls) {
    expect(call.ms, `${call.operation} did not settle within ${CAP_MS} ms`).not.toBeNull()
    expect(call.outcome).toMatch(/^SessionStoreError/)
  }
}

describe('a socket that accepts and never answers', () => {
  test('without retries: every store call and migrate() rejects after connectionTimeout, caused by a ConnectionTimeoutError, postgres() and mysql()', async () => {
    const result = await silent({ capMs: CAP_MS, connectionTimeout: 1000, store: { retryBudget: 0 } })
    for (const factory of ['postgres', 'mysql'] as const) {
      printFigures(
        `silent socket, ${factory}(), connectionTimeout 1000 ms, retryBudget 0`,
        Object.fromEntries(
          result[factory].map((call) => [call.operation, call.ms === null ? 'hung' : `${call.ms}ms`]),
        ),
      )
      expectBounded(result[factory])
      for (const call of result[factory]) {
        expect(call.outcome).toContain(`[cause: ${ConnectionTimeoutError.name}]`)
        expect(call.outcome).toContain('no connection within 1000 ms (the connectionTimeout option)')
      }
    }
  })

  test("with the store's retries: every store call rejects by its timeout, and migrate() by its own", async () => {
    const result = await silent({
      capMs: CAP_MS,
      connectionTimeout: 1000,
      store: { timeout: 2500 },
      migrate: { timeout: 2500 },
    })
    for (const factory of ['postgres', 'mysql'] as const) {
      printFigures(
        `silent socket, ${factory}(), connectionTimeout 1000 ms, timeout 2500 ms`,
        Object.fromEntries(
          result[factory].map((call) => [call.operation, call.ms === null ? 'hung' : `${call.ms}ms`]),
        ),
      )
      expectBounded(result[factory])
      for (const call of result[factory]) {
        expect(call.outcome).toMatch(
          /^SessionStoreError \(timeout\): .* no answer within 2500 ms \(the timeout option\)|ConnectionTimeoutError\]$/,
        )
      }
    }
  })
})

// The store's per-call time limit belongs to the core (KyselyStoreOptions.timeout).
const coreTimeout = 'timeout' in resolveOptions({ timeout: 1000 })
await withServer('Postgres', () => {
  describe.skipIf(!coreTimeout)(
    coreTimeout
      ? 'a proxy that freezes open connections'
      : 'a proxy that freezes open connections (skipped: the core has no timeout option yet)',
    () => {
      test("every store call and migrate() rejects with the store's timeout", async () => {
        const result = await frozen({ capMs: CAP_MS, timeout: 1000 })
        printFigures(
          'frozen proxy, postgres(), timeout 1000 ms',
          Object.fromEntries(
            result.postgres.map((call) => [call.operation, call.ms === null ? 'hung' : `${call.ms}ms`]),
          ),
        )
        expectBounded(result.postgres)
        for (const call of result.postgres) expect(call.outcome).toMatch(/^SessionStoreError \(timeout\)/)
      })
    },
  )
})
