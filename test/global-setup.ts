// A fresh PGlite runs initdb: about 3 s and hundreds of MiB each time. Once per test run, the
// package's own fixture writes a fresh data directory image (createPGliteTemplate); each test
// process opens its one PGlite from it (about 0.5 s), and each suite gets a schema on it.
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { TestProject } from 'vitest/node'
import { createPGliteTemplate } from '../dialects/pglite-testing.js'
import { whichSqliteDriver } from '../dialects/sqlite.js'

declare module 'vitest' {
  export interface ProvidedContext {
    pgliteTemplate: string
  }
}

export default async function setup(project: TestProject) {
  // Every engine file opens SQLite with sqlite(path): say once why it cannot, not in each test.
  await whichSqliteDriver().catch((error: Error) => {
    throw new Error(
      `the tests open SQLite with sqlite(path), which cannot here (${error.message}): ` +
        'use Node 22.13+ (node:sqlite), or run npm run legs:install -- better-sqlite3',
    )
  })
  const dir = mkdtempSync(join(tmpdir(), 'kss-template-'))
  project.provide('pgliteTemplate', await createPGliteTemplate(join(dir, 'pglite.tar')))
  return () => rmSync(dir, { recursive: true, force: true })
}
