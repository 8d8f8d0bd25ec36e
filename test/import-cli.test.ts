// The command line: `kysely-session-store import ...`, run from the source (tsx) as a user
// runs it, against tables laid out by hand as the old stores lay them out.
import { execFile } from 'node:child_process'
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { sql, type Kysely } from 'kysely'
import { afterAll, describe, expect, test } from 'vitest'
import { postgres } from '../dialects/postgres.js'
import { sqlite } from '../dialects/sqlite.js'
import type { FamilyName } from '../src/index.js'
import { randomTable, readRows } from './helpers.js'
import { tempDir } from './legs.js'
import { postgresUrl, withServer } from './servers.js'

const root = join(import.meta.dirname, '..')

interface Run {
  code: number
  stdout: string
  stderr: string
}

/** Runs the command; never rejects: the exit code is part of the answer. */
async function cli(...args: string[]): Promise<Run> {
  try {
    const { stdout, stderr } = await promisify(execFile)(
      process.execPath,
      ['--import', 'tsx', 'bin/kysely-session-store.ts', ...args],
      { cwd: root, timeout: 60_000 },
    )
    return { code: 0, stdout, stderr }
  } catch (error) {
    const { code, stdout, stderr } = error as { code: unknown; stdout: string; stderr: string }
    if (typeof code !== 'number') throw error
    return { code, stdout, stderr }
  }
}

/** connect-session-knex's table, as it creates it on SQLite and Postgres. */
async function knexTable(db: Kysely<any>, table: string, sessions: Record<string, object>) {
  await sql`CREATE TABLE ${sql.table(table)} (sid varchar(255) PRIMARY KEY, sess text NOT NULL, expired text NOT NULL)`.execute(
    db,
  )
  const expired = new Date(Date.now() + 3600_000).toISOString()
  for (const [sid, sess] of Object.entries(sessions)) {
    await sql`INSERT INTO ${sql.table(table)} (sid, sess, expired) VALUES (${sid}, ${JSON.stringify(sess)}, ${expired})`.execute(
      db,
    )
  }
}

async function tableExists(db: Kysely<any>, family: FamilyName, table: string): Promise<boolean> {
  const { rows } =
    family === 'postgres'
      ? await sql<{ n: unknown }>`SELECT count(*) AS n FROM pg_tables WHERE tablename = ${table}`.execute(db)
      : await sql<{ n: unknown }>`SELECT count(*) AS n FROM sqlite_master WHERE name = ${table}`.execute(db)
  return Number(rows[0]!.n) > 0
}

function cliSuite(name: string, family: FamilyName, url: string, open: () => Kysely<any>) {
  describe(name, () => {
    const db = open()
    const tables: string[] = []
    const table = (prefix: string) => {
      const created = randomTable(prefix)
      tables.push(created, `${created}_imported`)
      return created
    }
    const importKnex = (...args: string[]) => cli('import', 'connect-session-knex', '--url', url, ...args)
    afterAll(async () => {
      for (const name of tables) await db.schema.dropTable(name).ifExists().execute()
      await db.destroy()
    })

    test('--subject reads the session’s own fields only: constructor.name is no subject', async () => {
      const old = table('old')
      const ours = table('ours')
      await knexTable(db, old, {
        'sid-with-user-id': { cookie: {}, userId: 'u1' },
        'sid-anonymous-one': { cookie: {} },
        'sid-with-passport': { cookie: {}, passport: { user: 'p3' } },
        'sid-with-own-field': { cookie: {}, constructor: { name: 'own' } },
      })
      const run = await importKnex(
        '--from',
        old,
        '--to',
        ours,
        '--subject',
        'constructor.name,passport.user,userId',
      )
      expect(run).toMatchObject({ code: 0, stderr: expect.not.stringContaining('kysely-session-store:') })
      expect(run.stdout).toMatch(/^read 4: imported 4,/)
      const subjects = (await readRows(db, ours, family)).map((row) => row.subject).sort()
      expect(subjects).toEqual([null, 'own', 'p3', 'u1'])
    })

    test('nothing is written before every argument is checked: a missing old table creates no table of ours', async () => {
      const ours = table('ours')
      const missing = table('missing')
      const run = await importKnex('--from', missing, '--to', ours)
      expect(run.code).toBe(1)
      expect(run.stderr).toContain(`read of table "${missing}" failed`)
      expect(await tableExists(db, family, ours)).toBe(false)
      expect(await tableExists(db, family, `${ours}_imported`)).toBe(false)
    })

    test.each([['0'], ['abc'], ['1.5']])(
      '--batch-size %s is refused before anything is written',
      async (size) => {
        const old = table('old')
        const ours = table('ours')
        await knexTable(db, old, { 'sid-batch': { cookie: {} } })
        const run = await importKnex('--from', old, '--to', ours, '--batch-size', size)
        expect(run.code).toBe(2)
        expect(run.stderr).toContain('--batch-size must be an integer from 1 to 5000')
        expect(await tableExists(db, family, ours)).toBe(false)
      },
    )
  })
}

