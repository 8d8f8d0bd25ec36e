// Switching stores without logging anyone out: tables filled by the real connect-pg-simple
// and connect-session-knex through real HTTP requests, imported, and the same cookies then
// served by ExpressSessionStore. On every engine those stores run on here.
import { execFile } from 'node:child_process'
import { createHash } from 'node:crypto'
import { createServer, type Server } from 'node:http'
import { join } from 'node:path'
import { promisify } from 'node:util'
import express from 'express'
import expressSession from 'express-session'
import { sql, type Kysely } from 'kysely'
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import type { Knex } from '../legs/peers/index.js'
import { mysql } from '../dialects/mysql.js'
import { postgres } from '../dialects/postgres.js'
import { sqlite } from '../dialects/sqlite.js'
import { ExpressSessionStore } from '../src/adapters/express.js'
import { timeMs } from '../src/families/index.js'
import { importSessions, type ImportOptions } from '../src/import/index.js'
import { KyselyStore, migrate, type FamilyName } from '../src/index.js'
import { randomTable, readRows } from './helpers.js'
import { Browser, listen } from './http.js'
import { fromLeg } from './leg-packages.js'
import { tempDir } from './legs.js'
import { mysqlUrl, postgresUrl, withServer } from './servers.js'

const root = join(import.meta.dirname, '..')
const sha256 = (text: string) => createHash('sha256').update(text).digest('hex')
const SECRET = 'the same secret before and after'

// connect-pg-simple, connect-session-knex and knex are legs/peers': without that leg the suites
// that import from them are skipped, naming its install command.
const peers = await fromLeg(
  'peers',
  'the imports from connect-pg-simple and connect-session-knex',
  () => import('../legs/peers/index.js'),
)

function sidOf(cookie: string): string {
  return decodeURIComponent(cookie).slice(2).split('.')[0]!
}

/** The same browser (its cookies) pointed at another server: the app after the switch. */
function moveTo(browser: Browser, base: string): Browser {
  const moved = new Browser(base)
  for (const [name, value] of browser.cookies) moved.cookies.set(name, value)
  return moved
}

function app(store: expressSession.Store): Server {
  const application = express()
  application.use(
    expressSession({
      store,
      secret: SECRET,
      resave: false,
      saveUninitialized: false,
      cookie: { maxAge: 3600_000 },
    }),
  )
  application.get('/login', (req, res) => {
    ;(req.session as unknown as Record<string, unknown>).userId = req.query.user
    res.send('ok')
  })
  application.get('/read', (req, res) => {
    res.send(String((req.session as unknown as Record<string, unknown>).userId ?? 'none'))
  })
  application.get('/logout', (req, res, next) => {
    req.session.destroy((error) => (error ? next(error) : res.send('bye')))
  })
  return createServer(application)
}

interface Engine {
  /** Our Kysely instance on the engine. */
  db: Kysely<any>
  family: FamilyName
  /** The old store, as its users configure it, on table `table`. */
  oldStore(name: string): Promise<expressSession.Store>
  /** Where the old store named `name` keeps its table, as importSessions' options. */
  where(name: string): { table: string; schema?: string }
  /** Drops the old store named `name`. */
  drop(name: string): Promise<void>
  /** Moves one old row's expiry into the past, as time would. */
  expire(table: string, sid: string): Promise<void>
  close(): Promise<void>
}

/**
 * The whole switch, as the README tells it: users log in on the old store; the import;
 * the app restarted on ExpressSessionStore; every cookie still finds its session.
 */
