// The Fastify entry of the built package in a child process whose module resolution refuses
// express-session (npm run test:all: it starts a process).
import { execFile } from 'node:child_process'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { describe, expect, test } from 'vitest'

const root = join(import.meta.dirname, '..')
const SECRET = 'a secret with at least 32 characters in it'

describe('the Fastify entry where express-session is not installed', () => {
  // The built package, in a child process whose module resolution refuses express-session.
  const script = `
    import fastifyCookie from '@fastify/cookie'
    import fastifySession from '@fastify/session'
    import Fastify from 'fastify'
    import { KyselyStore, migrate } from 'kysely-session-store'
    import { FastifySessionStore } from 'kysely-session-store/fastify'
    import { sqlite } from 'kysely-session-store/sqlite'
    const db = sqlite(':memory:')
    await migrate(db)
    const app = Fastify()
    await app.register(fastifyCookie)
    await app.register(fastifySession, {
      secret: '${SECRET}',
      store: new FastifySessionStore(new KyselyStore(db, 0)),
      cookie: { secure: false },
    })
    app.get('/login', async (request) => { request.session.userId = 'alice'; return 'ok' })
    app.get('/read', async (request) => String(request.session.userId ?? 'none'))
    const login = await app.inject('/login')
    const cookie = login.cookies.find((c) => c.name === 'sessionId')
    const read = await app.inject({ url: '/read', cookies: { sessionId: cookie.value } })
    console.log('read:', read.body)
    console.log('express entry:', await import('kysely-session-store/express').then(() => 'loaded', (e) => e.code))
    await app.close()
    await db.destroy()
  `
  test('works with @fastify/session, and only the express entry needs express-session', async () => {
    const { stdout } = await promisify(execFile)(
      process.execPath,
      ['--import', './test/fixtures/without-drivers.mjs', '--input-type=module', '-e', script],
      { cwd: root, env: { ...process.env, BLOCK: 'express-session' }, timeout: 30_000 },
    )
    expect(stdout.trim().split('\n')).toEqual(['read: alice', 'express entry: ERR_MODULE_NOT_FOUND'])
  })
})
