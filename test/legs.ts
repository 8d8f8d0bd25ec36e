// One leg shape for every suite (conformance, session, frameworks, model): how to open a
// Kysely instance on one engine, and how to let go of it. Each engine's legs are defined once,
// and so is the store a suite opens on a leg (storeFixture).
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { PGlite } from '@electric-sql/pglite'
import {
  Kysely,
  MysqlDialect,
  PGliteDialect,
  PostgresDialect,
  SqliteDialect,
  type KyselyPlugin,
} from 'kysely'
import { createPool } from 'mysql2'
import pg from 'pg'
import { afterAll, beforeAll, inject } from 'vitest'
import { mysql } from '../dialects/mysql.js'
import { openPGliteTestDatabase, type PGliteTestDatabase } from '../dialects/pglite-testing.js'
import { postgres } from '../dialects/postgres.js'
import { sqlite } from '../dialects/sqlite.js'
import { KyselyStore, migrate, type FamilyName, type KyselyStoreOptions } from '../src/index.js'
import { randomTable } from './helpers.js'
import { betterSqlite3 } from './leg-packages.js'
import { mysqlUrl, postgresUrl } from './servers.js'

/** One way of reaching an engine: how to open its Kysely instance, and how to let go of it. */
export interface EngineLeg {
  /** What the suites call this leg in test names. */
  readonly name: string
  /** The SQL family the store should detect on this leg. */
  readonly family: FamilyName
  open(): Promise<Kysely<any>> | Kysely<any>
  close(db: Kysely<any>): Promise<void>
}

const destroy = (db: Kysely<any>) => db.destroy()

/** The data directory of a fresh PGlite, dumped once per run by test/global-setup.ts. */
export function pgliteTemplate(): Blob {
  return new Blob([readFileSync(inject('pgliteTemplate'))])
}

/**
 * A new PGlite, in memory or in `dataDir`, cloned from the template (about 0.5 s) rather
 * than made by initdb (about 3 s).
 */
export function freshPGlite(dataDir?: string): Promise<PGlite> {
  const options = { loadDataDir: pgliteTemplate() }
  return dataDir === undefined ? PGlite.create(options) : PGlite.create(dataDir, options)
}

/** Makes `dataDir` a ready PGlite data directory, as `pglite(dataDir)` would find it. */
export async function preparePGliteDirectory(dataDir: string): Promise<void> {
  await (await freshPGlite(dataDir)).close()
}

/**
 * A test database of the package's PGlite fixture (kysely-session-store/pglite/testing): a
 * schema of its own on this process's one PGlite, opened from the run's template. Nothing is
 * migrated in it: the suites migrate the tables they use.
 */
export function pgliteTestDatabase(): Promise<PGliteTestDatabase> {
  return openPGliteTestDatabase({ template: inject('pgliteTemplate'), setup: async () => undefined })
}

/** A leg on a PGlite test database, whose Kysely instance `kysely` makes from it. */
function pgliteLeg(name: string, kysely: (database: PGliteTestDatabase) => Kysely<any>): EngineLeg {
  const open = new Map<Kysely<any>, PGliteTestDatabase>()
  return {
    name,
    family: 'postgres',
    open: async () => {
      const database = await pgliteTestDatabase()
      const db = kysely(database)
      open.set(db, database)
      return db
    },
    // Closes the test database (its own Kysely instance, and its schema); the worker's PGlite
    // stays open for the next suite.
    close: async (db) => {
      await open.get(db)?.close()
      open.delete(db)
    },
  }
}

/** A temporary directory for the calling test file, removed after its tests. */
export function tempDir(prefix = 'kss-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix))
  afterAll(() => rmSync(dir, { recursive: true, force: true }))
  return dir
}

