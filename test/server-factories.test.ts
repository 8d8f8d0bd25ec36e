// postgres() and mysql(): their options, the mistakes they refuse at once, and what they do to
// connections, on the machine's Postgres and MariaDB. The pooler, failover, silent-server and
// Galera legs are in test/topologies/ (npm run test:topologies).
import { sql, type Kysely } from 'kysely'
import { createPool } from 'mysql2'
import pg from 'pg'
import { describe, expect, test } from 'vitest'
import { mysql } from '../dialects/mysql.js'
import { ConnectionTimeoutError, postgres } from '../dialects/postgres.js'
import { postgresFamily, statementName } from '../src/families/postgres.js'
import { KyselyStore, migrate, SessionStoreError } from '../src/index.js'
import { connectionsNamed, randomTable, sleep, waitFor } from './helpers.js'
import { mysqlUrl, postgresUrl, withServer } from './servers.js'

const HOUR = 3600_000

describe('postgres() refuses wrong moves at once', () => {
  test('a pg.Client: pass a pg.Pool', () => {
    const client = new pg.Client({ connectionString: postgresUrl })
    expect(() => postgres(client as never)).toThrow(TypeError)
    expect(() => postgres(client as never)).toThrow(
      /^postgres\(poolOrConnectionString\): got a pg\.Client; pass a pg\.Pool/,
    )
  })

  test.each([
    ['mysql://root@db:3306/app', /'mysql:' is a MySQL URL: use mysql\(\)/],
    ['mariadb://root@db/app', /'mariadb:' is a MariaDB URL: use mysql\(\)/],
    ['file:./sessions.db', /this looks like a SQLite file: use sqlite\(\)/],
    ['file:/var/data/sessions', /'file:' is a file: use sqlite\(\)/],
    ['./sessions.sqlite', /this looks like a SQLite file/],
    [':memory:', /this looks like a SQLite file/],
    ['redis://cache:6379', /'redis:' is a Redis URL/],
    ['http://db.internal/app', /'http:' is an HTTP URL: give the database's own URL/],
    [
      'ftp://db.internal/app',
      /expected a postgres:\/\/ or postgresql:\/\/ or socket:\/\/ URL, got one with the scheme 'ftp:'/,
    ],
  ])('another engine’s URL %s: RangeError naming the right factory', (url, message) => {
    expect(() => postgres(url)).toThrow(RangeError)
    expect(() => postgres(url)).toThrow(message)
  })

  test('the password of a refused URL is never quoted', () => {
    expect(() => postgres('mysql://root:hunter2secret@db/app')).not.toThrow(/hunter2secret/)
  })

  test('postgres:// and postgresql:// URLs are accepted', () => {
    expect(() => postgres('postgresql://app@db/app')).not.toThrow()
    expect(() => postgres('postgres://app@db/app')).not.toThrow()
  })

  test.each([
    [
      'an unknown key',
      { poolsize: 3 },
      TypeError,
      /^options\.poolsize is not an option here; the options are: log, plugins, poolSize/,
    ],
    ['a dialect', { dialect: {} }, TypeError, /must not contain a dialect/],
    ['poolSize 0', { poolSize: 0 }, RangeError, /^options\.poolSize must be an integer from 1/],
    [
      'a fractional connectionTimeout',
      { connectionTimeout: 1.5 },
      RangeError,
      /^options\.connectionTimeout must be an integer/,
    ],
    ['idleTimeout as a string', { idleTimeout: '10s' }, TypeError, /^options\.idleTimeout must be a number/],
    [
      'preparedStatements as a string',
      { preparedStatements: 'no' },
      TypeError,
      /^options\.preparedStatements must be a boolean/,
    ],
    ['options that are not an object', 'fast', TypeError, /^options must be an object/],
  ])('%s in the options', (_, options, type, message) => {
    expect(() => postgres('postgres://app@db/app', options as never)).toThrow(type)
    expect(() => postgres('postgres://app@db/app', options as never)).toThrow(message)
  })

  test('pool options with a pool of yours: configure the pool instead', () => {
    const pool = new pg.Pool({ connectionString: postgresUrl })
    expect(() => postgres(pool, { poolSize: 3 })).toThrow(TypeError)
    expect(() => postgres(pool, { connectionTimeout: 3 })).toThrow(
      /^options\.connectionTimeout applies only to a pool postgres\(\) opens from a connection string; configure your pg\.Pool instead/,
    )
    expect(() => postgres(pool, { preparedStatements: false, log: ['error'] })).not.toThrow()
    void pool.end()
  })
})

describe('mysql() refuses wrong moves at once', () => {
  test.each([
    ['postgres://app@db:5432/app', /'postgres:' is a Postgres URL: use postgres\(\)/],
    ['postgresql://app@db/app', /'postgresql:' is a Postgres URL: use postgres\(\)/],
    ['sessions.db', /this looks like a SQLite file: use sqlite\(\)/],
  ])('another engine’s URL %s: RangeError naming the right factory', (url, message) => {
    expect(() => mysql(url)).toThrow(RangeError)
    expect(() => mysql(url)).toThrow(message)
  })

  test.each([
    ['an unknown key', { sessionVariable: {} }, TypeError, /^options\.sessionVariable is not an option here/],
    [
      'a variable name that is not an identifier',
      { sessionVariables: { 'x; DROP TABLE t': 1 } },
      RangeError,
      /is not a variable name/,
    ],
    [
      'a variable value that is an object',
      { sessionVariables: { wsrep_sync_wait: {} } },
      TypeError,
      /^options\.sessionVariables\.wsrep_sync_wait must be a string, a number or a boolean/,
    ],
    [
      'sessionVariables as an array',
      { sessionVariables: [] },
      TypeError,
      /^options\.sessionVariables must be an object/,
    ],
    ['causalReads as a string', { causalReads: 'yes' }, TypeError, /^options\.causalReads must be a boolean/],
    [
      'poolSize above the limit',
      { poolSize: 1e9 },
      RangeError,
      /^options\.poolSize must be an integer from 1 to 10000/,
    ],
  ])('%s in the options', (_, options, type, message) => {
    expect(() => mysql('mysql://app@db/app', options as never)).toThrow(type)
    expect(() => mysql('mysql://app@db/app', options as never)).toThrow(message)
  })

  test('pool options, sessionVariables or causalReads with a pool of yours: refused, saying what to do', () => {
    const pool = createPool({ uri: mysqlUrl })
    expect(() => mysql(pool, { poolSize: 3 })).toThrow(
      /^options\.poolSize applies only to a pool mysql\(\) opens/,
    )
    expect(() => mysql(pool, { sessionVariables: { wsrep_sync_wait: 1 } })).toThrow(
      /^options\.sessionVariables applies only to a pool mysql\(\) opens from a connection string; on your own pool, set session variables on each new connection: pool\.on\('connection'/,
    )
    expect(() => mysql(pool, { causalReads: false })).toThrow(TypeError)
    expect(() => mysql(pool, { log: ['error'] })).not.toThrow()
    pool.end()
  })
})

/** Names of the prepared statements of the session `db`'s one connection holds. */
async function preparedNames(db: ReturnType<typeof postgres>): Promise<string[]> {
  const { rows } = await sql<{ name: string }>`SELECT name FROM pg_prepared_statements ORDER BY name`.execute(
    db,
  )
  return rows.map((row) => row.name)
}

/**
 * With a pool of one connection held by another user past connectionTimeout (300 ms), a
 * store call rejects with a SessionStoreError whose cause is a ConnectionTimeoutError.
 */
async function checkBusyPool(db: Kysely<any>, prefix: string): Promise<void> {
  // No retries: this is the factory's bound (the store would retry the timed-out wait).
  const store = new KyselyStore(db, 0, { tableName: randomTable(), retryBudget: 0 })
  try {
    // The pool's one connection opened first, so that only the store's call waits past the
    // bound: opening it is bound by connectionTimeout too, which a loaded server can exceed.
    for (let attempt = 1; ; attempt++) {
      try {
        await sql`SELECT 1`.execute(db)
        break
      } catch (error) {
        if (attempt === 5) throw error
      }
    }
    const holding = db.connection().execute(() => sleep(1500))
    await sleep(100)
    const error = (await store.find('a-token').catch((e: unknown) => e)) as SessionStoreError
    expect(error).toBeInstanceOf(SessionStoreError)
    expect(error.cause).toBeInstanceOf(ConnectionTimeoutError)
    expect(error.message).toContain(`${prefix}no connection within 300 ms (the connectionTimeout option)`)
    await holding
  } finally {
    await db.destroy()
  }
}

await withServer('Postgres', () => {
  describe('postgres() named statements', () => {
    test('on a connection of its own, the store’s statements are prepared under their names', async () => {
      const db = postgres(postgresUrl, { poolSize: 1 })
      const table = randomTable('named')
      try {
        await migrate(db, { tableName: table })
        const store = new KyselyStore(db, 0, { tableName: table })
        await store.commit('a-token', new Uint8Array([1]), new Date(Date.now() + HOUR))
        await store.find('a-token')
        const { commit, find } = postgresFamily.statements({ schema: undefined, name: table })
        expect(await preparedNames(db)).toEqual([statementName(commit.sql), statementName(find.sql)].sort())
      } finally {
        await db.schema.dropTable(table).ifExists().execute()
        await db.destroy()
      }
    })

    test('preparedStatements: false names nothing', async () => {
      const db = postgres(postgresUrl, { poolSize: 1, preparedStatements: false })
      const table = randomTable('unnamed')
      try {
        await migrate(db, { tableName: table })
        const store = new KyselyStore(db, 0, { tableName: table })
        await store.commit('a-token', new Uint8Array([1]), new Date(Date.now() + HOUR))
        expect(await store.find('a-token')).toBeDefined()
        expect(await preparedNames(db)).toEqual([])
      } finally {
        await db.schema.dropTable(table).ifExists().execute()
        await db.destroy()
      }
    })

    test('inside a transaction of yours nothing is named (a failing name would abort it)', async () => {
      const db = postgres(postgresUrl, { poolSize: 1 })
      const table = randomTable('trx')
      try {
        await migrate(db, { tableName: table })
        const names = await db.transaction().execute(async (trx) => {
          const store = new KyselyStore(trx, 0, { tableName: table })
          await store.commit('a-token', new Uint8Array([1]), new Date(Date.now() + HOUR))
          await store.find('a-token')
          return preparedNames(trx)
        })
        expect(names).toEqual([])
      } finally {
        await db.schema.dropTable(table).ifExists().execute()
        await db.destroy()
      }
    })

    test('a name the session already holds (42P05, as behind a transaction-mode pooler): sent again unnamed, no error, and nothing named after', async () => {
      const db = postgres(postgresUrl, { poolSize: 1 })
      const table = randomTable('collide')
      try {
        await migrate(db, { tableName: table })
        const { find } = postgresFamily.statements({ schema: undefined, name: table })
        // Another client of a shared session prepared the statement first.
        await sql.raw(`PREPARE ${statementName(find.sql)} (text, timestamptz) AS ${find.sql}`).execute(db)
        const store = new KyselyStore(db, 0, { tableName: table })
        expect(await store.find('a-token')).toBeUndefined() // 42P05 on Parse, then unnamed
        await sql`DEALLOCATE ALL`.execute(db)
        await store.commit('a-token', new Uint8Array([7]), new Date(Date.now() + HOUR))
        expect([...((await store.find('a-token')) ?? [])]).toEqual([7])
        expect(await preparedNames(db)).toEqual([])
      } finally {
        await db.schema.dropTable(table).ifExists().execute()
        await db.destroy()
      }
    })

    test('a name the session lost (26000, the next client connection’s session): sent again unnamed, no error', async () => {
      const db = postgres(postgresUrl, { poolSize: 1 })
      const table = randomTable('lost')
      try {
        await migrate(db, { tableName: table })
        const store = new KyselyStore(db, 0, { tableName: table })
        await store.commit('a-token', new Uint8Array([1]), new Date(Date.now() + HOUR))
        await sql`DEALLOCATE ALL`.execute(db) // pg still believes the commit is prepared
        await store.commit('a-token', new Uint8Array([2]), new Date(Date.now() + HOUR))
        expect([...((await store.find('a-token')) ?? [])]).toEqual([2])
        expect(await preparedNames(db)).toEqual([])
      } finally {
        await db.schema.dropTable(table).ifExists().execute()
        await db.destroy()
      }
    })
  })

  describe('postgres() pool options', () => {
    test('idleTimeout: an unused connection is closed after it', async () => {
      const name = randomTable('idle')
      const db = postgres(`${postgresUrl}?application_name=${name}`, { poolSize: 1, idleTimeout: 1000 })
      const observer = postgres(postgresUrl)
      const open = () => connectionsNamed(observer, name)
      try {
        // The observer connects first, so that its look falls well inside the idle time.
        await sql`SELECT 1`.execute(observer)
        await sql`SELECT 1`.execute(db)
        expect(await open()).toBe(1)
        await waitFor(async () => (await open()) === 0)
      } finally {
        await db.destroy()
        await observer.destroy()
      }
    })
  })

  describe('postgres() connection timeout', () => {
    test('every connection busy past connectionTimeout: the statement rejects with a ConnectionTimeoutError as cause', async () => {
      await checkBusyPool(postgres(postgresUrl, { poolSize: 1, connectionTimeout: 300 }), '')
    })
  })
})

await withServer('MySQL', () => {
  describe('mysql() connections', () => {
    test('sessionVariables are set on every new connection, values bound', async () => {
      const db = mysql(mysqlUrl, {
        poolSize: 2,
        sessionVariables: { innodb_lock_wait_timeout: 7, time_zone: '+05:30' },
      })
      try {
        const read = (on: typeof db) =>
          sql<{
            wait: number
            zone: string
          }>`SELECT @@session.innodb_lock_wait_timeout AS wait, @@session.time_zone AS zone`.execute(on)
        // Two connections at once, so that both are new ones.
        const both = await Promise.all([
          db.connection().execute(async (c) => {
            await sleep(50)
            return read(c)
          }),
          db.connection().execute(async (c) => {
            await sleep(50)
            return read(c)
          }),
        ])
        for (const { rows } of both) expect(rows).toEqual([{ wait: 7, zone: '+05:30' }])
      } finally {
        await db.destroy()
      }
    })

    test('a SET that fails: the statement rejects with the cause, and the connection is not handed out or leaked', async () => {
      const db = mysql(mysqlUrl, {
        poolSize: 1,
        connectionTimeout: 2000,
        sessionVariables: { no_such_variable: 1 },
      })
      const store = new KyselyStore(db, 0, { tableName: randomTable() })
      try {
        for (let attempt = 0; attempt < 3; attempt++) {
          const error = (await store.find('a-token').catch((e: unknown) => e)) as SessionStoreError
          expect(error).toBeInstanceOf(SessionStoreError)
          expect((error.cause as { code?: string }).code).toBe('ER_UNKNOWN_SYSTEM_VARIABLE')
        }
      } finally {
        await db.destroy()
      }
    })

    test('idleTimeout: an unused connection is closed after it', async () => {
      const db = mysql(mysqlUrl, { poolSize: 2, idleTimeout: 1000 })
      const observer = mysql(mysqlUrl)
      try {
        // The observer connects first, so that its look falls well inside the idle time.
        await sql`SELECT 1`.execute(observer)
        const { rows } = await sql<{ id: number }>`SELECT CONNECTION_ID() AS id`.execute(db)
        const open = async () =>
          (
            await sql`SELECT ID FROM information_schema.PROCESSLIST WHERE ID = ${rows[0]!.id}`.execute(
              observer,
            )
          ).rows.length
        expect(await open()).toBe(1)
        await waitFor(async () => (await open()) === 0)
      } finally {
        await db.destroy()
        await observer.destroy()
      }
    })

    test('causal reads change nothing on a server that is not a Galera node', async () => {
      const db = mysql(mysqlUrl)
      try {
        const { rows } = await sql<{
          on: string
          wait: number
        }>`SELECT @@global.wsrep_on AS \`on\`, @@session.wsrep_sync_wait AS wait`.execute(db)
        expect(rows).toEqual([{ on: 0, wait: 0 }])
      } finally {
        await db.destroy()
      }
    })

    test('every connection busy past connectionTimeout: the statement rejects with a ConnectionTimeoutError as cause', async () => {
      await checkBusyPool(mysql(mysqlUrl, { poolSize: 1, connectionTimeout: 300 }), 'mysql(): ')
    })
  })
})
