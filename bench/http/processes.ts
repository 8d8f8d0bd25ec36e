/**
 * The contenders' app processes: each one started on a free port of the benchmark's range
 * (18000-18199), stopped by `stop()`, and killed when the harness exits however it exits.
 * Each app also gets bench/http/apps/exit-with-parent.js preloaded, so it ends by itself if
 * the harness is killed before it could stop it.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import type { Contender } from './contenders.js'

export const PORT_RANGE = { first: 18000, last: 18199 } as const

const appsDir = fileURLToPath(new URL('./apps/', import.meta.url))
const START_TIMEOUT_MS = 30_000
const STOP_TIMEOUT_MS = 3_000

/** Every child the harness started and has not seen exit. */
const children = new Set<ChildProcess>()
let exitHookInstalled = false

function installExitHook(): void {
  if (exitHookInstalled) return
  exitHookInstalled = true
  // 'exit' handlers run synchronously: SIGKILL is all that can be done there, and enough.
  process.on('exit', () => {
    for (const child of children) child.kill('SIGKILL')
  })
}

/**
 * The CPU time (user + system) process `pid` has used so far, in microseconds, from
 * /proc/<pid>/stat; undefined where there is no /proc (not Linux) or the process is gone.
 */
export function cpuMicros(pid: number): number | undefined {
  try {
    // The fields after the command name (which may hold spaces) and its closing parenthesis.
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ').at(-1)!.split(' ')
    const ticks = Number(fields[11]) + Number(fields[12]) // utime, stime
    return Number.isFinite(ticks) ? (ticks * 1e6) / CLOCK_TICKS_PER_SECOND : undefined
  } catch {
    return undefined
  }
}

/** USER_HZ: what /proc counts CPU time in, 100 on every Linux architecture Node runs on. */
const CLOCK_TICKS_PER_SECOND = 100

/** Kills (SIGKILL) every child still running; for signal handlers. */
export function killAll(): void {
  for (const child of children) child.kill('SIGKILL')
}

/** A child process the harness started: registered for kill-on-exit, unregistered on exit. */
export function track(child: ChildProcess): ChildProcess {
  installExitHook()
  children.add(child)
  child.once('exit', () => children.delete(child))
  return child
}

/** How many children are still running (the test checks it drops to 0). */
export function running(): number {
  return children.size
}

export interface App {
  readonly contender: Contender
  readonly url: string
  readonly pid: number
  /** Whether the process is still running. */
  readonly alive: boolean
  /** The last few KiB of what the app wrote to stderr. */
  readonly stderr: string
  /** Everything the app wrote to stdout since it started listening. */
  readonly stdout: string
  /** SIGTERM, then SIGKILL after 3 s; resolves once the process has exited. */
  stop(): Promise<void>
}

let nextPort = PORT_RANGE.first + (process.pid % (PORT_RANGE.last - PORT_RANGE.first + 1))

function takePort(): number {
  const port = nextPort
  nextPort = port >= PORT_RANGE.last ? PORT_RANGE.first : port + 1
  return port
}

/**
 * Starts `contender`'s app with `env` on the next free port of the range (a port someone else
 * holds makes the app exit with EADDRINUSE; the next one is tried) and resolves once it
 * prints `listening on http://...`.
 */
export async function startApp(
  contender: Contender,
  env: Record<string, string>,
  preload: readonly string[] = [],
): Promise<App> {
  const attempts = PORT_RANGE.last - PORT_RANGE.first + 1
  for (let attempt = 0; attempt < attempts; attempt++) {
    const port = takePort()
    const outcome = await startOn(contender, env, port, preload)
    if (outcome !== 'port in use') return outcome
  }
  throw new Error(`${contender.id}: no free port in ${PORT_RANGE.first}-${PORT_RANGE.last}`)
}

async function startOn(
  contender: Contender,
  env: Record<string, string>,
  port: number,
  preload: readonly string[],
): Promise<App | 'port in use'> {
  const imports = ['./exit-with-parent.js', ...preload].flatMap((file) => ['--import', file])
  const child = track(
    spawn(process.execPath, [...imports, contender.app], {
      cwd: appsDir,
      env: { ...process.env, ...env, PORT: String(port), NODE_ENV: 'production' },
      stdio: ['pipe', 'pipe', 'pipe'],
    }),
  )
  let stderr = ''
  let exited = false
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
    stderr = (stderr + chunk).slice(-4096)
  })
  child.stdin!.on('error', () => undefined) // the app may be gone when we close its stdin
  const exit = new Promise<void>((resolve) =>
    child.once('exit', () => {
      exited = true
      resolve()
    }),
  )
  const stop = async () => {
    if (exited) return
    child.stdin!.end()
    child.kill('SIGTERM')
    const timer = setTimeout(() => child.kill('SIGKILL'), STOP_TIMEOUT_MS)
    await exit
    clearTimeout(timer)
  }

  let stdout = ''
  const ready = await new Promise<'ready' | 'exited' | 'timeout'>((resolve) => {
    const timer = setTimeout(() => resolve('timeout'), START_TIMEOUT_MS)
    child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
      stdout = (stdout + chunk).slice(-4096)
      if (stdout.includes(`listening on http://127.0.0.1:${port}`)) {
        clearTimeout(timer)
        resolve('ready')
      }
    })
    void exit.then(() => {
      clearTimeout(timer)
      resolve('exited')
    })
  })
  if (ready === 'ready') {
    return {
      contender,
      url: `http://127.0.0.1:${port}`,
      pid: child.pid!,
      get alive() {
        return !exited
      },
      get stderr() {
        return stderr
      },
      get stdout() {
        return stdout
      },
      stop,
    }
  }
  await stop()
  if (stderr.includes('EADDRINUSE')) return 'port in use'
  const why = ready === 'timeout' ? `did not listen within ${START_TIMEOUT_MS / 1000} s` : 'exited'
  throw new Error(`${contender.id}'s app ${why}: ${stderr.trim().split('\n').slice(-5).join(' | ')}`)
}
