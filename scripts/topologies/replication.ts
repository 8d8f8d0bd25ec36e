// A Postgres 15 primary and a hot standby (initdb, pg_basebackup), streaming synchronously, on
// ports and data directories of their own, behind HAProxy; and the manual failover an operator
// runs: the primary dies (pg_ctl stop -m immediate), the standby is promoted, the proxy repointed.
//
//   npx tsx scripts/topologies/replication.ts   # starts it and waits for Ctrl-C
import { appendFileSync } from 'node:fs'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { startHAProxy, type HAProxy } from './haproxy.js'
import {
  PG_BIN,
  PORTS,
  missingTool,
  removeDirectory,
  requireFreePorts,
  run,
  startServer,
  tempDirectory,
  waitUntil,
  type Server,
} from './common.js'

export interface Replication {
  /** The application's URL: through HAProxy. */
  readonly url: string
  /** Direct URLs, for checks around the proxy. */
  readonly primaryUrl: string
  readonly standbyUrl: string
  readonly proxy: HAProxy
  /**
   * Kills the primary (`pg_ctl stop -m immediate`), promotes the standby, and repoints the
   * proxy, `detectionMs` after the kill (the time a failover manager takes to notice; Patroni's
   * was about 10 s with ttl 10). Resolves to the times of each step, in ms since the epoch.
   */
  failover(detectionMs?: number): Promise<{ killedAt: number; promotedAt: number; repointedAt: number }>
  stop(): Promise<void>
}

export const replicationMissing = () =>
  missingTool(`${PG_BIN}/initdb`, `${PG_BIN}/pg_basebackup`, `${PG_BIN}/pg_ctl`, 'haproxy')

const asPostgres = { as: 'postgres', timeoutMs: 120_000 }

function isReady(port: number): boolean {
  try {
    run(`${PG_BIN}/pg_isready`, ['-q', '-h', '127.0.0.1', '-p', String(port)], { timeoutMs: 5000 })
    return true
  } catch {
    return false
  }
}

function psql(port: number, query: string): string {
  return run(
    `${PG_BIN}/psql`,
    ['-h', '127.0.0.1', '-p', String(port), '-U', 'postgres', '-d', 'postgres', '-Atc', query],
    { timeoutMs: 10_000 },
  ).trim()
}

/** Starts the primary, the standby and HAProxy; resolves once the standby streams synchronously. */
export async function startReplication(options: { synchronous?: boolean } = {}): Promise<Replication> {
  const synchronous = options.synchronous ?? true
  const { primary: primaryPort, standby: standbyPort, failoverProxy } = PORTS
  await requireFreePorts(primaryPort, standbyPort, failoverProxy)
  const base = tempDirectory('replication', 'postgres')
  const primaryDir = join(base, 'primary')
  const standbyDir = join(base, 'standby')
  const servers: Server[] = []
  let proxy: HAProxy | undefined
  const teardown = async () => {
    await proxy?.stop()
    for (const server of servers) await server.stop(5000)
    removeDirectory(base)
  }
  try {
    run(
      `${PG_BIN}/initdb`,
      ['-D', primaryDir, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--no-instructions'],
      asPostgres,
    )
    appendFileSync(
      join(primaryDir, 'postgresql.conf'),
      [
        `port = ${primaryPort}`,
        "listen_addresses = '127.0.0.1'",
        `unix_socket_directories = '${base}'`,
        'wal_level = replica',
        'max_wal_senders = 5',
        'hot_standby = on',
        'shared_buffers = 32MB',
        'max_connections = 60',
        // An acknowledged commit is on the standby too, so a failover loses none of them.
        `synchronous_standby_names = '${synchronous ? 'standby1' : ''}'`,
        '',
      ].join('\n'),
    )
    appendFileSync(join(primaryDir, 'pg_hba.conf'), 'host replication all 127.0.0.1/32 trust\n')
    const primary = startServer(`${PG_BIN}/postgres`, ['-D', primaryDir], { as: 'postgres', cwd: base })
    servers.push(primary)
    await waitUntil(() => isReady(primaryPort), 30_000, 'the primary did not accept connections')

    run(
      `${PG_BIN}/pg_basebackup`,
      [
        '-h',
        '127.0.0.1',
        '-p',
        String(primaryPort),
        '-U',
        'postgres',
        '-D',
        standbyDir,
        '-R',
        '-X',
        'stream',
      ],
      asPostgres,
    )
    // postgresql.auto.conf is read last: the standby's own port, its name for synchronous
    // replication, and no synchronous standby of its own once promoted (else every commit
    // would wait forever for a standby that does not exist).
    appendFileSync(
      join(standbyDir, 'postgresql.auto.conf'),
      [
        `port = ${standbyPort}`,
        `primary_conninfo = 'host=127.0.0.1 port=${primaryPort} user=postgres application_name=standby1'`,
        "synchronous_standby_names = ''",
        '',
      ].join('\n'),
    )
    const standby = startServer(`${PG_BIN}/postgres`, ['-D', standbyDir], { as: 'postgres', cwd: base })
    servers.push(standby)
    await waitUntil(() => isReady(standbyPort), 30_000, 'the standby did not accept connections')
    await waitUntil(
      () =>
        psql(
          primaryPort,
          "SELECT sync_state FROM pg_stat_replication WHERE application_name = 'standby1'",
        ) === (synchronous ? 'sync' : 'async'),
      30_000,
      'the standby did not stream from the primary',
    )
    proxy = await startHAProxy('pg', failoverProxy, [
      { name: 'primary', port: primaryPort },
      { name: 'standby', port: standbyPort, disabled: true },
    ])
  } catch (error) {
    await teardown()
    throw error
  }
  const url = (port: number) => `postgres://postgres@127.0.0.1:${port}/postgres`
  const haproxy = proxy
  return {
    url: url(failoverProxy),
    primaryUrl: url(primaryPort),
    standbyUrl: url(standbyPort),
    proxy: haproxy,
    async failover(detectionMs = 0) {
      run(`${PG_BIN}/pg_ctl`, ['stop', '-D', primaryDir, '-m', 'immediate', '-w', '-t', '30'], asPostgres)
      const killedAt = Date.now() // pg_ctl -w returns once the primary is gone
      await sleep(Math.max(0, killedAt + detectionMs - Date.now()))
      run(`${PG_BIN}/pg_ctl`, ['promote', '-D', standbyDir, '-w', '-t', '60'], asPostgres)
      const promotedAt = Date.now()
      await haproxy.disable('primary')
      await haproxy.enable('standby')
      return { killedAt, promotedAt, repointedAt: Date.now() }
    },
    stop: teardown,
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const replication = await startReplication()
  console.log(`primary and standby behind HAProxy: ${replication.url} (Ctrl-C stops them)`)
  process.once('SIGINT', () => void replication.stop().then(() => process.exit(0)))
}
