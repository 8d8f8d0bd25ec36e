// Neon's serverless driver (@neondatabase/serverless): its Pool speaks the Postgres protocol
// over a WebSocket, as it does from Vercel's and Cloudflare's edge runtimes. Locally that needs
// a WebSocket-to-TCP proxy, as Neon runs in front of its databases: this file starts one on
// 127.0.0.1 that forwards to the test Postgres only, and runs the conformance suite through
// the driver's Pool, both in postgres(pool) and in Kysely's own PostgresDialect. The driver
// lives in legs/neon, apart from the root install.
import { existsSync } from 'node:fs'
import { createRequire } from 'node:module'
import { connect, type Socket } from 'node:net'
import { join, resolve } from 'node:path'
import { Kysely, PostgresDialect, type PostgresPool } from 'kysely'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { postgres } from '../dialects/postgres.js'
import { KyselyStore, migrate } from '../src/index.js'
import { conformance } from './conformance.js'
import { bytes, randomTable, randomToken, text } from './helpers.js'
import type { EngineLeg } from './legs.js'
import { missingLeg } from './leg-packages.js'
import { postgresUrl, withServer } from './servers.js'

const leg = join(resolve(import.meta.dirname, '..'), 'legs', 'neon')
const neonMissing = existsSync(join(leg, 'node_modules', '@neondatabase', 'serverless', 'package.json'))
  ? undefined
  : 'legs/neon is not installed: run npm run legs:install -- neon'

/** The parts of the driver and of ws this file uses (structural: neither is a root dependency). */
interface NeonPool extends PostgresPool {
  readonly ended: boolean
  end(): Promise<void>
  query(text: string): Promise<{ rows: Array<Record<string, unknown>> }>
}
interface Neon {
  Pool: new (config: { connectionString: string; max?: number }) => NeonPool
  neonConfig: {
    webSocketConstructor: unknown
    wsProxy: string | ((host: string, port: number | string) => string)
    useSecureWebSocket: boolean
    pipelineConnect: 'password' | false
    pipelineTLS: boolean
  }
}
interface WsSocket {
  send(data: Buffer): void
  close(): void
  on(event: 'message', listener: (data: Buffer) => void): void
  on(event: 'close' | 'error', listener: () => void): void
}
interface Ws {
  WebSocket: unknown
  WebSocketServer: new (options: { host: string; port: number }) => {
    address(): { port: number }
    on(event: 'connection', listener: (socket: WsSocket, request: { url?: string }) => void): void
    on(event: 'listening', listener: () => void): void
    close(callback: () => void): void
  }
}

/**
 * A WebSocket-to-TCP proxy on 127.0.0.1, as Neon's wsproxy: each WebSocket is one Postgres
 * connection, its binary messages the protocol's bytes. It connects only to `target` (the
 * `address` the driver asks for must be it), so it relays nowhere else.
 */
async function startProxy(ws: Ws, target: { host: string; port: number }) {
  const server = new ws.WebSocketServer({ host: '127.0.0.1', port: 0 })
  await new Promise<void>((listening) => server.on('listening', listening))
  const sockets = new Set<Socket>()
  server.on('connection', (socket, request) => {
    const address = new URL(request.url ?? '/', 'ws://proxy').searchParams.get('address')
    if (address !== `${target.host}:${target.port}`) return socket.close()
    const tcp = connect(target.port, target.host)
    sockets.add(tcp)
    tcp.on('data', (chunk) => socket.send(chunk))
    tcp.on('close', () => {
      sockets.delete(tcp)
      socket.close()
    })
    tcp.on('error', () => socket.close())
    socket.on('message', (data) => tcp.write(data))
    socket.on('close', () => tcp.end())
    socket.on('error', () => tcp.destroy())
  })
  return {
    port: server.address().port,
    close: () => {
      for (const socket of sockets) socket.destroy()
      return new Promise<void>((closed) => server.close(closed))
    },
  }
}

/** The README's settings: the driver through the proxy, without TLS (loopback only). */
function configure(neon: Neon, ws: Ws, proxyPort: number): void {
  neon.neonConfig.webSocketConstructor = ws.WebSocket // Node 21 and older have no global WebSocket
  neon.neonConfig.wsProxy = (host, port) => `127.0.0.1:${proxyPort}/v2?address=${host}:${port}`
  neon.neonConfig.useSecureWebSocket = false
  neon.neonConfig.pipelineConnect = false
  neon.neonConfig.pipelineTLS = false
}

if (neonMissing !== undefined) {
  missingLeg('Neon serverless driver (legs/neon)', neonMissing)
} else {
  const load = createRequire(join(leg, 'package.json'))
  const neon = load('@neondatabase/serverless') as Neon
  const ws = load('ws') as Ws
  const target = new URL(postgresUrl)
  let proxy: Awaited<ReturnType<typeof startProxy>> | undefined
  beforeAll(async () => {
    proxy = await startProxy(ws, { host: target.hostname, port: Number(target.port || 5432) })
    configure(neon, ws, proxy.port)
  })
  afterAll(() => proxy?.close())

  /** A leg on a Neon Pool of its own, through the proxy; `kysely` makes the Kysely instance. */
  const neonLeg = (name: string, kysely: (pool: NeonPool) => Kysely<any>): EngineLeg => {
    const pools = new Map<Kysely<any>, NeonPool>()
    return {
      name,
      family: 'postgres',
      open: () => {
        const pool = new neon.Pool({ connectionString: postgresUrl, max: 10 })
        const db = kysely(pool)
        pools.set(db, pool)
        return db
      },
      // The pool is ours: postgres(pool)'s db.destroy() leaves it open (Kysely's own dialect ends it).
      close: async (db) => {
        await db.destroy()
        const pool = pools.get(db)
        if (pool !== undefined && !pool.ended) await pool.end()
      },
    }
  }

  await withServer('Postgres', () => {
    test('the queries go over the WebSocket proxy', async () => {
      const pool = new neon.Pool({ connectionString: postgresUrl })
      try {
        const db = postgres(pool)
        const table = randomTable('neon')
        await migrate(db, { tableName: table })
        const store = new KyselyStore(db, 0, { tableName: table })
        const token = randomToken()
        await store.commit(token, bytes('over a WebSocket'), new Date(Date.now() + 60_000))
        expect(text(await store.find(token))).toBe('over a WebSocket')
        // The server sees the proxy's TCP connection: from 127.0.0.1, as the driver's own.
        const { rows } = await pool.query(`SELECT inet_client_addr()::text AS addr`)
        expect(rows[0]?.addr).toBe('127.0.0.1/32')
        await db.schema.dropTable(table).execute()
        await db.destroy()
      } finally {
        await pool.end()
      }
    })

    conformance(neonLeg('Neon serverless driver, postgres(pool)', (pool) => postgres(pool)))
    conformance(
      neonLeg("Neon serverless driver, Kysely's stock PostgresDialect", (pool) => {
        return new Kysely<any>({ dialect: new PostgresDialect({ pool }) })
      }),
    )
  })
}
