// One leg shape for every suite (conformance, session, frameworks, model): how to open a
// Kysely instance on one engine, and how to let go of it. Each engine's legs are defined once.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { PGlite } from '@electric-sql/pglite'
import type { Kysely } from 'kysely'
import { afterAll, inject } from 'vitest'
import { mysql } from '../dialects/mysql.js'
import { pglite } from '../dialects/pglite.js'
import { postgres } from '../dialects/postgres.js'
import { sqlite } from '../dialects/sqlite.js'
import type { FamilyName } from '../src/index.js'
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
 * One PGlite instance for the calling test file, created on first use and closed after the
 * file's tests: even a cloned PGlite costs hundreds of MiB.
 */
export function sharedPGlite(): () => Promise<PGlite> {
  let shared: Promise<PGlite> | undefined
  afterAll(async () => (await shared)?.close())
  return () => (shared ??= freshPGlite())
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
  /** On a shared instance (see {@link sharedPGlite}); db.destroy() leaves it open. */
  pglite: (instance: () => Promise<PGlite>): EngineLeg => ({
    name: 'PGlite',
    family: 'postgres',
    open: async () => pglite(await instance()),
    close: destroy,
  }),
  postgres: (): EngineLeg => ({
    name: 'Postgres',
    family: 'postgres',
    open: () => postgres(postgresUrl),
    close: destroy,
  }),
  mysql: (): EngineLeg => ({
    name: 'MariaDB',
    family: 'mysql',
    open: () => mysql(mysqlUrl),
    close: destroy,
  }),
}

/** `leg` under another name. */
export function named(name: string, leg: EngineLeg): EngineLeg {
  return { ...leg, name }
}
