// Nothing the store does waits forever: against a server that accepts connections and never
// answers, every store call and migrate() reject once their timeout has passed.
import { createServer, type Server, type Socket } from 'node:net'
import type { AddressInfo } from 'node:net'
import { Kysely, PostgresDialect } from 'kysely'
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { KyselyStore, migrate, SessionStoreError } from '../src/index.js'
import { bytes, randomToken } from './helpers.js'

describe('a server that never answers', () => {
  let server: Server
  const sockets = new Set<Socket>()
  let url: string
  beforeAll(async () => {
    server = createServer((socket) => {
      sockets.add(socket) // accepted, and never a byte in reply
      socket.on('close', () => sockets.delete(socket))
    })
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    url = `postgres://nobody@127.0.0.1:${(server.address() as AddressInfo).port}/silent`
  })
  afterAll(async () => {
    for (const socket of sockets) socket.destroy()
    await new Promise((resolve) => server.close(resolve))
  })

  // Kysely's stock dialect on a pg.Pool with pg's defaults (no connection timeout): the
  // store's own timeout is what bounds the wait.
  function silentDb() {
    return new Kysely<any>({ dialect: new PostgresDialect({ pool: new pg.Pool({ connectionString: url }) }) })
  }

  test('every store call rejects with a SessionStoreError whose code is timeout', async () => {
    const db = silentDb()
    const store = new KyselyStore(db, 0, { timeout: 200 })
    const token = randomToken()
    for (const call of [
      () => store.find(token),
      () => store.commit(token, bytes('x'), new Date(Date.now() + 60_000)),
      () => store.count(),
    ]) {
      const error = (await call().catch((e: unknown) => e)) as SessionStoreError
      expect(error).toBeInstanceOf(SessionStoreError)
      expect(error.code).toBe('timeout')
      expect(error.message).toMatch(
        /^\w+ on table "sessions" failed: no answer within 200 ms \(the timeout option\)$/,
      )
      expect(error.message).not.toContain(token)
    }
    for (const socket of sockets) socket.destroy() // lets the pool give up its connections
    await db.destroy().catch(() => undefined)
  })

  test('migrate() rejects with a SessionStoreError whose code is timeout', async () => {
    const db = silentDb()
    const error = (await migrate(db, { timeout: 200 }).catch((e: unknown) => e)) as SessionStoreError
    expect(error).toBeInstanceOf(SessionStoreError)
    expect(error.code).toBe('timeout')
    expect(error.message).toBe(
      'migrate of table "sessions" failed: no answer within 200 ms (the timeout option)',
    )
    for (const socket of sockets) socket.destroy()
    await db.destroy().catch(() => undefined)
  })
})