function switchSuite(name: string, from: ImportOptions['from'], engine: () => Promise<Engine>) {
  describe(name, () => {
    let e: Engine
    const closers: Array<() => Promise<void>> = []
    const tables: string[] = []
    const table = (prefix: string) => {
      const name = randomTable(prefix)
      tables.push(name)
      if (prefix === 'ours') tables.push(`${name}_imported`) // what importSessions records
      return name
    }
    beforeAll(async () => {
      e = await engine()
    })
    afterAll(async () => {
      for (const close of closers) await close()
      for (const name of tables) {
        if (name.startsWith('old')) await e.drop(name)
        else await e.db.schema.dropTable(name).ifExists().execute()
      }
      await e.close()
    })

    async function serve(server: Server) {
      const listening = await listen(server)
      closers.push(listening.close)
      return listening.url
    }

    test('every live session is imported, hashed, and served by ExpressSessionStore to the same cookie', async () => {
      const old = table('old')
      const ours = table('ours')
      const before = await serve(app(await e.oldStore(old)))
      const users = ['alice', 'bob', 'carol', 'dave']
      let browsers = users.map(() => new Browser(before))
      for (const [i, browser] of browsers.entries()) await browser.get(`/login?user=${users[i]}`)
      for (const [i, browser] of browsers.entries()) expect((await browser.get('/read')).text_).toBe(users[i])
      const sids = browsers.map((b) => sidOf(b.cookies.get('connect.sid')!))
      await e.expire(old, sids[3]!) // dave's session has expired

      await migrate(e.db, { tableName: ours })
      const options = { from, ...e.where(old), tableName: ours, batchSize: 2 } as const
      expect(await importSessions(e.db, options)).toEqual({
        read: 4,
        imported: 3,
        existing: 0,
        expired: 1,
        invalid: 0,
      })

      const store = new KyselyStore(e.db, 0, { tableName: ours })
      const after = await serve(app(new ExpressSessionStore(store)))
      browsers = browsers.map((browser) => moveTo(browser, after))
      expect(await Promise.all(browsers.map(async (b) => (await b.get('/read')).text_))).toEqual([
        'alice',
        'bob',
        'carol',
        'none',
      ])
      const tokens = (await readRows(e.db, ours, e.family)).map((row) => row.token)
      expect(tokens).toEqual(expect.arrayContaining(sids.slice(0, 3).map(sha256)))
      for (const sid of sids) expect(tokens).not.toContain(sid)

      // Again, after bob logged out and alice's session changed on the new store: nothing
      // imported twice, nothing overwritten, nobody brought back.
      await browsers[1]!.get('/logout')
      await browsers[0]!.get('/login?user=alice2')
      expect(await importSessions(e.db, options)).toMatchObject({ read: 4, imported: 0, existing: 3 })
      expect((await browsers[0]!.get('/read')).text_).toBe('alice2')
      expect((await browsers[1]!.get('/read')).text_).toBe('none') // bob's old cookie: still logged out
      expect(await store.get(sha256(sids[1]!))).toBeUndefined()
    })

    test('a session ended, deleted or cleared after an import is never imported again; one created on the old store since is', async () => {
      const old = table('old')
      const ours = table('ours')
      const before = await serve(app(await e.oldStore(old)))
      const browsers = ['ivy', 'jack', 'kim'].map(() => new Browser(before))
      await browsers[0]!.get('/login?user=ivy')
      await browsers[1]!.get('/login?user=jack')
      await migrate(e.db, { tableName: ours })
      const options = { from, ...e.where(old), tableName: ours } as const
      expect(await importSessions(e.db, options)).toMatchObject({ read: 2, imported: 2, existing: 0 })

      const store = new KyselyStore(e.db, 0, { tableName: ours })
      const after = await serve(app(new ExpressSessionStore(store)))
      const [ivy, jack] = browsers.slice(0, 2).map((browser) => moveTo(browser, after))
      // Gone without a tombstone, as delete(), deleteBySubject() or cleanup leave a session.
      await store.delete(sha256(sidOf(browsers[0]!.cookies.get('connect.sid')!)))
      expect(await importSessions(e.db, options)).toMatchObject({ read: 2, imported: 0, existing: 2 })
      expect((await ivy!.get('/read')).text_).toBe('none')
      expect((await jack!.get('/read')).text_).toBe('jack')

      await store.clear()
      await browsers[2]!.get('/login?user=kim') // on the old store, after the first import
      expect(await importSessions(e.db, options)).toEqual({
        read: 3,
        imported: 1,
        existing: 2,
        expired: 0,
        invalid: 0,
      })
      expect((await ivy!.get('/read')).text_).toBe('none')
      expect((await jack!.get('/read')).text_).toBe('none')
      expect((await moveTo(browsers[2]!, after).get('/read')).text_).toBe('kim')
    })

    test('hashSids: false imports the ids as they are, for an adapter with hashSids: false', async () => {
      const old = table('old')
      const ours = table('ours')
      const browser = new Browser(await serve(app(await e.oldStore(old))))
      await browser.get('/login?user=erin')
      await migrate(e.db, { tableName: ours })
      await importSessions(e.db, { from, ...e.where(old), tableName: ours, hashSids: false })
      const store = new KyselyStore(e.db, 0, { tableName: ours })
      const after = moveTo(browser, await serve(app(new ExpressSessionStore(store, { hashSids: false }))))
      expect((await after.get('/read')).text_).toBe('erin')
      expect((await readRows(e.db, ours, e.family)).map((r) => r.token)).toEqual([
        sidOf(browser.cookies.get('connect.sid')!),
      ])
    })

    test('subject: imported sessions belong to their user', async () => {
      const old = table('old')
      const ours = table('ours')
      const browser = new Browser(await serve(app(await e.oldStore(old))))
      await browser.get('/login?user=frank')
      await migrate(e.db, { tableName: ours })
      await importSessions(e.db, { from, ...e.where(old), tableName: ours, subject: (s) => s.userId })
      expect((await readRows(e.db, ours, e.family)).map((r) => r.subject)).toEqual(['frank'])
    })
  })
}

