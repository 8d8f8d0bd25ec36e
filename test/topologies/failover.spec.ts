// A manual failover under load: a Postgres 15 primary with a synchronous hot standby (made with
// initdb and pg_basebackup, on ports of their own) behind HAProxy; the primary is killed with
// `pg_ctl stop -m immediate` while 8 workers run, the standby promoted, the proxy repointed.
// No acknowledged commit may be lost, the same store must work afterwards, and every rejection
// is a SessionStoreError; the rejections and the failover time are printed.
import { expect, test } from 'vitest'
import { replicationMissing } from '../../scripts/topologies/replication.js'
import { failover } from '../../scripts/topologies/scenarios.js'
import { printFigures, whenAvailable } from './require.js'

whenAvailable('Postgres primary and standby behind HAProxy', replicationMissing(), () => {
  test.each([
    ['promoted at once', 0],
    ['promoted 3 s after the kill (a failover manager noticing)', 3000],
  ])(
    'primary killed under 8 workers, standby %s: 0 acknowledged commits lost, the store recovers',
    async (label, detectionMs) => {
      const result = await failover({ seconds: 9, detectionMs })
      printFigures(`failover, ${label}`, result)
      expect(result.operations).toBeGreaterThan(1000)
      expect(result.lostExamples).toEqual([])
      expect(result.lost).toBe(0)
      expect(result.staleReads).toBe(0)
      expect(result.recovered).toBe(true)
      expect(result.failoverMs).not.toBeNull()
      expect(result.unhandledRejections).toBe(0)
      // Whatever was rejected was rejected as the store's own error, with a cause.
      for (const code of Object.keys(result.rejectionsByCode)) expect(code).toMatch(/^(engine|timeout)(\/|$)/)
    },
  )
})
