/**
 * The client side: logging sessions in over HTTP (to collect their cookies), single requests
 * for checks, and wrk, the load generator, in its own process with bench/http/cycle.lua.
 */
import { spawn, spawnSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { writeFileSync } from 'node:fs'
import { Agent, request } from 'node:http'
import { fileURLToPath } from 'node:url'
import { track } from './processes.js'

const REQUEST_TIMEOUT_MS = 10_000

export interface Reply {
  readonly status: number
  readonly body: string
  /** The `name=value` part of each Set-Cookie header. */
  readonly cookies: string[]
}

/** One HTTP request with a timeout; `agent` lets many calls share keep-alive connections. */
export function send(
  url: string,
  options: { method?: string; cookie?: string | undefined; agent?: Agent } = {},
): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      {
        method: options.method ?? 'GET',
        agent: options.agent,
        headers: options.cookie === undefined ? {} : { cookie: options.cookie },
        timeout: REQUEST_TIMEOUT_MS,
      },
      (res) => {
        let body = ''
        res.setEncoding('utf8')
        res.on('data', (chunk: string) => (body += chunk))
        res.on('error', reject)
        res.on('end', () => {
          const cookies = (res.headers['set-cookie'] ?? []).map((line) => line.split(';')[0]!.trim())
          resolve({ status: res.statusCode ?? 0, body, cookies })
        })
      },
    )
    req.on('timeout', () => req.destroy(new Error(`no answer within ${REQUEST_TIMEOUT_MS} ms`)))
    req.on('error', reject)
    req.end()
  })
}

/**
 * Logs `count` users in (`POST /login?user=i`, i from 0), `concurrency` at a time over
 * keep-alive connections, and returns each one's session cookie (`name=value`), in order.
 * For an app without sessions, whose login sets no cookie, it returns `null`s.
 */
export async function login(base: string, count: number, concurrency = 16): Promise<(string | null)[]> {
  const agent = new Agent({ keepAlive: true, maxSockets: concurrency })
  const cookies: (string | null)[] = new Array(count).fill(null)
  let next = 0
  const worker = async () => {
    while (next < count) {
      const i = next++
      const reply = await send(`${base}/login?user=${i}`, { method: 'POST', agent })
      // The status only: a cookie or a body could carry a token.
      if (reply.status !== 200) throw new Error(`POST /login answered ${reply.status}`)
      cookies[i] = reply.cookies[0] ?? null
    }
  }
  try {
    await Promise.all(Array.from({ length: concurrency }, worker))
  } finally {
    agent.destroy()
  }
  return cookies
}

/**
 * Writes the cookies wrk sends, one per line, to `file` (mode 0600). Apps without sessions get
 * cookies of the same shape that mean nothing, so every contender receives the same bytes.
 */
export function writeCookieFile(file: string, cookies: readonly (string | null)[]): void {
  const lines = cookies.map((cookie) => cookie ?? `session=${randomBytes(32).toString('base64url')}`)
  writeFileSync(file, `${lines.join('\n')}\n`, { mode: 0o600 })
}

/** wrk's path (WRK, else `wrk` on PATH), or undefined when it cannot be run. */
export function findWrk(): string | undefined {
  const wrk = process.env['WRK'] ?? 'wrk'
  const probe = spawnSync(wrk, ['--version'], { encoding: 'utf8', timeout: 5_000 })
  if (probe.error !== undefined) return undefined
  return wrk
}

/** wrk's version line, for the report. */
export function wrkVersion(wrk: string): string {
  const probe = spawnSync(wrk, ['--version'], { encoding: 'utf8', timeout: 5_000 })
  return `${probe.stdout}${probe.stderr}`.split('\n')[0]!.trim()
}

/** What one wrk run measured (times in microseconds). */
export interface WrkResult {
  readonly requests: number
  readonly durationUs: number
  readonly p50Us: number
  readonly p90Us: number
  readonly p99Us: number
  readonly maxUs: number
  /** Socket errors and timeouts. */
  readonly socketErrors: number
  /** Responses with a status other than 2xx/3xx: here, a session that was not found (401). */
  readonly non2xx: number
}

const script = fileURLToPath(new URL('./cycle.lua', import.meta.url))

/** Reads the line cycle.lua's `done()` prints. */
export function parseWrk(stdout: string): WrkResult {
  const line = stdout.split('\n').find((l) => l.startsWith('WRK_RESULT '))
  if (line === undefined) throw new Error(`wrk printed no result line: ${stdout.trim().slice(-500)}`)
  const r = JSON.parse(line.slice('WRK_RESULT '.length)) as Record<string, number>
  return {
    requests: r['requests']!,
    durationUs: r['duration_us']!,
    p50Us: r['p50_us']!,
    p90Us: r['p90_us']!,
    p99Us: r['p99_us']!,
    maxUs: r['max_us']!,
    socketErrors: r['connect']! + r['read']! + r['write']! + r['timeout']!,
    non2xx: r['status']!,
  }
}

/**
 * Runs wrk against `base + path` for `seconds`, cycling through the cookies in `cookieFile`,
 * with `connections` connections on `threads` threads. Killed if it overruns by 30 s.
 */
export function runWrk(options: {
  wrk: string
  base: string
  path: string
  cookieFile: string
  seconds: number
  connections: number
  threads: number
}): Promise<WrkResult> {
  const { wrk, base, path, cookieFile, seconds, connections, threads } = options
  const args = [
    `-t${threads}`,
    `-c${connections}`,
    `-d${seconds}s`,
    '--timeout',
    '5s',
    '-s',
    script,
    base,
    '--',
    path,
    cookieFile,
  ]
  return new Promise((resolve, reject) => {
    const child = track(spawn(wrk, args, { stdio: ['ignore', 'pipe', 'pipe'] }))
    let stdout = ''
    let stderr = ''
    child.stdout!.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk))
    child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk))
    const timer = setTimeout(() => child.kill('SIGKILL'), (seconds + 30) * 1000)
    child.on('error', (error) => {
      clearTimeout(timer)
      reject(error)
    })
    child.on('exit', (code, signal) => {
      clearTimeout(timer)
      if (code !== 0) {
        reject(new Error(`wrk exited with ${signal ?? code}: ${(stderr || stdout).trim().slice(-500)}`))
        return
      }
      try {
        resolve(parseWrk(stdout))
      } catch (error) {
        reject(error)
      }
    })
  })
}
