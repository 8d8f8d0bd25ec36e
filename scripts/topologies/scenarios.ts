// The topology scenarios: each starts its servers, runs a mixed load (and a fault), tears
// everything down, and returns its figures. test/topologies/ asserts on them; run.ts prints them.
import { randomBytes } from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'
import { postgres } from '../../dialects/postgres.js'
import { postgresFamily, statementName } from '../../src/families/postgres.js'
import { KyselyStore, migrate } from '../../src/index.js'
import { Load, readTable, type LoadFigures } from './load.js'
import { startPgBouncer, type PoolMode } from './pgbouncer.js'
import { startReplication } from './replication.js'
import { startFreezingProxy, startSilentServer } from './silent.js'
import { startGalera, type Galera } from './galera.js'
import { mysql } from '../../dialects/mysql.js'
import { PORTS, LOCAL_POSTGRES } from './common.js'
import { sql, type Kysely } from 'kysely'

export interface ScenarioOptions {
  seconds: number
  mode?: PoolMode
  /** Failover: how long after the kill the standby is promoted and the proxy repointed. */
  detectionMs?: number
}

export interface ScenarioResult extends Omit<LoadFigures, 'firstRejections'> {
  topology: string
  lost: number
  lostExamples: string[]
  rejectedPerSecond: number
  firstRejections: string[]
  [extra: string]: unknown
}

export const topologyTable = () => `topo_${randomBytes(5).toString('hex')}`

function summarise(topology: string, figures: LoadFigures, lost: { lost: number; examples: string[] }) {
  return {
    topology,
    ...figures,
    lost: lost.lost,
    lostExamples: lost.examples,
    rejectedPerSecond: Math.round((figures.rejected / Math.max(figures.elapsedMs, 1)) * 10_000) / 10,
    firstRejections: figures.firstRejections.map((r) => `${r.operation}: ${r.message}`),
  }
}

/** 8 workers of mixed load through PgBouncer (pool size 2) with postgres(). */
export async function pgbouncerLoad(options: ScenarioOptions): Promise<ScenarioResult> {
  const mode = options.mode ?? 'transaction'
  const bouncer = await startPgBouncer(mode, {
    poolSize: mode === 'transaction' ? 2 : 10,
    port: mode === 'transaction' ? PORTS.pgbouncerLoadTransaction : PORTS.pgbouncerLoadSession,
  })
  const db = postgres(bouncer.url, { poolSize: 8 })
  const table = topologyTable()
  try {
    await migrate(db, { tableName: table })
    const store = new KyselyStore(db, 0, { tableName: table })
    const load = new Load({ workers: 8, writer: () => store, reader: () => store })
    const figures = await load.runFor(options.seconds * 1000)
    return {
      ...summarise(`PgBouncer 1.18, ${mode} mode`, figures, load.lostWrites(await readTable(db, table))),
      // Whether the store's statements had names to send (a process names its first 400 texts).
      named:
        statementName(postgresFamily.statements({ schema: undefined, name: table }).find.sql) !== undefined,
    }
  } finally {
    await db.schema
      .dropTable(table)
      .ifExists()
      .execute()
      .catch(() => undefined)
    await db.destroy()
    await bouncer.stop()
  }
}

/**
 * 8 workers through HAProxy to a primary with a synchronous hot standby; the primary is killed
 * (`pg_ctl stop -m immediate`), the standby promoted and the proxy repointed, under load.
 */
