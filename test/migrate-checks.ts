// Checks of migrate() that the server engines share (Postgres, MariaDB, and the SQLite file for
// the upgrade), each run by that engine's test file on its own database.
import { sql, type Kysely } from 'kysely'
import { expect } from 'vitest'
import { KyselyStore, migrate, SessionStoreError, type FamilyName } from '../src/index.js'
import { bytes, createVersion1Table, migrateInProcesses, randomToken, text } from './helpers.js'

/**
 * A table of version 0.1 with 50 sessions in it, upgraded by migrate() in 4 processes at once
 * (through the built package's `engine` entry, at `url`): all succeed, every session is kept,
 * and the new columns work. Before the upgrade, the store says the table lacks columns.
 */
export async function checkUpgradeInProcesses(
  db: Kysely<any>,
  family: FamilyName,
  engine: 'postgres' | 'mysql' | 'sqlite',
  url: string,
  table: string,
): Promise<void> {
  await createVersion1Table(db, family, table)
  const old = new KyselyStore(db, 0, { tableName: table })
  const missing = (await old.find('x').catch((e: unknown) => e)) as SessionStoreError
  expect(missing.code).toBe('missing_column')
  const inAnHour = Date.now() + 3600_000
  const expiry = family === 'postgres' ? new Date(inAnHour) : inAnHour // TIMESTAMPTZ, or ms
  for (let i = 0; i < 50; i++) {
    await sql`INSERT INTO ${sql.table(table)} (token, data, expiry) VALUES (${`v1-${i}`}, ${Buffer.from(`data ${i}`)}, ${expiry})`.execute(
      db,
    )
  }
  expect(await migrateInProcesses(engine, url, table)).toEqual(['ok', 'ok', 'ok', 'ok'])
  const store = new KyselyStore(db, 0, { tableName: table })
  for (let i = 0; i < 50; i++) expect(text(await store.find(`v1-${i}`))).toBe(`data ${i}`)
  await store.commit('v1-0', bytes('upgraded'), new Date(Date.now() + 60_000), { subject: 'u' })
  expect(await store.countBySubject('u')).toBe(1)
}

/**
 * The schema option, in an existing `schema` (a Postgres schema, a MySQL database): migrate()
 * makes the table there (twice: idempotent), the store uses it, and the default schema and an
 * absent table in `schema` are told apart in the errors.
 */
export async function checkSchemaOption(db: Kysely<any>, schema: string, table: string): Promise<void> {
  await migrate(db, { schema, tableName: table })
  await migrate(db, { schema, tableName: table })
  const { rows } = await sql<{ n: number }>`SELECT COUNT(*) AS n FROM information_schema.tables
    WHERE table_schema = ${schema} AND table_name = ${table}`.execute(db)
  expect(Number(rows[0]?.n)).toBe(1)
  const store = new KyselyStore(db, 0, { schema, tableName: table })
  const token = randomToken()
  await store.commit(token, bytes('elsewhere'), new Date(Date.now() + 60_000), { subject: 's' })
  expect(text(await store.find(token))).toBe('elsewhere')
  expect(await store.countBySubject('s')).toBe(1)
  const missing = (await new KyselyStore(db, 0, { tableName: table })
    .find(token)
    .catch((e: unknown) => e)) as SessionStoreError
  expect(missing.code).toBe('missing_table') // not in the default schema
  const absent = (await new KyselyStore(db, 0, { schema, tableName: 'absent' })
    .find(token)
    .catch((e: unknown) => e)) as SessionStoreError
  expect(absent.message).toContain(
    `table "${schema}.absent" does not exist: run migrate(db, { schema: '${schema}', tableName: 'absent' })`,
  )
}
