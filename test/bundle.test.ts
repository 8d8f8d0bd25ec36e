// Apps on serverless platforms ship one bundled file. migrate() must work there: the DDL is
// built in code, so the bundle needs no schema/ directory and no node_modules beside it.
import { execFile } from 'node:child_process'
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { build } from 'esbuild'
import { afterAll, expect, inject, test } from 'vitest'
import { withBetterSqlite3 } from './leg-packages.js'

const root = join(import.meta.dirname, '..')
const exec = promisify(execFile)
const dirs: string[] = []
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true })
})

// The app: migrate, commit, find. The drivers' handles come from the process that runs it
// (a native addon and a WebAssembly module are not bundled into one file), so the bundle
// itself imports nothing.
const app = `
import { KyselyStore, migrate } from 'kysely-session-store'
import { sqlite } from 'kysely-session-store/sqlite'
import { pglite } from 'kysely-session-store/pglite'

export async function run(engine, handle) {
  const db = engine === 'sqlite' ? sqlite(handle) : pglite(handle)
  await migrate(db)
  const store = new KyselyStore(db, 0)
  await store.commit('t', new TextEncoder().encode('bundled'), new Date(Date.now() + 60_000))
  return new TextDecoder().decode(await store.find('t'))
}
`

withBetterSqlite3('the esbuild bundle run on better-sqlite3 and PGlite', () =>
  test('an esbuild bundle that calls migrate() runs with no schema/ and no node_modules beside it', async () => {
    const source = mkdtempSync(join(root, '.bundle-src-'))
    const out = mkdtempSync(join(tmpdir(), 'kss-bundle-'))
    dirs.push(source, out)
    writeFileSync(join(source, 'app.mjs'), app)
    await build({
      entryPoints: [join(source, 'app.mjs')],
      outfile: join(out, 'app.mjs'),
      bundle: true,
      platform: 'node',
      format: 'esm',
      external: ['better-sqlite3', '@electric-sql/pglite', 'pg', 'mysql2'],
      logLevel: 'silent',
    })
    rmSync(source, { recursive: true, force: true })
    expect(readdirSync(out)).toEqual(['app.mjs'])
    const runner = `
    import Database from 'better-sqlite3'
    import { readFileSync } from 'node:fs'
    import { PGlite } from '@electric-sql/pglite'
    const { run } = await import(process.env.BUNDLE)
    const database = new Database(':memory:')
    console.log(await run('sqlite', database))
    database.close()
    const loadDataDir = new Blob([readFileSync(process.env.TEMPLATE)]) // a ready PGlite, cloned
    const instance = await PGlite.create({ loadDataDir })
    console.log(await run('pglite', instance))
    await instance.close()
  `
    const { stdout } = await exec(process.execPath, ['--input-type=module', '-e', runner], {
      cwd: root,
      env: { ...process.env, BUNDLE: join(out, 'app.mjs'), TEMPLATE: inject('pgliteTemplate') },
      timeout: 60_000,
    })
    expect(stdout.trim().split('\n')).toEqual(['bundled', 'bundled'])
  }),
)