export async function failover(options: ScenarioOptions): Promise<ScenarioResult> {
  const replication = await startReplication()
  const db = postgres(replication.url, { poolSize: 8, connectionTimeout: 5000 })
  const table = topologyTable()
  const unhandled: unknown[] = []
  const onUnhandled = (reason: unknown) => unhandled.push(reason)
  process.on('unhandledRejection', onUnhandled)
  try {
    await migrate(db, { tableName: table })
    const store = new KyselyStore(db, 0, { tableName: table })
    const load = new Load({ workers: 8, writer: () => store, reader: () => store })
    load.start()
    await sleep((options.seconds * 1000) / 3)
    const steps = await replication.failover(options.detectionMs ?? 0)
    await sleep((options.seconds * 2000) / 3)
    const figures = await load.stop()
    // The same store, not rebuilt, works on the new primary.
    let recovered = false
    try {
      await store.commit('after-failover', new TextEncoder().encode('ok'), new Date(Date.now() + 60_000))
      recovered = new TextDecoder().decode(await store.find('after-failover')) === 'ok'
    } catch {
      recovered = false
    }
    const direct = postgres(replication.standbyUrl)
    let stored: Map<string, string>
    try {
      stored = await readTable(direct, table)
    } finally {
      await direct.destroy()
    }
    const firstSuccess = load.firstSuccessAfter(steps.killedAt)
    return {
      ...summarise(
        `Postgres primary + sync standby, HAProxy, failover ${options.detectionMs ?? 0} ms after the kill`,
        figures,
        load.lostWrites(stored),
      ),
      recovered,
      failoverMs: firstSuccess === undefined ? null : firstSuccess - steps.killedAt,
      promoteMs: steps.promotedAt - steps.killedAt,
      repointMs: steps.repointedAt - steps.killedAt,
      rejectedAfterKill: load.rejectionsBetween(steps.killedAt),
      unhandledRejections: unhandled.length,
    }
  } finally {
    process.off('unhandledRejection', onUnhandled)
    await db.destroy().catch(() => undefined)
    await replication.stop()
  }
}

/** How one call against a server that never answers ended. */
export interface TimedCall {
  operation: string
  /** Milliseconds until it settled, or null if it had not settled by the cap. */
  ms: number | null
  outcome: string
}

/** Every store call and migrate() at once, each capped at `capMs`; never waits longer than that. */
async function timeCalls(
  db: Kysely<any>,
  table: string,
  capMs: number,
  storeOptions: object,
  migrateOptions: object = {},
): Promise<TimedCall[]> {
  const store = new KyselyStore(db, 0, { tableName: table, ...storeOptions })
  const token = 'silent-token'
  const calls: [string, () => Promise<unknown>][] = [
    ['migrate', () => migrate(db, { tableName: table, ...migrateOptions })],
    ['find', () => store.find(token)],
    ['commit', () => store.commit(token, new Uint8Array([1]), new Date(Date.now() + 60_000))],
    ['touch', () => store.touch(token, new Date(Date.now() + 60_000))],
    ['delete', () => store.delete(token)],
    ['all', () => store.all()],
    ['cleanup', () => store.cleanup()],
  ]
  return Promise.all(
    calls.map(async ([operation, call]) => {
      const started = Date.now()
      let timer: NodeJS.Timeout | undefined
      const cap = new Promise<'hung'>((resolve) => {
        timer = setTimeout(() => resolve('hung'), capMs)
      })
      const settled = call().then(
        () => 'resolved',
        (error: Error & { code?: unknown; cause?: unknown }) =>
          `${error.name} (${String(error.code)}): ${error.message}` +
          (error.cause instanceof Error ? ` [cause: ${error.cause.name}]` : ''),
      )
      const outcome = await Promise.race([settled, cap])
      clearTimeout(timer)
      return { operation, ms: outcome === 'hung' ? null : Date.now() - started, outcome }
    }),
  )
}

/**
 * A socket that accepts and never answers, reached with postgres() and mysql() with a
 * `connectionTimeout`: every store call and migrate() must reject, with the store's and
 * migrate()'s options as given (the store retries a connection that timed out within its
 * `retryBudget`, and its `timeout` bounds the whole call).
 */
