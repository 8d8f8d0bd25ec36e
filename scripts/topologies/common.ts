// What every topology script shares: ports of our own, data directories under /tmp, child
// processes that are always torn down (even when the caller crashes), and bounded waits.
// Nothing here touches the machine's own Postgres (5432) or MariaDB (3306).
import { spawn, spawnSync, type ChildProcess, type SpawnOptions } from 'node:child_process'
import { chmodSync, chownSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { connect } from 'node:net'
import { setTimeout as sleep } from 'node:timers/promises'

/**
 * Our own ports, all below Linux's ephemeral range (32768-60999 by default, checked by
 * requireFreePorts): a port in that range can be the local end of any outgoing connection at
 * the moment a server binds it. That is how a Galera joiner died in CI: its state transfer's
 * rsync could not bind a port that a client connection held, and mariadbd aborted.
 */
export const PORTS = {
  // Not 6432: Debian's pgbouncer package listens there when its own service is started.
  pgbouncerTransaction: 6436,
  pgbouncerSession: 6437,
  /** The load scenarios' own PgBouncers, so that they can run while a suite holds the others. */
  pgbouncerLoadTransaction: 6438,
  pgbouncerLoadSession: 6439,
  silent: 24400,
  freezer: 24401,
  primary: 24410,
  standby: 24411,
  failoverProxy: 24412,
  galera: [24421, 24422, 24423],
  galeraGroup: [24431, 24432, 24433],
  galeraIst: [24441, 24442, 24443],
  galeraSst: [24451, 24452, 24453],
  galeraProxy: 24420,
} as const

/** Postgres 15's binaries (Debian's layout). */
export const PG_BIN = process.env.PG_BIN ?? '/usr/lib/postgresql/15/bin'

/** The machine's Postgres, which PgBouncer fronts. Never stopped or reconfigured. */
export const LOCAL_POSTGRES = { host: '127.0.0.1', port: 5432, user: 'postgres', database: 'test' }

/** Why a tool cannot run here, or undefined when it can. */
export function missingTool(...paths: string[]): string | undefined {
  for (const path of paths) {
    const found = path.includes('/')
      ? spawnSync('test', ['-e', path]).status === 0
      : spawnSync('sh', ['-c', `command -v ${path}`]).status === 0
    if (!found) return `${path} is not installed`
  }
  if (process.getuid?.() !== 0) return 'needs root (to run servers as the postgres and mysql users)'
  return undefined
}

/** uid and gid of a system user. */
export function userIds(name: string): { uid: number; gid: number } {
  const uid = Number(spawnSync('id', ['-u', name], { encoding: 'utf8' }).stdout.trim())
  const gid = Number(spawnSync('id', ['-g', name], { encoding: 'utf8' }).stdout.trim())
  if (!Number.isInteger(uid) || !Number.isInteger(gid)) throw new Error(`no system user ${name}`)
  return { uid, gid }
}

const children = new Set<ChildProcess>()
const directories = new Set<string>()
// If the caller dies without tearing down, no server of ours outlives it.
process.once('exit', () => {
  for (const child of children) child.kill('SIGKILL')
})

/** A fresh directory under /tmp, owned by `owner` when given; removed by {@link removeDirectory}. */
export function tempDirectory(prefix: string, owner?: string): string {
  const dir = mkdtempSync(`/tmp/kss-topo-${prefix}-`)
  chmodSync(dir, 0o755)
  if (owner !== undefined) {
    const { uid, gid } = userIds(owner)
    chownSync(dir, uid, gid)
  }
  directories.add(dir)
  return dir
}

export function removeDirectory(dir: string): void {
  directories.delete(dir)
  rmSync(dir, { recursive: true, force: true })
}

/** Writes `file`, owned by `owner` when given. */
export function writeOwned(file: string, content: string, owner?: string): void {
  writeFileSync(file, content)
  if (owner !== undefined) {
    const { uid, gid } = userIds(owner)
    chownSync(file, uid, gid)
  }
}

/** A long-running server process, its output kept for diagnosis, killed at exit if still running. */
export interface Server {
  readonly child: ChildProcess
  /** The last lines the process printed. */
  output(): string
  /** SIGTERM, then SIGKILL after `graceMs`; resolves when it has exited. */
  stop(graceMs?: number): Promise<void>
  /** SIGKILL now; resolves when it has exited. */
  kill(): Promise<void>
  readonly exited: Promise<number | null>
}

export function startServer(
  command: string,
  args: string[],
  options: SpawnOptions & { as?: string } = {},
): Server {
  const { as, ...spawnOptions } = options
  const ids = as === undefined ? {} : userIds(as)
  const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], ...ids, ...spawnOptions })
  children.add(child)
  let log = ''
  const keep = (chunk: Buffer) => {
    log = (log + chunk.toString('utf8')).slice(-8000)
  }
  child.stdout?.on('data', keep)
  child.stderr?.on('data', keep)
  const exited = new Promise<number | null>((resolve) => {
    child.once('exit', (code) => {
      children.delete(child)
      resolve(code)
    })
    child.once('error', (error) => {
      log += `\n${String(error)}`
      children.delete(child)
      resolve(null)
    })
  })
  const gone = () => child.exitCode !== null || child.signalCode !== null || !children.has(child)
  return {
    child,
    output: () => log,
    exited,
    async stop(graceMs = 10_000) {
      if (gone()) return
      child.kill('SIGTERM')
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs)
      await exited
      clearTimeout(timer)
    },
    async kill() {
      if (gone()) return
      child.kill('SIGKILL')
      await exited
    },
  }
}

