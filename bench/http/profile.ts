/**
 * Where an app's time goes under the benchmark's load: `npx tsx bench/http/profile.ts
 * --only=adapter-sqlite,better-sqlite3-session-store [--route=/read] [--seconds=10]
 * [--sessions=10000] [--connections=16]`. Each named contender's app runs on its own (one after
 * the other), its sessions are logged in through it, wrk warms it up, and then V8's CPU profiler
 * (apps/profile-on-signal.js) records it for `--seconds` under the same wrk load as
 * `npm run bench:http`. Prints the self time of the top frames and of each package, as shares
 * of the app's busy time (idle excluded), and writes the same to bench/report/http-profile.md;
 * the .cpuprofile files (for Chrome DevTools) stay in the temp dir it prints.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { contenders, routes, type Route } from './contenders.js'
import { findWrk, login, runWrk, writeCookieFile } from './load.js'
import { startApp } from './processes.js'
import { Workspace } from './workspace.js'

const argv = process.argv.slice(2)
const flag = (name: string) => argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3)
const ids = flag('only')?.split(',') ?? []
const route = (flag('route') ?? '/read') as Route
const seconds = Number(flag('seconds') ?? 10)
const sessions = Number(flag('sessions') ?? 10_000)
const connections = Number(flag('connections') ?? 16)
const top = Number(flag('top') ?? 25)
const chosen = ids.map((id) => contenders.find((c) => c.id === id))
if (ids.length === 0 || chosen.includes(undefined) || !routes.includes(route)) {
  console.error(`usage: --only=id,id [--route=/read|/write]; ids: ${contenders.map((c) => c.id).join(', ')}`)
  process.exit(2)
}
const wrk = findWrk()
if (wrk === undefined) {
  console.error('wrk is not installed (apt-get install wrk, or WRK=/path/to/wrk)')
  process.exit(1)
}

interface ProfileNode {
  id: number
  callFrame: { functionName: string; url: string; lineNumber: number }
}
interface Profile {
  nodes: ProfileNode[]
  samples: number[]
  timeDeltas: number[]
}

/** Which package a frame belongs to, from its script's URL. */
function packageOf(url: string, name: string): string {
  if (url === '') return name.startsWith('(') ? name : 'native'
  if (url.startsWith('node:')) return 'node'
  const modules = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url)
  if (modules !== null) return modules[1]!
  if (url.includes('/dist/')) return 'kysely-session-store (ours)'
  if (url.includes('/bench/http/apps/')) return 'the app'
  return 'other'
}

function shortUrl(url: string): string {
  return url
    .replace(/^file:\/\/.*?\/node_modules\//, '')
    .replace(/^file:\/\/.*?\/dist\//, 'dist/')
    .replace(/^file:\/\/.*?\/bench\/http\/apps\//, 'apps/')
}

/** Self time per frame and per package, in shares of the busy (non-idle) time. */
function summarise(profile: Profile) {
  const byNode = new Map(profile.nodes.map((n) => [n.id, n]))
  const frames = new Map<string, number>()
  const packages = new Map<string, number>()
  let busy = 0
  let idle = 0
  for (let i = 0; i < profile.samples.length; i++) {
    const node = byNode.get(profile.samples[i]!)!
    const dt = profile.timeDeltas[i + 1] ?? 0
    const { functionName, url, lineNumber } = node.callFrame
    if (functionName === '(idle)') {
      idle += dt
      continue
    }
    busy += dt
    const frame =
      `${functionName || '(anonymous)'} ${url === '' ? '' : `${shortUrl(url)}:${lineNumber + 1}`}`.trim()
    frames.set(frame, (frames.get(frame) ?? 0) + dt)
    const pkg = packageOf(url, functionName)
    packages.set(pkg, (packages.get(pkg) ?? 0) + dt)
  }
  const share = (map: Map<string, number>) =>
    [...map].sort((a, b) => b[1] - a[1]).map(([name, us]) => ({ name, share: us / busy }))
  return { busy, idle, frames: share(frames), packages: share(packages) }
}

const workspace = new Workspace()
const dir = mkdtempSync(join(tmpdir(), 'kss-http-profile-'))
const out: string[] = [
  `# Where the time goes: CPU profiles under the load of \`npm run bench:http\``,
  '',
  `\`npx tsx bench/http/profile.ts --only=${ids.join(',')} --route=${route} --seconds=${seconds}\`: ` +
    `${sessions.toLocaleString('en-US')} sessions logged in through the app, wrk with ${connections} ` +
    `connections cycling through their cookies, ${seconds} s profiled after a 3 s warm-up, one app at a time. ` +
    `Self time, in shares of the app's busy time (idle excluded). ${new Date().toISOString()}.`,
  '',
]
try {
  for (const contender of chosen) {
    const c = contender!
    const file = join(dir, `${c.id}${route.replace('/', '-')}.cpuprofile`)
    const env = { ...(await workspace.prepare(c)), PROFILE_FILE: file }
    const app = await startApp(c, env, ['./profile-on-signal.js'])
    try {
      const cookies = await login(app.url, c.backend === 'none' ? 0 : sessions)
      const cookieFile = join(workspace.dir, `${c.id}.cookies`)
      writeCookieFile(cookieFile, c.backend === 'none' ? new Array(sessions).fill(null) : cookies)
      const load = (s: number) =>
        runWrk({ wrk, base: app.url, path: route, cookieFile, seconds: s, connections, threads: 1 })
      await load(3)
      const signal = async (line: string) => {
        process.kill(app.pid, 'SIGUSR2')
        const until = Date.now() + 10_000
        while (!app.stdout.includes(line)) {
          if (Date.now() > until) throw new Error(`${c.id}: no "${line}" from the app`)
          await new Promise((r) => setTimeout(r, 20))
        }
      }
      await signal('profile started')
      const result = await load(seconds)
      await signal('profile written')
      const rps = result.requests / (result.durationUs / 1e6)
      const summary = summarise(JSON.parse(readFileSync(file, 'utf8')) as Profile)
      const busyShare = summary.busy / (summary.busy + summary.idle)
      const busyPerRequest = summary.busy / result.requests
      const lines = [
        `## ${c.id} ${route}`,
        '',
        `${Math.round(rps).toLocaleString('en-US')} req/s while profiled (${result.non2xx} non-2xx); ` +
          `the app busy ${(busyShare * 100).toFixed(0)}% of the time, ${busyPerRequest.toFixed(1)} us busy per request ` +
          '(wall-clock time between samples, so inflated when the machine is loaded: compare shares, not these).',
        '',
        '| package | self |',
        '| --- | ---: |',
        ...summary.packages.slice(0, 12).map((p) => `| ${p.name} | ${(p.share * 100).toFixed(1)}% |`),
        '',
        '| frame | self |',
        '| --- | ---: |',
        ...summary.frames.slice(0, top).map((f) => `| \`${f.name}\` | ${(f.share * 100).toFixed(1)}% |`),
        '',
      ]
      console.log(lines.join('\n'))
      out.push(...lines)
    } finally {
      await app.stop()
    }
  }
} finally {
  await workspace.dispose()
}
writeFileSync(new URL('../report/http-profile.md', import.meta.url), `${out.join('\n')}\n`)
console.log(`profiles in ${dir}; summary in bench/report/http-profile.md`)
