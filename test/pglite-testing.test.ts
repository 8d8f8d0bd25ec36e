// kysely-session-store/pglite/testing: the README's vitest recipe run by a child vitest (its
// fixture files in test/fixtures/pglite-recipe, isolate: false, 2 workers), and the checks of
// its arguments.
import { execFile } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { afterAll, describe, expect, test } from 'vitest'
import {
  closeWorkerPGlite,
  createPGliteTemplate,
  openPGliteTestDatabase,
} from '../dialects/pglite-testing.js'

const root = join(import.meta.dirname, '..')
const dir = mkdtempSync(join(tmpdir(), 'kss-recipe-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

describe('the vitest recipe: 6 files on 2 workers without isolation', () => {
  test(
    'every file gets a migrated, empty store of its own; each worker opens one PGlite',
    { timeout: 240_000 },
    async () => {
      const log = join(dir, 'recipe.jsonl')
      // Rejects, with vitest's output, unless every test of the recipe passed.
      await promisify(execFile)(join(root, 'node_modules', '.bin', 'vitest'), ['run'], {
        cwd: join(root, 'test', 'fixtures', 'pglite-recipe'),
        env: { ...process.env, RECIPE_LOG: log },
        timeout: 230_000,
      })
      const files = readFileSync(log, 'utf8')
        .trim()
        .split('\n')
        .map((line) => JSON.parse(line) as { file: string; pid: number; instances: number; schema: string })
      expect(files.map((f) => f.file).sort()).toEqual([1, 2, 3, 4, 5, 6].map((n) => `file-${n}`))
      const workers = new Set(files.map((f) => f.pid))
      expect(workers.size).toBeLessThanOrEqual(2)
      expect(files.length).toBeGreaterThan(workers.size) // a worker ran several files ...
      expect(files.every((f) => f.instances === 1)).toBe(true) // ... on one PGlite
      expect(new Set(files.map((f) => f.schema)).size).toBe(6)
    },
  )
})

describe('bad input is refused at once, naming the argument', () => {
  test.each([
    [{ template: 42 }, /^openPGliteTestDatabase\(options\.template\): expected the path of a file/],
    [{ template: '' }, /^openPGliteTestDatabase\(options\.template\): .* got an empty string/],
    [{ setup: 'migrate' }, /^openPGliteTestDatabase\(options\.setup\): expected a function/],
    [{ config: { dialect: {} } }, /^openPGliteTestDatabase\(options\.config\): expected Kysely options/],
    [null, /^openPGliteTestDatabase\(options\): expected an object/],
  ])('openPGliteTestDatabase(%o)', async (options, message) => {
    await expect(openPGliteTestDatabase(options as never)).rejects.toThrow(TypeError)
    await expect(openPGliteTestDatabase(options as never)).rejects.toThrow(message)
  })

  test('createPGliteTemplate() without a path', async () => {
    await expect(createPGliteTemplate('' as never)).rejects.toThrow(
      /^createPGliteTemplate\(file\): expected a file path, got an empty string/,
    )
  })

  test('createPGliteTemplate() with a reuse that is not a boolean', async () => {
    await expect(createPGliteTemplate(join(dir, 't.tar'), { reuse: 'yes' as never })).rejects.toThrow(
      /^createPGliteTemplate\(file, options\.reuse\): expected true or false, got "yes"/,
    )
  })

  test('createPGliteTemplate(file, { reuse: true }) keeps an existing file and makes nothing', async () => {
    const kept = join(dir, 'kept.tar')
    writeFileSync(kept, 'made by an earlier run')
    expect(await createPGliteTemplate(kept, { reuse: true })).toBe(kept)
    expect(readFileSync(kept, 'utf8')).toBe('made by an earlier run')
  })

  test('a template that cannot be read: the error names the option and the file', async () => {
    const missing = join(dir, 'no-such-template.tar')
    await expect(openPGliteTestDatabase({ template: missing })).rejects.toThrow(
      `openPGliteTestDatabase(options.template): cannot read ${missing}`,
    )
    // The failed open is forgotten: nothing stays open, and the next file may try again.
    await closeWorkerPGlite()
  })
})
