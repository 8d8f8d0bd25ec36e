// A fast PGlite for test suites. A new PGlite runs initdb (seconds, hundreds of MiB), so a
// test run makes one data directory image (createPGliteTemplate, in a global set-up), each
// test worker process opens ONE PGlite from it, and each test file gets a schema of its own on
// that instance, migrated, and dropped when the file is done (openPGliteTestDatabase).
import { existsSync } from 'node:fs'
import { readFile, rename, rm, writeFile } from 'node:fs/promises'
import { randomBytes } from 'node:crypto'
import type { Kysely, KyselyConfig } from 'kysely'
import { migrate } from '../src/index.js'
import { pglite, type PGliteLike } from './pglite.js'
import { checkKyselyKeys, optionalPeer, refuseUnknownKeys } from './shared.js'

/** Options of {@link openPGliteTestDatabase}; unknown keys are refused. */
export interface PGliteTestDatabaseOptions {
  /**
   * A file written by {@link createPGliteTemplate}: the worker's PGlite is loaded from it
   * (about 0.5 s) instead of being made by initdb (3 s or more). Read by the first call in a
   * process, which opens the worker's PGlite; later calls use that instance.
   * @default undefined (initdb, once per worker process)
   */
  readonly template?: string | undefined
  /**
   * Prepares the file's fresh, empty schema, which is the connection's `search_path` while
   * the test database is open: your own migrations go here too (Kysely's `Migrator`, for one).
   * @default (db) => migrate(db): the session table, named "sessions"
   */
  readonly setup?: ((db: Kysely<any>) => Promise<void>) | undefined
  /** Further Kysely options (`log`, `plugins`) for {@link PGliteTestDatabase.db}. */
  readonly config?: Omit<KyselyConfig, 'dialect'> | undefined
}

/** One test file's database: a schema of its own on the worker's PGlite. */
export interface PGliteTestDatabase extends AsyncDisposable {
  /** A Kysely instance on the file's schema: pass it to `new KyselyStore(db)` and your app. */
  readonly db: Kysely<any>
  /** The file's schema: unqualified table names resolve to it while the database is open. */
  readonly schema: string
  /** The worker's PGlite instance, shared by every file the worker runs: never close it. */
  readonly pglite: PGliteLike
  /**
   * Destroys {@link PGliteTestDatabase.db}, drops the schema and everything in it, and leaves
   * the worker's PGlite open for the next file. Stop your stores' cleanup first. Calling it
   * again does nothing.
   */
  close(): Promise<void>
}

const NAME = 'openPGliteTestDatabase'

/** What one process keeps across test files: its PGlite, and which schema is open on it. */
interface WorkerState {
  instance?: Promise<PGliteLike> | undefined
  open?: string | undefined
  files: number
}

// On globalThis under a registered symbol, not in a module variable: a test runner that loads
// this module again for each file (vitest without isolation re-runs inlined modules) still
// finds the one instance of its process.
const STATE = Symbol.for('kysely-session-store/pglite-testing')

function workerState(): WorkerState {
  const holder = globalThis as { [STATE]?: WorkerState }
  return (holder[STATE] ??= { files: 0 })
}

async function loadPGlite(caller: string) {
  return optionalPeer('@electric-sql/pglite', caller, () => import('@electric-sql/pglite'))
}

/**
 * Makes a fresh PGlite data directory once and writes it to `file` (about 40 MB, not
 * compressed), for {@link openPGliteTestDatabase}'s `template` option. Call it once per test
 * run, in the runner's global set-up (vitest `globalSetup`, Jest `globalSetup`), before any
 * worker starts; resolves to `file`.
 *
 * With `reuse: true` an existing `file` is kept as it is and nothing is made (no initdb):
 * keep the file between runs (in `node_modules/.cache`, say) and a run skips initdb (2.5 s
 * or more). A file from another PGlite version may not load: delete it after upgrading
 * PGlite (opening a template that does not load says so). The file is written whole or not at
 * all (a temporary file, then a rename), so a run that starts meanwhile never reads half of it.
 *
 * @param file - where to write the image; its folder must exist.
 * @param options - `reuse`: keep an existing `file` (default false: always write it anew); unknown keys are refused.
 *
 * @example
 * ```ts
 * // vitest.global-setup.ts, named in vitest.config.ts: test.globalSetup
 * import { mkdir } from 'node:fs/promises'
 * import { createPGliteTemplate } from 'kysely-session-store/pglite/testing'
 *
 * export default async function setup() {
 *   await mkdir('node_modules/.cache', { recursive: true })
 *   // Kept between runs (delete it after upgrading PGlite); workers inherit the variable.
 *   process.env.PGLITE_TEMPLATE = await createPGliteTemplate('node_modules/.cache/pglite-template.tar', {
 *     reuse: true,
 *   })
 * }
 * ```
 */
