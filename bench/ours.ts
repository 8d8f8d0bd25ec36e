/**
 * What the store-level benchmark measures of ours: the built package in dist/ (what users
 * import, and what `npm run bench` builds first), not src/ run through tsx. tsx compiles with
 * esbuild's keepNames, which adds a `__name()` call for every closure the store creates on
 * each call: a Postgres find measured about 4% slower that way (interleaved rounds in one
 * process), a cost no user pays. The types come from src/, which dist/ is compiled from.
 */
import { existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import type * as Index from '../src/index.js'
import type * as MysqlDialect from '../dialects/mysql.js'
import type * as PgliteDialect from '../dialects/pglite.js'
import type * as PostgresDialect from '../dialects/postgres.js'
import type * as SqliteDialect from '../dialects/sqlite.js'

/** A module of dist/, by its path there (a string that TypeScript does not resolve). */
async function built<T>(path: string): Promise<T> {
  const url = new URL(`../dist/${path}`, import.meta.url)
  if (!existsSync(fileURLToPath(url))) {
    throw new Error(`bench: ${fileURLToPath(url)} is missing: run npm run build first (npm run bench does)`)
  }
  return (await import(url.href)) as T
}

const [index, mysqlDialect, pgliteDialect, postgresDialect, sqliteDialect] = await Promise.all([
  built<typeof Index>('src/index.js'),
  built<typeof MysqlDialect>('dialects/mysql.js'),
  built<typeof PgliteDialect>('dialects/pglite.js'),
  built<typeof PostgresDialect>('dialects/postgres.js'),
  built<typeof SqliteDialect>('dialects/sqlite.js'),
])

export const KyselyStore: typeof Index.KyselyStore = index.KyselyStore
export type KyselyStore = Index.KyselyStore
export const migrate: typeof Index.migrate = index.migrate
export const mysql: typeof MysqlDialect.mysql = mysqlDialect.mysql
export const pglite: typeof PgliteDialect.pglite = pgliteDialect.pglite
export const postgres: typeof PostgresDialect.postgres = postgresDialect.postgres
export const sqlite: typeof SqliteDialect.sqlite = sqliteDialect.sqlite
export type NodeSqliteDatabase = SqliteDialect.NodeSqliteDatabase