const dir = tempDir('import-cli-')
const file = join(dir, 'app.db')
cliSuite('the command on a SQLite file', 'sqlite', `sqlite:${file}`, () => sqlite(file))

test('a SQLite file that is not there is refused, and not created', async () => {
  const missing = join(dir, 'typo.db')
  const run = await cli('import', 'connect-session-knex', '--url', `sqlite:${missing}`, '--to', 'ours')
  expect(run.code).toBe(2)
  expect(run.stderr).toContain(`--url: there is no SQLite database at ${missing}`)
  expect(existsSync(missing)).toBe(false)
})

await withServer('Postgres', () => {
  cliSuite('the command on Postgres', 'postgres', postgresUrl, () => postgres(postgresUrl))

  describe('what the command prints when the database fails', () => {
    const db = postgres(postgresUrl)
    const tables: string[] = []
    afterAll(async () => {
      for (const name of tables) await db.schema.dropTable(name).ifExists().execute()
      await db.destroy()
    })

    test('the cause: its code, its message and the server, not "see error.cause"', async () => {
      const missing = randomTable('missing')
      const run = await cli('import', 'connect-pg-simple', '--url', postgresUrl, '--from', missing)
      expect(run.code).toBe(1)
      expect(run.stderr).toContain('42P01')
      expect(run.stderr).toContain(`relation "${missing}" does not exist`)
      expect(run.stderr).toContain('127.0.0.1:5432')
      expect(run.stderr).not.toContain('error.cause')
    })

    test('a failed write prints its cause without the session’s data or id', async () => {
      const old = randomTable('old')
      const ours = randomTable('ours')
      tables.push(old, ours, `${ours}_imported`)
      const sid = 'the-session-id-never-printed'
      const user = 'user-id-never-printed'
      await knexTable(db, old, { [sid]: { cookie: {}, userId: user } })
      // Our table by hand, with a subject column that takes no user id.
      await sql`CREATE TABLE ${sql.table(ours)} (token text PRIMARY KEY, data bytea NOT NULL,
        expiry timestamptz NOT NULL, subject integer, created_at timestamptz,
        last_seen_at timestamptz, ended_at timestamptz)`.execute(db)
      const run = await cli(
        'import',
        'connect-session-knex',
        '--url',
        postgresUrl,
        '--from',
        old,
        '--to',
        ours,
        '--subject',
        'userId',
        '--no-migrate',
        '--no-hash-sids',
      )
      expect(run.code).toBe(1)
      expect(run.stderr).toContain('22P02')
      expect(run.stderr).toContain('invalid input syntax for type integer')
      expect(run.stderr).not.toContain(user)
      expect(run.stderr).not.toContain(sid)
      expect(run.stderr).not.toContain('error.cause')
    })
  })
})
