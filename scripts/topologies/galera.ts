// A 3-node MariaDB Galera cluster on loopback (Debian's mariadbd and galera-4), each node with
// its own data directory, SQL port, group port, IST and SST ports, next to the machine's
// MariaDB (3306), which is never touched. Node 1 bootstraps the cluster; nodes 2 and 3 join
// it by state transfer (rsync). HAProxy balances round-robin over the three, as in front of a
// real cluster.
//
//   npx tsx scripts/topologies/galera.ts   # starts it and waits for Ctrl-C
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import mysql2 from 'mysql2/promise'
import { startHAProxy, type HAProxy } from './haproxy.js'
import {
  PORTS,
  missingTool,
  removeDirectory,
  requireFreePorts,
  run,
  startServer,
  tempDirectory,
  waitUntil,
  writeOwned,
  type Server,
} from './common.js'

const MARIADBD = process.env.MARIADBD ?? '/usr/sbin/mariadbd'
const PROVIDER = process.env.GALERA_PROVIDER ?? '/usr/lib/galera/libgalera_smm.so'

export interface GaleraNode {
  readonly index: number
  readonly port: number
  readonly url: string
  server: Server
}

export interface Galera {
  readonly nodes: GaleraNode[]
  /** Through HAProxy, round-robin over the nodes. */
  readonly url: string
  readonly proxy: HAProxy
  /** SIGKILL on one node's mariadbd. */
  kill(index: number): Promise<void>
  /** How many nodes the cluster has, as `index` sees it. */
  clusterSize(index: number): Promise<number>
  stop(): Promise<void>
}

export const galeraMissing = () => missingTool(MARIADBD, PROVIDER, 'mariadb-install-db', 'rsync', 'haproxy')

async function status(port: number, variable: string): Promise<string | undefined> {
  const connection = await mysql2.createConnection({
    host: '127.0.0.1',
    port,
    user: 'root',
    connectTimeout: 2000,
  })
  try {
    const [rows] = await connection.query(`SHOW STATUS LIKE '${variable}'`)
    return (rows as { Value?: string }[])[0]?.Value
  } finally {
    await connection.end()
  }
}

/** The last lines of node `i`'s error log, where mariadbd and its state transfer write why they stopped. */
function errorLogTail(base: string, i: number): string {
  try {
    return readFileSync(join(base, `node${i + 1}.err`), 'utf8')
      .split('\n')
      .slice(-40)
      .join('\n')
  } catch (error) {
    return `(no error log: ${String(error)})`
  }
}