describe('importSessions refuses bad options before any query', () => {
  const db = sqlite(':memory:')
  const other = sqlite(':memory:')
  afterAll(async () => {
    await db.destroy()
    await other.destroy()
  })
  test.each([
    [
      { from: 'connect-redis' },
      RangeError,
      "options.from must be one of 'connect-pg-simple', 'connect-session-knex', 'kysely-session-store'",
    ],
    [{ from: 'connect-pg-simple', table: 'a;b' }, RangeError, 'table must be a plain identifier'],
    [{ from: 'connect-pg-simple', batchSize: 0 }, RangeError, 'batchSize must be an integer from 1 to 5000'],
    [{ from: 'connect-pg-simple', hashSid: false }, TypeError, 'options.hashSid is not an option here'],
    [{ from: 'connect-pg-simple' }, RangeError, 'options.from: connect-pg-simple does not run on sqlite'],
    [
      { from: 'kysely-session-store', hashSids: false, tableName: 'hashed_sessions' },
      RangeError,
      "options.hashSids: from: 'kysely-session-store' stores each clear id hashed",
    ],
    [
      { from: 'kysely-session-store' },
      RangeError,
      'options.tableName: the clear-id table "sessions" cannot be the hashed one too',
    ],
    [
      { from: 'kysely-session-store', tableName: 'hashed_sessions', source: other },
      RangeError,
      "options.source: from: 'kysely-session-store' moves each session within one database",
    ],

    [
      { from: 'connect-session-knex' },
      RangeError,
      'options.tableName: our table must not be the old store\'s table "sessions"',
    ],
  ])('%o', async (options, type, message) => {
    const error = await importSessions(db, options as never).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(type)
    expect((error as Error).message).toContain(message)
  })
})

