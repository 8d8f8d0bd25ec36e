// The package as users install it: its exports, its subpaths, its example, in child processes.
// `npm test` builds dist/ first (pretest), so these import 'kysely-session-store' itself.
import { execFile } from 'node:child_process'
import { readdirSync, readFileSync } from 'node:fs'
import { dirname, join, relative, resolve } from 'node:path'
import { promisify } from 'node:util'
import { describe, expect, test } from 'vitest'

const root = join(import.meta.dirname, '..')
const exec = promisify(execFile)

async function node(script: string, options: { block?: string; timeout?: number } = {}) {
  const args = ['--input-type=module', '-e', script]
  if (options.block !== undefined) args.unshift('--import', './test/fixtures/without-drivers.mjs')
  return exec(process.execPath, args, {
    cwd: root,
    env: { ...process.env, BLOCK: options.block ?? '' },
    timeout: options.timeout ?? 20_000,
  })
}

describe('the package', () => {
  // The child's own bound (60 s), not vitest's default 30 s: a loaded machine makes PGlite's start slow.
  test(
    "the README's main command runs the quickstart on PGlite and says what happened",
    { timeout: 90_000 },
    async () => {
      const { stdout } = await exec(process.execPath, ['examples/quickstart.js'], {
        cwd: root,
        timeout: 60_000,
      })
      expect(stdout).toContain('found it: {"user":"alice","visits":1}')
      expect(stdout).toContain('31 minutes later, find gives: undefined')
      expect(stdout).toContain('cleanup deleted 1 expired row(s)')
      expect(stdout.trim().split('\n').at(-1)).toBe('done')
    },
  )

  test('the cleanup timer does not keep a process alive', async () => {
    const started = Date.now()
    const { stdout } = await node(`
      import { KyselyStore, migrate } from 'kysely-session-store'
      import { sqlite } from 'kysely-session-store/sqlite'
      const db = sqlite(':memory:')
      await migrate(db)
      new KyselyStore(db, 60_000) // never stopped: the process must still end
      console.log('ready')
    `)
    expect(stdout.trim()).toBe('ready')
    expect(Date.now() - started).toBeLessThan(15_000) // far below the 60 s interval
  })

  test("the sqlite entry works where neither 'pg' nor '@electric-sql/pglite' is installed", async () => {
    const { stdout } = await node(
      `
      import { KyselyStore, migrate } from 'kysely-session-store'
      import { sqlite } from 'kysely-session-store/sqlite'
      const db = sqlite(':memory:')
      await migrate(db)
      const store = new KyselyStore(db, 0)
      await store.commit('t', new Uint8Array([1, 2, 3]), new Date(Date.now() + 60_000))
      console.log([...(await store.find('t'))].join(','))
      await db.destroy()
    `,
      { block: 'pg,@electric-sql/pglite' },
    )
    expect(stdout.trim()).toBe('1,2,3')
  })

  test('a factory whose driver is missing says which package to install', async () => {
    const { stdout } = await node(
      `
      import { KyselyStore, migrate, SessionStoreError } from 'kysely-session-store'
      import { postgres } from 'kysely-session-store/postgres'
      import { pglite } from 'kysely-session-store/pglite'
      for (const db of [postgres('postgres://localhost/x'), pglite()]) {
        const error = await new KyselyStore(db, 0).find('t').catch((e) => e)
        console.log(error instanceof SessionStoreError, error.message)
      }
    `,
      { block: 'pg,@electric-sql/pglite' },
    )
    expect(stdout).toContain(
      'true find on table "sessions" failed: postgres(): the optional peer dependency \'pg\' is not installed: run npm install pg',
    )
    expect(stdout).toContain(
      "pglite(): the optional peer dependency '@electric-sql/pglite' is not installed: run npm install @electric-sql/pglite",
    )
  })

  test('every subpath of the exports map loads from the built package', async () => {
    const { stdout } = await node(`
      const entries = {
        'kysely-session-store': ['KyselyStore', 'migrate', 'SessionManager', 'SessionStoreError', 'jsonCodec'],
        'kysely-session-store/postgres': ['postgres'],
        'kysely-session-store/pglite': ['pglite', 'DataDirectoryInUseError'],
        'kysely-session-store/sqlite': ['sqlite'],
        'kysely-session-store/mysql': ['mysql'],
        'kysely-session-store/express': ['ExpressSessionStore'],
      }
      for (const [entry, names] of Object.entries(entries)) {
        const module = await import(entry)
        console.log(entry, names.every((name) => typeof module[name] !== 'undefined'))
      }
    `)
    expect(
      stdout
        .trim()
        .split('\n')
        .map((line) => line.split(' ')[1]),
    ).toEqual(Array(6).fill('true'))
  })

  test('the schema files are exported once, and dist carries no copy: migrate() reads no file', async () => {
    const { stdout } = await node(`
      import { existsSync, readFileSync } from 'node:fs'
      const resolved = import.meta.resolve('kysely-session-store/schema/postgres.sql')
      const source = readFileSync(new URL(resolved), 'utf8')
      const copy = new URL('../schema', import.meta.resolve('kysely-session-store'))
      console.log(source.includes('expiry TIMESTAMPTZ NOT NULL'), existsSync(copy))
    `)
    expect(stdout.trim()).toBe('true false')
  })

  test('the core never imports a factory: no module under src/ imports from dialects/', () => {
    const files = readdirSync(join(root, 'src'), { recursive: true, encoding: 'utf8' })
      .filter((file) => file.endsWith('.ts'))
      .map((file) => join(root, 'src', file))
    const specifier = /(?:from\s*|import\s*\(\s*|import\s+)['"]([^'"]+)['"]/g
    const edges: string[] = []
    for (const file of files) {
      for (const [, target] of readFileSync(file, 'utf8').matchAll(specifier)) {
        if (!target!.startsWith('.')) continue
        const to = relative(root, resolve(dirname(file), target!))
        if (to.startsWith('dialects')) edges.push(`${relative(root, file)} -> ${to}`)
      }
    }
    expect(files.length).toBeGreaterThan(20)
    expect(edges).toEqual([])
  })
})