export async function silent(
  options: { capMs?: number; connectionTimeout?: number; store?: object; migrate?: object } = {},
) {
  const capMs = options.capMs ?? 15_000
  const connectionTimeout = options.connectionTimeout ?? 1000
  const silentServer = await startSilentServer(PORTS.silent)
  try {
    const pgDb = postgres(`postgres://postgres@127.0.0.1:${PORTS.silent}/test`, { connectionTimeout })
    const myDb = mysql(`mysql://root@127.0.0.1:${PORTS.silent}/test`, { connectionTimeout })
    const [pg, my] = await Promise.all([
      timeCalls(pgDb, topologyTable(), capMs, options.store ?? {}, options.migrate ?? {}),
      timeCalls(myDb, topologyTable(), capMs, options.store ?? {}, options.migrate ?? {}),
    ])
    void pgDb.destroy().catch(() => undefined)
    void myDb.destroy().catch(() => undefined)
    return {
      topology: 'a socket that accepts and never answers',
      connectionTimeout,
      capMs,
      postgres: pg,
      mysql: my,
    }
  } finally {
    await silentServer.stop()
  }
}

/**
 * A proxy to the machine's Postgres that freezes once the pool's connections are open (a hung
 * server, a partition): only a per-call time limit, the store's `timeout`, can end the calls.
 */
export async function frozen(options: { capMs?: number; timeout?: number } = {}) {
  const capMs = options.capMs ?? 15_000
  const timeout = options.timeout ?? 1000
  const proxy = await startFreezingProxy(PORTS.freezer, LOCAL_POSTGRES.port)
  const table = topologyTable()
  const frozenDb = postgres(`postgres://postgres@127.0.0.1:${PORTS.freezer}/test`, {
    connectionTimeout: timeout,
  })
  const admin = postgres(`postgres://postgres@127.0.0.1:${LOCAL_POSTGRES.port}/test`)
  try {
    await migrate(frozenDb, { tableName: table })
    const warm = new KyselyStore(frozenDb, 0, { tableName: table })
    await Promise.all(Array.from({ length: 8 }, (_, i) => warm.find(`warm-${i}`))) // connections open
    proxy.freeze()
    const calls = await timeCalls(frozenDb, table, capMs, { timeout }, { timeout })
    return { topology: 'a proxy that freezes open connections', timeout, capMs, postgres: calls }
  } finally {
    await proxy.stop()
    void frozenDb.destroy().catch(() => undefined)
    await admin.schema.dropTable(table).ifExists().execute()
    await admin.destroy()
  }
}

/**
 * Commit on one node, then at once on another: find (a stale read if it does not see the
 * commit) and, for other tokens, delete (a lost logout if the row is still there once the
 * cluster has settled). 8 workers at once, `rounds` each, mysql() with its default settings.
 */
async function causalRounds(stores: KyselyStore[], rounds: number) {
  let stale = 0
  let finds = 0
  const deleted: string[] = []
  const prefix = `causal${randomBytes(3).toString('hex')}`
  await Promise.all(
    Array.from({ length: 8 }, async (_, w) => {
      for (let k = 0; k < rounds; k++) {
        const a = stores[(w + k) % stores.length]!
        const b = stores[(w + k + 1) % stores.length]!
        const token = `${prefix}-${w}-${k}`
        const value = new TextEncoder().encode(`value ${k}`)
        await a.commit(token, value, new Date(Date.now() + 3600_000))
        if (k % 4 === 3) {
          await b.delete(token)
          deleted.push(token)
        } else {
          finds++
          const read = await b.find(token)
          if (read === undefined || Buffer.compare(Buffer.from(read), Buffer.from(value)) !== 0) stale++
        }
      }
    }),
  )
  return { finds, stale, deleted }
}

/**
 * A 3-node Galera cluster: causal reads right after commits across nodes, then 8 workers
 * through HAProxy while one node is killed with SIGKILL.
 */