if (peers !== undefined)
  switchSuite('connect-session-knex on SQLite', 'connect-session-knex', async () => {
    const file = join(tempDir('import-'), 'app.db')
    const knex = peers.knex({
      client: 'better-sqlite3',
      connection: { filename: file },
      useNullAsDefault: true,
    })
    const db = sqlite(file)
    return {
      db,
      family: 'sqlite',
      oldStore: async (table) => knexStore(knex, table),
      where: (table) => ({ table }),
      drop: (table) => knex.schema.dropTableIfExists(table),
      expire: async (table, sid) => {
        await knex(table)
          .where('sid', sid)
          .update({ expired: new Date(Date.now() - 1000).toISOString() })
      },
      close: async () => {
        await knex.destroy()
        await db.destroy()
      },
    }
  })

type OldPgStore = expressSession.Store & { close(): Promise<void> }

/** connect-pg-simple as its README sets it up, creating its own table (its table.sql). */
function pgStore(pool: pg.Pool, tableName: string, schemaName?: string): OldPgStore {
  const PgStore = peers!.connectPgSimple(expressSession)
  const options = { pool, tableName, schemaName, createTableIfMissing: true, pruneSessionInterval: false }
  return new PgStore(options) as OldPgStore
}

function knexStore(knex: Knex, tableName: string): expressSession.Store {
  return new peers!.ConnectSessionKnexStore({
    knex,
    tableName,
    cleanupInterval: 0,
  }) as unknown as expressSession.Store
}

