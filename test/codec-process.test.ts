// The codec's deepest accepted value in a cold process (a child on the built package, on a
// default and on an eighth of the default stack): apart from test/codec.test.ts, as it starts
// processes (npm run test:all).
import { execFile } from 'node:child_process'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { afterAll, describe, expect, test } from 'vitest'
import { sqlite } from '../dialects/sqlite.js'
import { JSON_CODEC_MAX_DEPTH, jsonCodec, KyselyStore, migrate, SessionManager } from '../src/index.js'
import { nested } from './helpers.js'
import { tempDir } from './legs.js'

const root = join(import.meta.dirname, '..')

describe('the deepest value set accepts, in a cold process', () => {
  const dir = tempDir('kss-codec-')
  const file = join(dir, 'sessions.db')
  const db = sqlite(file)
  afterAll(() => db.destroy())

  test('is saved by this (warm) process and loaded by a fresh one, even on an eighth of the default stack', async () => {
    await migrate(db)
    const sessions = new SessionManager({ store: new KyselyStore(db, 0) })
    const session = await sessions.load(undefined)
    // Warm the codec up, as a long-running server would be.
    for (let i = 0; i < 2000; i++) jsonCodec.decode(jsonCodec.encode(new Date(0), { v: nested(32) }))
    session.set('deep', nested(JSON_CODEC_MAX_DEPTH))
    expect(() => session.set('deeper', nested(JSON_CODEC_MAX_DEPTH + 1))).toThrow(RangeError)
    const cookie = (await sessions.save(session))[0]![1].split(';')[0]!
    const script = `
      import { KyselyStore, SessionManager } from 'kysely-session-store'
      import { sqlite } from 'kysely-session-store/sqlite'
      const db = sqlite(process.env.FILE)
      const sessions = new SessionManager({ store: new KyselyStore(db, 0) })
      let value = (await sessions.load(process.env.COOKIE)).get('deep')
      let depth = 0
      while (typeof value === 'object') (value = Array.isArray(value) ? value[0] : value.next), depth++
      console.log(depth, value)
      await db.destroy()
    `
    for (const flags of [[], ['--stack-size=128']]) {
      const { stdout } = await promisify(execFile)(
        process.execPath,
        [...flags, '--input-type=module', '-e', script],
        { cwd: root, env: { ...process.env, FILE: file, COOKIE: cookie }, timeout: 30_000 },
      )
      expect(stdout.trim()).toBe(`${JSON_CODEC_MAX_DEPTH} leaf`)
    }
  })
})
