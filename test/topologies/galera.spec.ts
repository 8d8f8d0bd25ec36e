// A 3-node MariaDB Galera cluster on loopback (Debian's mariadbd and galera-4). The whole
// conformance suite through HAProxy (round-robin over the nodes, so that a read often lands on
// another node than the write before it), with mysql()'s default settings. Then: migrate() on
// every node at once; a find or a delete on one node right after a commit resolved on another
// sees that commit (no stale read, no logout that does not take); and 8 workers through
// HAProxy while a node is killed with SIGKILL: 0 acknowledged commits lost.
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { mysql } from '../../dialects/mysql.js'
import { galeraMissing, startGalera, type Galera } from '../../scripts/topologies/galera.js'
import { galera } from '../../scripts/topologies/scenarios.js'
import { conformance } from '../conformance.js'
import { printFigures, whenAvailable } from './require.js'

whenAvailable('MariaDB Galera, 3 nodes', galeraMissing(), () => {
  let cluster: Galera
  beforeAll(async () => {
    cluster = await startGalera()
  })
  afterAll(() => cluster?.stop())

  describe('through HAProxy, round-robin over the nodes', () => {
    conformance({
      name: 'MariaDB Galera (3 nodes, HAProxy), mysql()',
      family: 'mysql',
      open: () => mysql(cluster.url),
      close: (db) => db.destroy(),
    })
  })

  // Last: it kills a node.
  test('migrate() on every node at once; causal reads right after commits on another node by default; a node killed under 8 workers loses nothing', async () => {
    const result = await galera({ seconds: 9, rounds: 200, cluster })
    printFigures('Galera', result)
    expect(result.concurrentMigrate).toEqual(['ok', 'ok', 'ok'])
    // wsrep_sync_wait: reads and updates/deletes wait by default; the opt-out and an explicit value win.
    expect(result.syncWaitSet).toEqual({ default: 3, causalReadsFalse: 0, sessionVariables1: 1 })
    expect(result.causalFinds).toBeGreaterThan(1000)
    expect(result.staleReadsRightAfterCommit).toBe(0)
    expect(result.lostLogouts).toBe(0)
    expect(result.operations).toBeGreaterThan(1000)
    expect(result.lostExamples).toEqual([])
    expect(result.lost).toBe(0)
    expect(result.staleReads).toBe(0)
    expect(result.nodesDiffer).toBe(0)
    expect(result.recovered).toBe(true)
    expect(result.clusterSizeAfter).toBe(2)
    expect(result.unhandledRejections).toBe(0)
    for (const code of Object.keys(result.rejectionsByCode)) expect(code).toMatch(/^(engine|timeout)(\/|$)/)
  })
})
