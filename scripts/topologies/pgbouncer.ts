// PgBouncer (Debian 12's 1.18) in front of the machine's Postgres, on a port and in a directory
// of its own. Transaction mode shares each server session between client connections (what
// breaks named prepared statements); session mode gives each client connection its own.
//
//   npx tsx scripts/topologies/pgbouncer.ts transaction   # starts it and waits for Ctrl-C
import { join } from 'node:path'
import {
  LOCAL_POSTGRES,
  PORTS,
  missingTool,
  removeDirectory,
  requireFreePorts,
  startServer,
  tempDirectory,
  waitForPort,
  writeOwned,
  type Server,
} from './common.js'

export type PoolMode = 'transaction' | 'session'

export interface PgBouncer {
  readonly mode: PoolMode
  readonly port: number
  /** A connection string to the `test` database through PgBouncer. */
  readonly url: string
  readonly server: Server
  stop(): Promise<void>
}

/** Why PgBouncer cannot run here, or undefined. */
export const pgbouncerMissing = () => missingTool('pgbouncer')

/**
 * Starts PgBouncer in `mode` with `poolSize` server connections to the local Postgres.
 * Resolves once it accepts connections.
 */
export async function startPgBouncer(
  mode: PoolMode,
  options: { poolSize?: number; port?: number } = {},
): Promise<PgBouncer> {
  const port = options.port ?? (mode === 'transaction' ? PORTS.pgbouncerTransaction : PORTS.pgbouncerSession)
  const poolSize = options.poolSize ?? 2
  await requireFreePorts(port)
  const dir = tempDirectory(`pgbouncer-${mode}`, 'postgres')
  const { host, port: pgPort, user, database } = LOCAL_POSTGRES
  writeOwned(join(dir, 'users.txt'), `"${user}" ""\n`, 'postgres')
  writeOwned(
    join(dir, 'pgbouncer.ini'),
    [
      '[databases]',
      `${database} = host=${host} port=${pgPort} dbname=${database}`,
      '[pgbouncer]',
      'listen_addr = 127.0.0.1',
      `listen_port = ${port}`,
      'unix_socket_dir =',
      'auth_type = trust',
      `auth_file = ${join(dir, 'users.txt')}`,
      `admin_users = ${user}`,
      `pool_mode = ${mode}`,
      `default_pool_size = ${poolSize}`,
      'min_pool_size = 0',
      'reserve_pool_size = 0',
      'max_client_conn = 500',
      `pidfile = ${join(dir, 'pgbouncer.pid')}`,
      // pg sends these at startup; PgBouncer 1.18 refuses unknown startup parameters.
      'ignore_startup_parameters = extra_float_digits,options',
      '',
    ].join('\n'),
    'postgres',
  )
  const server = startServer('pgbouncer', [join(dir, 'pgbouncer.ini')], { as: 'postgres', cwd: dir })
  try {
    await Promise.race([
      waitForPort(port, 15_000, `PgBouncer (${mode}) on port ${port}`),
      server.exited.then((code) => {
        throw new Error(`PgBouncer exited with ${code}: ${server.output()}`)
      }),
    ])
  } catch (error) {
    await server.kill()
    removeDirectory(dir)
    throw error
  }
  return {
    mode,
    port,
    url: `postgres://${user}@127.0.0.1:${port}/${database}`,
    server,
    async stop() {
      await server.stop()
      removeDirectory(dir)
    },
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const mode = (process.argv[2] ?? 'transaction') as PoolMode
  const bouncer = await startPgBouncer(mode)
  console.log(`PgBouncer ${mode} mode: ${bouncer.url} (Ctrl-C stops it)`)
  process.once('SIGINT', () => void bouncer.stop().then(() => process.exit(0)))
}
