// migrate() run by 4 processes at once, through the built package, on every engine that a
// process can share: child processes make these the slow part of each engine's checks, so
// they run in npm run test:all, not in npm test.
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, test } from 'vitest'
import { mysql } from '../dialects/mysql.js'
import { postgres } from '../dialects/postgres.js'
import { sqlite } from '../dialects/sqlite.js'
import { KyselyStore } from '../src/index.js'
import { bytes, migrateInProcesses, randomTable, randomToken, readRows, text } from './helpers.js'
import { checkUpgradeInProcesses } from './migrate-checks.js'
import { mysqlUrl, postgresUrl, withServer } from './servers.js'

const dir = mkdtempSync(join(tmpdir(), 'kss-processes-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

describe('migrate() in 4 processes at once on SQLite', () => {
  test('run by 4 processes at once on a file holding a table of version 0.1: all succeed, every session kept', async () => {
    const file = join(dir, 'upgrade.db')
    const db = sqlite(file)
    try {
      await checkUpgradeInProcesses(db, 'sqlite', 'sqlite', file, 'sessions')
    } finally {
      await db.destroy()
    }
  })
})

await withServer('Postgres', () => {
  describe('migrate() in 4 processes at once on Postgres', () => {
    test('migrate() run by 4 processes at once on a table of version 0.1 with sessions in it: all succeed, every session kept', async () => {
      const table = randomTable('upgrade')
      const db = postgres(postgresUrl)
      try {
        await checkUpgradeInProcesses(db, 'postgres', 'postgres', postgresUrl, table)
      } finally {
        await db.schema.dropTable(table).ifExists().execute()
        await db.destroy()
      }
    })

    test('migrate() run by 4 processes at once on one table: all succeed', async () => {
      const table = randomTable('race')
      const results = await migrateInProcesses('postgres', postgresUrl, table)
      const db = postgres(postgresUrl)
      try {
        expect(results).toEqual(['ok', 'ok', 'ok', 'ok'])
        expect(await readRows(db, table, 'postgres')).toEqual([])
      } finally {
        await db.schema.dropTable(table).ifExists().execute()
        await db.destroy()
      }
    })
  })
})

await withServer('MySQL', () => {
  describe('migrate() in 4 processes at once on MariaDB', () => {
    test('migrate() run by 4 processes at once on a table of version 0.1 with sessions in it: all succeed, every session kept', async () => {
      const table = randomTable('upgrade')
      const db = mysql(mysqlUrl)
      try {
        await checkUpgradeInProcesses(db, 'mysql', 'mysql', mysqlUrl, table)
      } finally {
        await db.schema.dropTable(table).ifExists().execute()
        await db.destroy()
      }
    })

    test('migrate() run by 4 processes at once on one table: all succeed', async () => {
      const table = randomTable('race')
      const results = await migrateInProcesses('mysql', mysqlUrl, table)
      const db = mysql(mysqlUrl)
      try {
        expect(results).toEqual(['ok', 'ok', 'ok', 'ok'])
        const store = new KyselyStore(db, 0, { tableName: table })
        const token = randomToken()
        await store.commit(token, bytes('raced'), new Date(Date.now() + 60_000))
        expect(text(await store.find(token))).toBe('raced')
      } finally {
        await db.schema.dropTable(table).ifExists().execute()
        await db.destroy()
      }
    })
  })
})