export async function galera(options: ScenarioOptions & { rounds?: number; cluster?: Galera }) {
  const cluster = options.cluster ?? (await startGalera())
  const table = topologyTable()
  const direct = cluster.nodes.map((node) => mysql(node.url, { poolSize: 8 }))
  const proxied = mysql(cluster.url, { poolSize: 8, connectionTimeout: 5000 })
  const unhandled: unknown[] = []
  const onUnhandled = (reason: unknown) => unhandled.push(reason)
  process.on('unhandledRejection', onUnhandled)
  try {
    // migrate() on every node at once: GET_LOCK holds on one node only.
    const concurrentMigrate = await Promise.all(
      direct.map((db) =>
        migrate(db, { tableName: table }).then(
          () => 'ok',
          (error: unknown) => String(error),
        ),
      ),
    )
    // What mysql() set on a node's connections: by default, with causalReads: false, and
    // with wsrep_sync_wait given in sessionVariables.
    const syncWait = async (db: Kysely<any>) =>
      Number((await sql<{ w: unknown }>`SELECT @@session.wsrep_sync_wait AS w`.execute(db)).rows[0]?.w)
    const optOut = mysql(cluster.nodes[1]!.url, { causalReads: false })
    const explicit = mysql(cluster.nodes[1]!.url, { sessionVariables: { wsrep_sync_wait: 1 } })
    const syncWaitSet = {
      default: await syncWait(direct[1]!),
      causalReadsFalse: await syncWait(optOut),
      sessionVariables1: await syncWait(explicit),
    }
    await optOut.destroy()
    await explicit.destroy()
    const stores = direct.map((db) => new KyselyStore(db, 0, { tableName: table }))
    const causal = await causalRounds(stores, options.rounds ?? 250)
    const survivor = direct[0]!
    await waitForSettled(survivor, table)
    const rows = await readTable(survivor, table)
    const lostLogouts = causal.deleted.filter((token) => rows.has(token)).length

    const store = new KyselyStore(proxied, 0, { tableName: table })
    const load = new Load({ workers: 8, writer: () => store, reader: () => store })
    load.start()
    await sleep((options.seconds * 1000) / 3)
    const killedAt = Date.now()
    await cluster.kill(2)
    await sleep((options.seconds * 2000) / 3)
    const figures = await load.stop()
    let recovered = false
    try {
      await store.commit('after-kill', new TextEncoder().encode('ok'), new Date(Date.now() + 60_000))
      recovered = new TextDecoder().decode(await store.find('after-kill')) === 'ok'
    } catch {
      recovered = false
    }
    await waitForSettled(survivor, table)
    const stored = await readTable(survivor, table)
    const second = await readTable(direct[1]!, table)
    const firstSuccess = load.firstSuccessAfter(killedAt)
    return {
      ...summarise('MariaDB Galera, 3 nodes, HAProxy; node 3 killed', figures, load.lostWrites(stored)),
      concurrentMigrate,
      syncWaitSet,
      causalFinds: causal.finds,
      staleReadsRightAfterCommit: causal.stale,
      deletesRightAfterCommit: causal.deleted.length,
      lostLogouts,
      nodesDiffer: [...stored].filter(([token, value]) => second.get(token) !== value).length,
      recovered,
      failoverMs: firstSuccess === undefined ? null : firstSuccess - killedAt,
      rejectedAfterKill: load.rejectionsBetween(killedAt),
      clusterSizeAfter: await cluster.clusterSize(0),
      unhandledRejections: unhandled.length,
    }
  } finally {
    process.off('unhandledRejection', onUnhandled)
    await proxied.destroy().catch(() => undefined)
    for (const db of direct) await db.destroy().catch(() => undefined)
    if (options.cluster === undefined) await cluster.stop()
  }
}

/** Waits until `db`'s node has applied every write set it has received (a causal no-op read). */
async function waitForSettled(db: Kysely<any>, table: string): Promise<void> {
  await db.connection().execute(async (connection) => {
    await sql`SET SESSION wsrep_sync_wait = 15`.execute(connection)
    await sql`SELECT COUNT(*) FROM ${sql.table(table)}`.execute(connection)
  })
}

export const scenarios = {
  pgbouncer: pgbouncerLoad,
  failover,
  silent,
  frozen,
  galera,
}
export type ScenarioName = keyof typeof scenarios