if (peers !== undefined)
  await withServer('Postgres', () => {
    switchSuite('connect-pg-simple on Postgres', 'connect-pg-simple', async () => {
      const pool = new pg.Pool({ connectionString: postgresUrl, max: 4 })
      const db = postgres(postgresUrl)
      const stores: OldPgStore[] = []
      return {
        db,
        family: 'postgres',
        // connect-pg-simple names its key and index after "session" whatever the table's name,
        // so a second table in one schema fails: each old store gets a schema of its own.
        oldStore: async (schemaName) => {
          await pool.query(`CREATE SCHEMA "${schemaName}"`)
          const store = pgStore(pool, 'session', schemaName)
          stores.push(store)
          return store
        },
        where: (schema) => ({ schema, table: 'session' }),
        drop: async (schema) => {
          await pool.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`)
        },
        expire: async (schema, sid) => {
          await pool.query(
            `UPDATE "${schema}".session SET expire = now() - interval '1 second' WHERE sid = $1`,
            [sid],
          )
        },
        close: async () => {
          for (const store of stores) await store.close()
          await pool.end()
          await db.destroy()
        },
      }
    })

    switchSuite('connect-session-knex on Postgres', 'connect-session-knex', async () => {
      const knex = peers.knex({ client: 'pg', connection: postgresUrl, pool: { min: 0, max: 4 } })
      const db = postgres(postgresUrl)
      return {
        db,
        family: 'postgres',
        oldStore: async (table) => knexStore(knex, table),
        where: (table) => ({ table }),
        drop: (table) => knex.schema.dropTableIfExists(table),
        expire: async (table, sid) => {
          await knex(table)
            .where('sid', sid)
            .update({ expired: new Date(Date.now() - 1000) })
        },
        close: async () => {
          await knex.destroy()
          await db.destroy()
        },
      }
    })

    describe('the command', () => {
      test('npx kysely-session-store import connect-pg-simple: creates our table, imports, says what it did', async () => {
        const old = randomTable('old')
        const ours = randomTable('ours')
        const pool = new pg.Pool({ connectionString: postgresUrl, max: 2 })
        await pool.query(`CREATE SCHEMA "${old}"`)
        const oldStore = pgStore(pool, 'session', old)
        const listening = await listen(app(oldStore))
        const browser = new Browser(listening.url)
        await browser.get('/login?user=grace')
        await listening.close()
        const run = (...args: string[]) =>
          promisify(execFile)(
            process.execPath,
            [
              '--import',
              'tsx',
              'bin/kysely-session-store.ts',
              'import',
              'connect-pg-simple',
              '--url',
              postgresUrl,
              ...args,
            ],
            { cwd: root, timeout: 30_000 },
          )
        const from = ['--from-schema', old, '--to', ours]
        const { stdout } = await run(...from, '--subject', 'passport.user,userId')
        expect(stdout).toMatch(/^read 1: imported 1, already there 0, expired 0, invalid 0 in [\d.]+ s/)
        expect((await run(...from)).stdout).toMatch(/^read 1: imported 0, already there 1,/)
        const db = postgres(postgresUrl)
        const rows = await readRows(db, ours, 'postgres')
        expect(rows.map((r) => [r.token, r.subject])).toEqual([
          [sha256(sidOf(browser.cookies.get('connect.sid')!)), 'grace'],
        ])
        await sql`DROP TABLE ${sql.table(ours)}`.execute(db)
        await sql`DROP TABLE ${sql.table(`${ours}_imported`)}`.execute(db)
        await sql`DROP SCHEMA ${sql.id(old)} CASCADE`.execute(db)
        await db.destroy()
        await oldStore.close()
        await pool.end()
      })

      test('a bad command prints the usage and exits 2', async () => {
        const error = (await promisify(execFile)(
          process.execPath,
          ['--import', 'tsx', 'bin/kysely-session-store.ts', 'import', 'connect-redis'],
          { cwd: root, timeout: 30_000 },
        ).catch((e: unknown) => e)) as { code: number; stderr: string }
        expect(error.code).toBe(2)
        const same = (await promisify(execFile)(
          process.execPath,
          [
            '--import',
            'tsx',
            'bin/kysely-session-store.ts',
            'import',
            'connect-session-knex',
            '--url',
            'sqlite::memory:',
          ],
          { cwd: root, timeout: 30_000 },
        ).catch((e: unknown) => e)) as { code: number; stderr: string }
        expect([same.code, same.stderr]).toEqual([
          2,
          'kysely-session-store: --to: our table must not be the old store\'s table "sessions": name ours otherwise (--to)\n',
        ])
        expect(error.stderr).toContain(
          'Usage: kysely-session-store import <connect-pg-simple | connect-session-knex | kysely-session-store>',
        )
      })
    })
  })

if (peers !== undefined)
  await withServer('MySQL', () => {
    switchSuite('connect-session-knex on MariaDB', 'connect-session-knex', async () => {
      const knex = peers.knex({ client: 'mysql2', connection: mysqlUrl, pool: { min: 0, max: 4 } })
      const db = mysql(mysqlUrl)
      return {
        db,
        family: 'mysql',
        oldStore: async (table) => knexStore(knex, table),
        where: (table) => ({ table }),
        drop: (table) => knex.schema.dropTableIfExists(table),
        expire: async (table, sid) => {
          const past = new Date(Date.now() - 1000).toISOString().slice(0, 19).replace('T', ' ')
          await knex(table).where('sid', sid).update({ expired: past })
        },
        close: async () => {
          await knex.destroy()
          await db.destroy()
        },
      }
    })
  })

describe('timeMs: a time as each driver returns it, in ms since the epoch', () => {
  const ms = Date.UTC(2024, 0, 1, 10, 0, 0, 500)
  test.each<[string, unknown, number | null]>([
    ['a Date (pg, PGlite)', new Date(ms), ms],
    ['a number (better-sqlite3, mysql2)', ms, ms],
    ['a bigint', BigInt(ms), ms],
    ['a BIGINT as text', String(ms), ms],
    ['an ISO string', '2024-01-01T10:00:00.500Z', ms],
    ["pg's timestamptz text, with a short offset", '2024-01-01 11:00:00.5+01', ms],
    ["SQLite's datetime(): no zone, so UTC", '2024-01-01 10:00:00.5', ms],
    ['SQL NULL', null, null],
    ['no time at all', 'soon', Number.NaN],
    ['an object', {}, Number.NaN],
  ])('%s', (_, value, expected) => {
    expect(timeMs(value)).toBe(expected)
  })
})