export const legs = {
  sqliteMemory: (): EngineLeg => ({
    name: 'SQLite :memory:',
    family: 'sqlite',
    open: () => sqlite(':memory:'),
    close: destroy,
  }),
  sqliteFile: (file: string): EngineLeg => ({
    name: 'SQLite file',
    family: 'sqlite',
    open: () => sqlite(file),
    close: destroy,
  }),
  /** Kysely's own SqliteDialect on a better-sqlite3 file in WAL mode. */
  sqliteStock: (file: string): EngineLeg => ({
    name: "SQLite file, Kysely's stock SqliteDialect",
    family: 'sqlite',
    open: () => {
      const database = new (betterSqlite3())(file)
      database.pragma('journal_mode = WAL')
      return new Kysely<any>({ dialect: new SqliteDialect({ database }) })
    },
    close: destroy,
  }),
  /** pglite(instance) on a PGlite test database; db.destroy() leaves the instance open. */
  pglite: (): EngineLeg => pgliteLeg('PGlite', (database) => database.db),
  /** Kysely's own PGliteDialect on a PGlite test database (never destroyed: that would close the instance). */
  pgliteStock: (): EngineLeg =>
    pgliteLeg("PGlite, Kysely's stock PGliteDialect", (database) => {
      return new Kysely<any>({ dialect: new PGliteDialect({ pglite: database.pglite }) })
    }),
  postgres: (): EngineLeg => ({
    name: 'Postgres',
    family: 'postgres',
    open: () => postgres(postgresUrl),
    close: destroy,
  }),
  /** postgres(url()) on a server of its own, started later (legs/postgres-versions: Postgres 14 to 18). */
  postgresAt: (name: string, url: () => string): EngineLeg => ({
    name,
    family: 'postgres',
    open: () => postgres(url()),
    close: destroy,
  }),
  /** postgres.js through kysely-postgres-js, both from legs/drivers. */
  postgresJs: ({ postgresJs, PostgresJSDialect }: typeof import('../legs/drivers/index.js')): EngineLeg => ({
    name: 'Postgres, postgres.js through kysely-postgres-js',
    family: 'postgres',
    // onnotice: postgres.js prints NOTICEs (CREATE ... IF NOT EXISTS on an existing table).
    open: () =>
      new Kysely<any>({
        dialect: new PostgresJSDialect({
          postgres: postgresJs(postgresUrl, { max: 10, onnotice: () => undefined }),
        }),
      }),
    close: destroy,
  }),
  postgresStock: (): EngineLeg => ({
    name: "Postgres, Kysely's stock PostgresDialect",
    family: 'postgres',
    open: () =>
      new Kysely<any>({
        dialect: new PostgresDialect({ pool: new pg.Pool({ connectionString: postgresUrl }) }),
      }),
    close: destroy,
  }),
  mysql: (): EngineLeg => ({
    name: 'MariaDB',
    family: 'mysql',
    open: () => mysql(mysqlUrl),
    close: destroy,
  }),
  mysqlStock: (): EngineLeg => ({
    name: "MariaDB, Kysely's stock MysqlDialect",
    family: 'mysql',
    open: () => new Kysely<any>({ dialect: new MysqlDialect({ pool: createPool({ uri: mysqlUrl }) }) }),
    close: destroy,
  }),
}

/** `leg` with Kysely plugins added (db.withPlugin): they see everything the store runs. */
export function withPlugins(name: string, leg: EngineLeg, plugins: KyselyPlugin[]): EngineLeg {
  const bases = new Map<Kysely<any>, Kysely<any>>()
  return {
    name,
    family: leg.family,
    open: async () => {
      const base = await leg.open()
      const db = plugins.reduce((on, plugin) => on.withPlugin(plugin), base)
      bases.set(db, base)
      return db
    },
    close: (db) => leg.close(bases.get(db) ?? db),
  }
}

/** What {@link storeFixture} opened, readable from the enclosing describe's tests on. */
export interface StoreFixture {
  readonly family: FamilyName
  /** The leg's Kysely instance. */
  readonly db: Kysely<any>
  /** A freshly migrated table of this fixture's own. */
  readonly table: string
  /** A store on that table, without background cleanup. */
  readonly store: KyselyStore
}

/**
 * Opens `leg` before the enclosing describe's tests, migrates a table of its own (named
 * `prefix` and random hex) and makes a store on it (`options`, cleanup off); after them, stops
 * the store, drops the table and closes the leg. The one set-up of the adapter and framework
 * suites.
 */
export function storeFixture(
  leg: EngineLeg,
  prefix: string,
  options: Omit<KyselyStoreOptions, 'tableName'> = {},
): StoreFixture {
  let opened: { db: Kysely<any>; table: string; store: KyselyStore } | undefined
  const get = () => {
    if (opened === undefined) throw new Error('storeFixture: read before its beforeAll ran')
    return opened
  }
  beforeAll(async () => {
    const db = await leg.open()
    const table = randomTable(prefix)
    try {
      await migrate(db, { tableName: table })
    } catch (error) {
      await leg.close(db)
      throw error
    }
    opened = { db, table, store: new KyselyStore(db, 0, { ...options, tableName: table }) }
  })
  afterAll(async () => {
    if (opened === undefined) return
    const { db, table, store } = opened
    await store.stopCleanup()
    await db.schema.dropTable(table).ifExists().execute()
    await leg.close(db)
  })
  return {
    family: leg.family,
    get db() {
      return get().db
    },
    get table() {
      return get().table
    },
    get store() {
      return get().store
    },
  }
}

/** `leg` under another name. */
export function named(name: string, leg: EngineLeg): EngineLeg {
  return { ...leg, name }
}
