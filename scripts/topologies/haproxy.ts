// HAProxy (Debian 12's 2.6) as a TCP proxy in front of database servers, repointed at run time
// through its admin socket, as an operator or a failover manager (Patroni's callbacks,
// keepalived scripts) would.
import { createConnection } from 'node:net'
import { join } from 'node:path'
import {
  missingTool,
  removeDirectory,
  requireFreePorts,
  startServer,
  tempDirectory,
  waitForPort,
  writeOwned,
  type Server,
} from './common.js'

export interface Backend {
  name: string
  port: number
  /** Starts in maintenance: no connection goes there until {@link HAProxy.enable}. */
  disabled?: boolean
}

export interface HAProxy {
  readonly port: number
  readonly server: Server
  /** Sends one command to the admin socket and resolves to its answer. */
  command(command: string): Promise<string>
  /** Sends new connections to `name` again. */
  enable(name: string): Promise<void>
  /** Sends no new connection to `name`, and cuts the connections it has. */
  disable(name: string): Promise<void>
  stop(): Promise<void>
}

export const haproxyMissing = () => missingTool('haproxy')

/**
 * Starts HAProxy on `port` in TCP mode, balancing round-robin over the enabled backends, with
 * health checks every 500 ms (a backend that stops answering is skipped, and connections to a
 * dead one are redispatched to another).
 */
export async function startHAProxy(name: string, port: number, backends: Backend[]): Promise<HAProxy> {
  await requireFreePorts(port)
  const dir = tempDirectory(`haproxy-${name}`)
  const socket = join(dir, 'admin.sock')
  const config = [
    'global',
    `  stats socket ${socket} level admin`,
    '  maxconn 4000',
    'defaults',
    '  mode tcp',
    '  timeout connect 2s',
    '  timeout client 1h',
    '  timeout server 1h',
    '  retries 3',
    '  option redispatch',
    `listen ${name}`,
    `  bind 127.0.0.1:${port}`,
    '  balance roundrobin',
    '  default-server inter 500ms fall 2 rise 1 on-marked-down shutdown-sessions',
    ...backends.map(
      (backend) =>
        `  server ${backend.name} 127.0.0.1:${backend.port} check${backend.disabled ? ' disabled' : ''}`,
    ),
    '',
  ].join('\n')
  writeOwned(join(dir, 'haproxy.cfg'), config)
  const server = startServer('haproxy', ['-db', '-f', join(dir, 'haproxy.cfg')], { cwd: dir })
  try {
    await Promise.race([
      waitForPort(port, 10_000, `HAProxy on port ${port}`),
      server.exited.then((code) => {
        throw new Error(`HAProxy exited with ${code}: ${server.output()}`)
      }),
    ])
  } catch (error) {
    await server.kill()
    removeDirectory(dir)
    throw error
  }
  const command = (line: string) =>
    new Promise<string>((resolve, reject) => {
      const connection = createConnection(socket)
      let answer = ''
      connection.setTimeout(5000, () => connection.destroy(new Error(`HAProxy did not answer: ${line}`)))
      connection.on('data', (chunk) => (answer += chunk.toString('utf8')))
      connection.on('end', () => resolve(answer))
      connection.on('error', reject)
      connection.write(`${line}\n`)
    })
  return {
    port,
    server,
    command,
    async enable(backend) {
      await command(`set server ${name}/${backend} state ready`)
    },
    async disable(backend) {
      await command(`set server ${name}/${backend} state maint`)
      await command(`shutdown sessions server ${name}/${backend}`)
    },
    async stop() {
      await server.stop()
      removeDirectory(dir)
    },
  }
}
