import { sql } from 'kysely'
import { createPool } from 'mysql2'
import mysql2 from 'mysql2/promise'
import { describe, expect, test } from 'vitest'
import { mysql } from '../dialects/mysql.js'
import { KyselyStore, migrate } from '../src/index.js'
import { conformance } from './conformance.js'
import { legs, named } from './legs.js'
import { checkSchemaOption } from './migrate-checks.js'
import { sessionConformance } from './session-suite.js'
import { bytes, randomTable, readRows, sleep } from './helpers.js'
import { mysqlUrl, withServer } from './servers.js'

await withServer('MySQL', () => {
  conformance(named('MariaDB, mysql(connectionString) factory', legs.mysql()))
  conformance(legs.mysqlStock())
  sessionConformance(legs.mysql())

  describe('mysql() factory and migrate() on a server', () => {
    test("a pool passed in is the caller's: db.destroy() leaves it open", async () => {
      const pool = createPool({ uri: mysqlUrl })
      const db = mysql(pool)
      expect((await sql<{ one: number }>`SELECT 1 AS one`.execute(db)).rows).toEqual([{ one: 1 }])
      await db.destroy()
      const rows = await new Promise((resolve, reject) =>
        pool.query('SELECT 2 AS two', (error, result) => (error ? reject(error) : resolve(result))),
      )
      expect(rows).toEqual([{ two: 2 }])
      await new Promise((resolve) => pool.end(resolve))
    })

    test('the table holds expiry as BIGINT milliseconds, independent of the time zone', async () => {
      const db = mysql(mysqlUrl)
      const table = randomTable('tz')
      try {
        await migrate(db, { tableName: table })
        const expiry = new Date(Date.UTC(2040, 0, 19, 3, 14, 8, 7)) // past 2038
        await db.connection().execute(async (connection) => {
          await sql`SET time_zone = '+05:30'`.execute(connection)
          await new KyselyStore(connection, 0, { tableName: table }).commit('t', bytes('x'), expiry)
        })
        const { rows } = await sql<{ type: string }>`SELECT DATA_TYPE AS type FROM information_schema.columns
          WHERE table_schema = DATABASE() AND table_name = ${table} AND column_name = 'expiry'`.execute(db)
        expect(rows[0]?.type).toBe('bigint')
        expect((await readRows(db, table, 'mysql'))[0]?.expiry).toBe(expiry.getTime())
      } finally {
        await db.schema.dropTable(table).ifExists().execute()
        await db.destroy()
      }
    })

    test('the schema option puts the table in another MySQL database, for migrate() and the store', async () => {
      const db = mysql(mysqlUrl)
      const schema = randomTable('kss_schema')
      const table = randomTable('in_schema')
      try {
        await sql.raw(`CREATE DATABASE ${schema}`).execute(db)
        await checkSchemaOption(db, schema, table)
      } finally {
        await sql.raw(`DROP DATABASE IF EXISTS ${schema}`).execute(db)
        await db.destroy()
      }
    })

    test('a statement chosen as a deadlock victim is run again, and succeeds', async () => {
      const db = mysql(mysqlUrl)
      const table = randomTable('deadlock')
      const other = await mysql2.createConnection({ uri: mysqlUrl })
      try {
        await migrate(db, { tableName: table })
        const store = new KyselyStore(db, 0, { tableName: table, now: () => 1000 })
        await store.commit('p', bytes('p'), new Date(1))
        await store.commit('q', bytes('q'), new Date(2))
        // Another transaction, made heavier than one cleanup statement (InnoDB rolls back the
        // lighter one), holds row q.
        await other.query(`CREATE TABLE \`${table}_w\` (n INT PRIMARY KEY)`)
        await other.query('BEGIN')
        await other.query(`INSERT INTO \`${table}_w\` SELECT seq FROM seq_1_to_200`)
        await other.query(`SELECT token FROM \`${table}\` WHERE token = 'q' FOR UPDATE`)
        // The cleanup deletes p (expiry order), then waits for q ...
        const cleanup = store.cleanup()
        await sleep(300)
        // ... and the other transaction now wants p: a deadlock, and the lighter cleanup is the victim.
        await other.query(`SELECT token FROM \`${table}\` WHERE token = 'p' FOR UPDATE`)
        await other.query('COMMIT')
        expect(await cleanup).toBe(2) // run again after the deadlock, it deleted p and q
        expect((await readRows(db, table, 'mysql')).map((row) => row.token)).not.toContain('p')
      } finally {
        await other.query(`DROP TABLE IF EXISTS \`${table}_w\``).catch(() => undefined)
        await other.end()
        await db.schema.dropTable(table).ifExists().execute()
        await db.destroy()
      }
    })

    test.each([
      ['a number', 42],
      ['an empty string', ''],
      ['an object without getConnection()', { end() {} }],
    ])('refuses %s with a TypeError naming the argument', (_, argument) => {
      expect(() => mysql(argument as string)).toThrow(TypeError)
      expect(() => mysql(argument as string)).toThrow(/^mysql\(poolOrConnectionString\): expected/)
    })
  })
})