export async function createPGliteTemplate(
  file: string,
  options: { readonly reuse?: boolean | undefined } = {},
): Promise<string> {
  if (typeof file !== 'string' || file.length === 0) {
    throw new TypeError(`createPGliteTemplate(file): expected a file path, got ${shown(file)}`)
  }
  if (typeof options !== 'object' || options === null) {
    throw new TypeError(
      `createPGliteTemplate(file, options): expected an object such as { reuse: true }, got ${shown(options)}`,
    )
  }
  refuseUnknownKeys('createPGliteTemplate(file, options)', options, ['reuse'])
  if (options.reuse !== undefined && typeof options.reuse !== 'boolean') {
    throw new TypeError(
      `createPGliteTemplate(file, options.reuse): expected true or false, got ${shown(options.reuse)}`,
    )
  }
  if (options.reuse === true && existsSync(file)) return file
  const { PGlite } = await loadPGlite('createPGliteTemplate')
  const instance = await PGlite.create()
  try {
    const image = await instance.dumpDataDir('none')
    const partial = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.partial`
    try {
      await writeFile(partial, new Uint8Array(await image.arrayBuffer()))
      await rename(partial, file)
    } finally {
      await rm(partial, { force: true })
    }
  } finally {
    await instance.close()
  }
  return file
}

/**
 * Opens the calling test file's database: a new schema on the one PGlite instance of this
 * process (opened by the first call, from `template` when given), made the connection's
 * `search_path`, and set up by `setup` (by default `migrate(db)`). About 20 ms once the
 * instance is open. {@link PGliteTestDatabase.close} drops the schema, so nothing one file
 * writes is seen by the next, and leaves the instance open for it.
 *
 * One test database is open at a time per process: `search_path` belongs to PGlite's one
 * connection, and a test runner runs a worker's files one after another. Opening a second
 * before closing the first is refused.
 *
 * The instance is shared by the files of a worker process only when the runner reuses the
 * process for several files: vitest with `isolate: false`, `node --test --test-isolation=none`
 * (Node 22.8 and later). Where every file gets a process of its own (vitest's default, Jest,
 * `node --test`), each file opens an instance from the template (about 0.5 s, not 3 s).
 *
 * @param options - the template, the set-up of each schema, Kysely options; unknown keys are refused.
 *
 * @example
 * ```ts
 * // a test file (vitest; Jest and node:test have the same beforeAll and afterAll)
 * import { afterAll, beforeAll, expect, test } from 'vitest'
 * import { KyselyStore } from 'kysely-session-store'
 * import { openPGliteTestDatabase, type PGliteTestDatabase } from 'kysely-session-store/pglite/testing'
 *
 * let database: PGliteTestDatabase
 * let store: KyselyStore
 * beforeAll(async () => {
 *   database = await openPGliteTestDatabase({ template: process.env.PGLITE_TEMPLATE })
 *   store = new KyselyStore(database.db, 0) // 0: no background cleanup in tests
 * })
 * afterAll(() => database.close())
 *
 * test('a committed session is found', async () => {
 *   await store.commit('token', new Uint8Array([1]), new Date(Date.now() + 60_000))
 *   expect(await store.find('token')).toEqual(new Uint8Array([1]))
 * })
 * ```
 */
export async function openPGliteTestDatabase(
  options: PGliteTestDatabaseOptions = {},
): Promise<PGliteTestDatabase> {
  const { template, setup, config } = checkOptions(options)
  const state = workerState()
  if (state.open !== undefined) {
    throw new Error(
      `${NAME}(): the test database of schema "${state.open}" is still open on this process's PGlite: ` +
        'close() it (in afterAll) before opening another; a file has one test database at a time',
    )
  }
  const schema = `test_${++state.files}_${randomBytes(4).toString('hex')}`
  state.open = schema
  let instance: PGliteLike | undefined
  let db: Kysely<any> | undefined
  try {
    instance = await workerPGlite(state, template)
    await instance.query(`CREATE SCHEMA "${schema}"`)
    await instance.query(`SET search_path TO "${schema}"`)
    db = pglite(instance, config) // db.destroy() leaves the instance open
    await setup(db)
  } catch (error) {
    await db?.destroy()
    await release(instance, schema).catch(() => undefined)
    state.open = undefined
    throw error
  }
  const opened = { db, instance }
  let closing: Promise<void> | undefined
  const close = () =>
    (closing ??= (async () => {
      try {
        await opened.db.destroy()
        await release(opened.instance, schema)
      } finally {
        state.open = undefined
      }
    })())
  return { db, schema, pglite: instance, close, [Symbol.asyncDispose]: close }
}

