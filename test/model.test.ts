import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { PGlite } from '@electric-sql/pglite'
import { afterAll } from 'vitest'
import { mysql } from '../dialects/mysql.js'
import { pglite } from '../dialects/pglite.js'
import { postgres } from '../dialects/postgres.js'
import { sqlite } from '../dialects/sqlite.js'
import { modelSuite } from './model.js'
import { mysqlUrl, postgresUrl, withServer } from './servers.js'

// The quick run: 25 random sequences of up to 30 commands per engine, each on a fresh table.
// scripts/model-run.ts is the long run.
const RUNS = 25

const dir = mkdtempSync(join(tmpdir(), 'kss-model-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

// A fresh PGlite costs seconds and hundreds of MiB: one instance for this file.
let shared: Promise<PGlite> | undefined
const instance = () => (shared ??= PGlite.create())
afterAll(async () => (await shared)?.close())

const destroy = (db: { destroy(): Promise<void> }) => db.destroy()

modelSuite('SQLite :memory:', async () => sqlite(':memory:'), destroy, RUNS)
modelSuite('SQLite file', async () => sqlite(join(dir, 'model.db')), destroy, RUNS)
modelSuite('PGlite', async () => pglite(await instance()), destroy, RUNS)

await withServer('Postgres', () => {
  modelSuite('Postgres', async () => postgres(postgresUrl), destroy, RUNS)
})

await withServer('MySQL', () => {
  modelSuite('MariaDB', async () => mysql(mysqlUrl), destroy, RUNS)
})