/** Runs a command to completion (bounded by `timeoutMs`), as `as` when given; throws with its output on failure. */
export function run(
  command: string,
  args: string[],
  options: { as?: string; timeoutMs?: number; env?: NodeJS.ProcessEnv; input?: string } = {},
): string {
  const ids = options.as === undefined ? {} : userIds(options.as)
  const result = spawnSync(command, args, {
    encoding: 'utf8',
    timeout: options.timeoutMs ?? 60_000,
    env: options.env ?? process.env,
    input: options.input,
    cwd: '/tmp',
    ...ids,
  })
  if (result.status !== 0) {
    throw new Error(
      `${command} ${args.join(' ')} failed (${result.error?.message ?? `exit ${result.status}`}):\n${result.stdout}\n${result.stderr}`,
    )
  }
  return result.stdout
}

/** Resolves once something accepts TCP connections on `port`, or throws after `timeoutMs`. */
export async function waitForPort(port: number, timeoutMs = 20_000, what = `port ${port}`): Promise<void> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const open = await new Promise<boolean>((resolve) => {
      const socket = connect({ host: '127.0.0.1', port })
      const done = (ok: boolean) => {
        socket.destroy()
        resolve(ok)
      }
      socket.setTimeout(1000, () => done(false))
      socket.once('connect', () => done(true))
      socket.once('error', () => done(false))
    })
    if (open) return
    if (Date.now() > deadline) throw new Error(`${what} did not open within ${timeoutMs} ms`)
    await sleep(100)
  }
}

/** Polls `condition` until it holds, or throws after `timeoutMs`. */
export async function waitUntil(
  condition: () => boolean | Promise<boolean>,
  timeoutMs: number,
  what: string,
): Promise<void> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    try {
      if (await condition()) return
    } catch {
      // not yet
    }
    if (Date.now() > deadline) throw new Error(`${what} within ${timeoutMs} ms`)
    await sleep(100)
  }
}

/** Whether `port` is free on loopback (nothing accepts on it). */
export async function portFree(port: number): Promise<boolean> {
  return new Promise<boolean>((resolve) => {
    const socket = connect({ host: '127.0.0.1', port })
    socket.setTimeout(1000, () => {
      socket.destroy()
      resolve(false)
    })
    socket.once('connect', () => {
      socket.destroy()
      resolve(false)
    })
    socket.once('error', () => resolve(true))
  })
}

/** The machine's ephemeral port range, from which outgoing connections take their local ports. */
export function ephemeralPorts(): [number, number] {
  try {
    const [low, high] = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8')
      .trim()
      .split(/\s+/)
      .map(Number)
    if (Number.isInteger(low) && Number.isInteger(high)) return [low!, high!]
  } catch {
    // not Linux: its default
  }
  return [32768, 60999]
}

/**
 * Throws when a port we are about to use is taken (a leftover from an earlier run, say), or
 * lies in the ephemeral range, where an outgoing connection may hold it at any moment.
 */
export async function requireFreePorts(...ports: number[]): Promise<void> {
  const [low, high] = ephemeralPorts()
  for (const port of ports) {
    if (port >= low && port <= high)
      throw new Error(
        `port ${port} is in the ephemeral range ${low}-${high}: choose one below ${low} in PORTS`,
      )
    if (!(await portFree(port)))
      throw new Error(`port ${port} is in use: is an earlier topology still running?`)
  }
}