/**
 * Closes this process's PGlite, when one is open; the next {@link openPGliteTestDatabase}
 * opens another. An open PGlite keeps Node running (it holds a timer): vitest ends its workers
 * itself, but where the process has to end on its own (a Jest file, whose globals are its own,
 * or a script), call it once the last test database is closed.
 *
 * @example
 * ```ts
 * import { afterAll } from 'vitest'
 * import { closeWorkerPGlite } from 'kysely-session-store/pglite/testing'
 *
 * afterAll(() => closeWorkerPGlite())
 * ```
 */
export async function closeWorkerPGlite(): Promise<void> {
  const state = workerState()
  if (state.open !== undefined) {
    throw new Error(
      `closeWorkerPGlite(): the test database of schema "${state.open}" is still open: close() it first`,
    )
  }
  const instance = state.instance
  state.instance = undefined
  const opened = await instance?.catch(() => undefined)
  if (opened !== undefined && !opened.closed) await opened.close()
}

/** Drops `schema` and gives the connection its default search_path back. */
async function release(instance: PGliteLike | undefined, schema: string): Promise<void> {
  if (instance === undefined || instance.closed) return
  await instance.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`)
  await instance.query('RESET search_path')
}

/** The process's PGlite, opened once; a failed open is forgotten, so the next file tries again. */
function workerPGlite(state: WorkerState, template: string | undefined): Promise<PGliteLike> {
  state.instance ??= (async () => {
    const { PGlite } = await loadPGlite(NAME)
    if (template === undefined) return (await PGlite.create()) as unknown as PGliteLike
    let image: Uint8Array
    try {
      image = await readFile(template)
    } catch (cause) {
      throw new Error(
        `${NAME}(options.template): cannot read ${template} (${(cause as Error).message}): ` +
          'write it with createPGliteTemplate() in the global set-up, before the tests start',
        { cause },
      )
    }
    try {
      return (await PGlite.create({ loadDataDir: new Blob([image]) })) as unknown as PGliteLike
    } catch (cause) {
      throw new Error(
        `${NAME}(options.template): PGlite cannot open ${template} (${(cause as Error).message}): ` +
          'was it written by another PGlite version? delete it and let createPGliteTemplate() write it again',
        { cause },
      )
    }
  })()
  state.instance.catch(() => {
    state.instance = undefined
  })
  return state.instance
}

function checkOptions(options: unknown): {
  template: string | undefined
  setup: (db: Kysely<any>) => Promise<void>
  config: Omit<KyselyConfig, 'dialect'> | undefined
} {
  if (typeof options !== 'object' || options === null || Array.isArray(options)) {
    throw new TypeError(`${NAME}(options): expected an object such as { template }, got ${shown(options)}`)
  }
  refuseUnknownKeys(`${NAME}(options)`, options, ['template', 'setup', 'config'])
  const { template, setup, config } = options as PGliteTestDatabaseOptions
  if (template !== undefined && (typeof template !== 'string' || template.length === 0)) {
    throw new TypeError(
      `${NAME}(options.template): expected the path of a file written by createPGliteTemplate(), got ${shown(template)}`,
    )
  }
  if (setup !== undefined && typeof setup !== 'function') {
    throw new TypeError(
      `${NAME}(options.setup): expected a function (db) => Promise<void>, got ${shown(setup)}`,
    )
  }
  if (config !== undefined && (typeof config !== 'object' || config === null || 'dialect' in config)) {
    throw new TypeError(
      `${NAME}(options.config): expected Kysely options such as { log }, without a dialect, got ${shown(config)}`,
    )
  }
  if (config !== undefined) checkKyselyKeys(`${NAME}(options.config)`, config)
  return { template, setup: setup ?? (async (db) => void (await migrate(db))), config }
}

function shown(value: unknown): string {
  if (typeof value === 'string') return value.length === 0 ? 'an empty string' : JSON.stringify(value)
  if (value === null) return 'null'
  if (Array.isArray(value)) return 'an array'
  return typeof value === 'object' ? 'an object' : `${typeof value} ${String(value)}`
}
