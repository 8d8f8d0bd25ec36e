import { spawn } from 'node:child_process'
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { beforeAll, describe, expect, test } from 'vitest'
import { LOCK_FILE } from '../dialects/lock.js'
import { DataDirectoryInUseError, pglite } from '../dialects/pglite.js'
import { KyselyStore, migrate, SessionStoreError } from '../src/index.js'
import { conformance } from './conformance.js'
import { sessionConformance } from './session-suite.js'
import { bytes, text, randomToken } from './helpers.js'
import { legs, named, pgliteTestDatabase, preparePGliteDirectory, tempDir } from './legs.js'

// Every leg of this file runs on the process's one PGlite, each in a schema of its own.
conformance(named('PGlite, pglite(instance) factory', legs.pglite()))
conformance(legs.pgliteStock())
sessionConformance(legs.pglite())

// A ready data directory for each pglite(dataDir) test: a copy of one prepared per file (in
// a hook, under hookTimeout), which is faster than preparing each (a PGlite opened and closed).
const base = tempDir('kss-pglite-')
const seed = join(base, 'seed')
beforeAll(() => preparePGliteDirectory(seed))
function dataDirectory(): string {
  const dir = mkdtempSync(join(base, 'data-'))
  cpSync(seed, dir, { recursive: true })
  return dir
}

describe('pglite() factory', () => {
  test("an instance passed in is the caller's: db.destroy() leaves it open", async () => {
    await using database = await pgliteTestDatabase()
    const given = database.pglite
    const db = pglite(given)
    await migrate(db, { tableName: 'borrowed' })
    await db.destroy()
    expect(given.closed).toBe(false)
    expect((await given.query('SELECT count(*)::int AS n FROM borrowed')).rows).toEqual([{ n: 0 }])
  })

  test('pglite(dataDir) persists sessions across a close and reopen', async () => {
    const dir = dataDirectory()
    try {
      const token = randomToken()
      const first = pglite(dir)
      await migrate(first)
      await new KyselyStore(first, 0).commit(token, bytes('persisted'), new Date(Date.now() + 60_000))
      await first.destroy() // closes the instance the factory opened
      const second = pglite(dir)
      expect(text(await new KyselyStore(second, 0).find(token))).toBe('persisted')
      await second.destroy()
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })

  test.each([
    ['a number', 42],
    ['an empty path', ''],
    ['null', null],
  ])('refuses %s with a TypeError naming the argument', (_, argument) => {
    expect(() => pglite(argument as string)).toThrow(TypeError)
    expect(() => pglite(argument as string)).toThrow(/^pglite\(dataDirOrInstance\): expected nothing/)
  })
})

describe('pglite(dataDir) locks its directory', () => {
  test('a second open of the same directory, in this process, is refused until the first closes', async () => {
    const dir = dataDirectory()
    try {
      const first = pglite(dir)
      await migrate(first)
      const second = pglite(dir)
      const error = (await new KyselyStore(second, 0).find('t').catch((e: unknown) => e)) as SessionStoreError
      expect(error).toBeInstanceOf(SessionStoreError)
      expect(error.cause).toBeInstanceOf(DataDirectoryInUseError)
      expect(error.message).toContain('pglite(dataDir): the data directory is already open in this process')
      await first.destroy() // releases the lock
      const third = pglite(dir)
      expect(await new KyselyStore(third, 0).find('t')).toBeUndefined()
      await third.destroy()
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })

  test('a directory held by another live process is refused; a lock left by a dead one is taken over', async () => {
    const dir = dataDirectory()
    try {
      const holder = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'])
      writeFileSync(join(dir, LOCK_FILE), String(holder.pid))
      const db = pglite(dir)
      const error = (await new KyselyStore(db, 0).find('t').catch((e: unknown) => e)) as SessionStoreError
      expect(error.message).toContain(`the data directory is in use by process ${holder.pid}`)
      const exited = new Promise((resolve) => holder.once('exit', resolve))
      holder.kill('SIGKILL')
      await exited
      const after = pglite(dir)
      await migrate(after)
      expect(readFileSync(join(dir, LOCK_FILE), 'utf8')).toBe(String(process.pid))
      await after.destroy()
      expect(existsSync(join(dir, LOCK_FILE))).toBe(false)
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })
})