/** Starts the three nodes and HAProxy; resolves once all three are Synced in one cluster. */
export async function startGalera(): Promise<Galera> {
  const ports = [
    ...PORTS.galera,
    ...PORTS.galeraGroup,
    ...PORTS.galeraIst,
    ...PORTS.galeraSst,
    PORTS.galeraProxy,
  ]
  await requireFreePorts(...ports)
  const base = tempDirectory('galera', 'mysql')
  const addresses = PORTS.galeraGroup.map((port) => `127.0.0.1:${port}`).join(',')
  const nodes: GaleraNode[] = []
  let proxy: HAProxy | undefined
  const teardown = async () => {
    await proxy?.stop()
    await Promise.all(nodes.map((node) => node.server.stop(20_000)))
    removeDirectory(base)
  }
  const start = (i: number, bootstrap: boolean) => {
    const config = join(base, `node${i + 1}.cnf`)
    return startServer(
      MARIADBD,
      [`--defaults-file=${config}`, '--user=mysql', ...(bootstrap ? ['--wsrep-new-cluster'] : [])],
      {
        cwd: base,
      },
    )
  }
  try {
    for (let i = 0; i < 3; i++) {
      const dir = join(base, `node${i + 1}`)
      run(
        'mariadb-install-db',
        [
          '--no-defaults',
          `--datadir=${dir}`,
          '--user=mysql',
          '--auth-root-authentication-method=normal',
          '--skip-test-db',
        ],
        { timeoutMs: 120_000 },
      )
      writeOwned(
        join(base, `node${i + 1}.cnf`),
        [
          '[mariadbd]',
          `datadir = ${dir}`,
          `port = ${PORTS.galera[i]}`,
          'bind-address = 127.0.0.1',
          `socket = ${join(base, `node${i + 1}.sock`)}`,
          `pid-file = ${join(base, `node${i + 1}.pid`)}`,
          `log-error = ${join(base, `node${i + 1}.err`)}`,
          'binlog_format = ROW',
          'default_storage_engine = InnoDB',
          'innodb_autoinc_lock_mode = 2',
          'innodb_buffer_pool_size = 64M',
          'innodb_flush_log_at_trx_commit = 2',
          'performance_schema = OFF',
          'max_connections = 300',
          'wsrep_on = ON',
          `wsrep_provider = ${PROVIDER}`,
          'wsrep_cluster_name = kss_topologies',
          `wsrep_cluster_address = gcomm://${addresses}`,
          `wsrep_node_name = node${i + 1}`,
          `wsrep_node_address = 127.0.0.1:${PORTS.galeraGroup[i]}`,
          `wsrep_node_incoming_address = 127.0.0.1:${PORTS.galera[i]}`,
          `wsrep_provider_options = "base_port=${PORTS.galeraGroup[i]};gmcast.listen_addr=tcp://127.0.0.1:${PORTS.galeraGroup[i]};ist.recv_addr=127.0.0.1:${PORTS.galeraIst[i]};gcache.size=64M;evs.inactive_timeout=PT6S;evs.suspect_timeout=PT3S"`,
          'wsrep_sst_method = rsync',
          `wsrep_sst_receive_address = 127.0.0.1:${PORTS.galeraSst[i]}`,
          '',
        ].join('\n'),
        'mysql',
      )
    }
    for (let i = 0; i < 3; i++) {
      const port = PORTS.galera[i]!
      nodes.push({ index: i, port, url: `mysql://root@127.0.0.1:${port}/test`, server: start(i, i === 0) })
      const node = nodes[i]!
      await Promise.race([
        waitUntil(
          async () => (await status(port, 'wsrep_local_state_comment')) === 'Synced',
          120_000,
          `Galera node ${i + 1} was not Synced`,
        ),
        node.server.exited.then((code) => {
          const how = code ?? node.server.child.signalCode
          throw new Error(
            `Galera node ${i + 1} exited with ${how}: ${node.server.output()}\n${errorLogTail(base, i)}`,
          )
        }),
      ])
      if (i === 0) {
        const connection = await mysql2.createConnection({ host: '127.0.0.1', port, user: 'root' })
        await connection.query('CREATE DATABASE IF NOT EXISTS test')
        await connection.end()
      }
    }
    await waitUntil(
      async () => (await status(PORTS.galera[0], 'wsrep_cluster_size')) === '3',
      30_000,
      'the cluster did not reach 3 nodes',
    )
    proxy = await startHAProxy(
      'galera',
      PORTS.galeraProxy,
      nodes.map((node) => ({ name: `node${node.index + 1}`, port: node.port })),
    )
  } catch (error) {
    await teardown()
    throw error
  }
  return {
    nodes,
    url: `mysql://root@127.0.0.1:${PORTS.galeraProxy}/test`,
    proxy,
    async kill(index) {
      await nodes[index]!.server.kill()
    },
    async clusterSize(index) {
      return Number(await status(nodes[index]!.port, 'wsrep_cluster_size'))
    },
    stop: teardown,
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const galera = await startGalera()
  console.log(
    `Galera: ${galera.nodes.map((n) => n.url).join(', ')}; through HAProxy: ${galera.url} (Ctrl-C stops it)`,
  )
  process.once('SIGINT', () => void galera.stop().then(() => process.exit(0)))
}
