// When a session cannot be saved, the response becomes a 500: a well-formed one, over real
// HTTP. The client here reads each response exactly as its head frames it (Content-Length or
// chunked) on one keep-alive connection, as browsers do, and then sends another request on
// that connection: a 500 that keeps the handler's Content-Length with a shorter body leaves
// the client waiting for bytes that never come; with a longer one, the rest garbles the
// next response. The store fails for real: SQLite in memory without its table.
import { ServerResponse } from 'node:http'
import { connect } from 'node:net'
import { getRequestListener } from '@hono/node-server'
import express from 'express'
import type { Kysely } from 'kysely'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { sqlite } from '../dialects/sqlite.js'
import { KyselyStore, SessionManager } from '../src/index.js'
import { randomTable } from './helpers.js'
import { listen } from './http.js'

interface RawResponse {
  readonly status: number
  readonly headers: Record<string, string>
  readonly body: string
}

/** Reads a socket's bytes on demand; rejects a read the connection closed before. */
class SocketReader {
  #buffer = Buffer.alloc(0)
  #closed = false
  #wake: (() => void) | undefined
  constructor(socket: ReturnType<typeof connect>) {
    socket.on('data', (chunk: Buffer) => {
      this.#buffer = Buffer.concat([this.#buffer, chunk])
      this.#wake?.()
    })
    socket.on('close', () => {
      this.#closed = true
      this.#wake?.()
    })
    socket.on('error', () => undefined) // a reset shows as 'close'
  }

  /** Up to and without `delimiter`, which is consumed. */
  async line(delimiter = '\r\n'): Promise<string> {
    for (;;) {
      const at = this.#buffer.indexOf(delimiter)
      if (at !== -1) {
        const text = this.#buffer.subarray(0, at).toString('latin1')
        this.#buffer = this.#buffer.subarray(at + delimiter.length)
        return text
      }
      await this.#more(`a line; have ${this.#buffer.length} bytes`)
    }
  }

  async bytes(count: number): Promise<string> {
    while (this.#buffer.length < count) await this.#more(`${count} bytes; have ${this.#buffer.length}`)
    const text = this.#buffer.subarray(0, count).toString('latin1')
    this.#buffer = this.#buffer.subarray(count)
    return text
  }

  #more(wanted: string): Promise<void> {
    if (this.#closed) return Promise.reject(new Error(`connection closed while waiting for ${wanted}`))
    return new Promise((resolve) => (this.#wake = resolve))
  }
}

/**
 * Sends a GET for each path on one keep-alive connection, one after another, and reads each
 * response by its framing: Content-Length bytes, or chunks up to the last one. Rejects when
 * the connection closes before a response is complete.
 */
async function onOneConnection(base: string, paths: string[]): Promise<RawResponse[]> {
  const { hostname, port } = new URL(base)
  const socket = connect(Number(port), hostname)
  const reader = new SocketReader(socket)
  const responses: RawResponse[] = []
  try {
    for (const path of paths) {
      socket.write(`GET ${path} HTTP/1.1\r\nHost: ${hostname}\r\nConnection: keep-alive\r\n\r\n`)
      const [statusLine, ...lines] = (await reader.line('\r\n\r\n')).split('\r\n')
      const headers: Record<string, string> = {}
      for (const line of lines) {
        const colon = line.indexOf(':')
        headers[line.slice(0, colon).toLowerCase()] = line.slice(colon + 1).trim()
      }
      let body = ''
      if (headers['transfer-encoding'] === 'chunked') {
        for (let size = -1; size !== 0;) {
          size = parseInt(await reader.line(), 16)
          body += await reader.bytes(size)
          await reader.line() // the CRLF after each chunk, and after the last (empty) one
        }
      } else {
        expect(headers['content-length'], `${path}: a keep-alive response needs a length`).toMatch(/^\d+$/)
        body = await reader.bytes(Number(headers['content-length']))
      }
      responses.push({ status: Number(statusLine!.split(' ')[1]), headers, body })
    }
  } finally {
    socket.destroy()
  }
  return responses
}

/** What each route answers: a body whose length the handler states, and an ETag. */
const BODIES: Record<string, string> = { '/long': 'x'.repeat(100), '/short': 'ok' }

/**
 * Asserts that /long and /short, whose sessions cannot be saved, each get a complete 500
 * without the handler's entity headers, and that the connection then still serves /plain.
 */
async function expectWellFormed500s(base: string, errors: unknown[]): Promise<void> {
  const responses = await onOneConnection(base, ['/long', '/plain', '/short', '/plain'])
  for (const [index, path] of ['/long', '/short'].entries()) {
    const failed = responses[index * 2]!
    expect(failed.status, path).toBe(500)
    expect(failed.body, path).toBe('Internal Server Error')
    if (failed.headers['content-length'] !== undefined) {
      expect(Number(failed.headers['content-length']), path).toBe(failed.body.length)
    }
    expect(failed.headers.etag, path).toBeUndefined()
    expect(failed.headers['x-handler'], path).toBeUndefined()
    expect(failed.headers['set-cookie'], path).toBeUndefined()
    expect(failed.headers['content-type'], path).toMatch(/^text\/plain/)
    const next = responses[index * 2 + 1]!
    expect([next.status, next.body], `the request after ${path}`).toEqual([200, 'plain'])
  }
  expect(errors).toHaveLength(2)
  expect(String(errors[0])).toMatch(/does not exist/)
}

describe('a session that cannot be saved gives a complete 500', () => {
  let db: Kysely<any>
  let errors: unknown[]
  let sessions: SessionManager
  beforeAll(() => {
    db = sqlite(':memory:') // no migrate: the table is missing, so every save fails
    errors = []
    sessions = new SessionManager({
      store: new KyselyStore(db, 0, { tableName: randomTable('missing') }),
      onError: (error) => errors.push(error),
    })
  })
  afterAll(() => db.destroy())

  test('middleware() on Express 5: res.send() with a longer and a shorter body than the 500', async () => {
    errors.length = 0
    const app = express()
    app.use(sessions.middleware())
    app.get('/plain', (_req, res) => {
      res.send('plain')
    })
    app.get(['/long', '/short'], (req, res) => {
      sessions.get(req).set('visits', 1)
      res.set('X-Handler', 'yes').send(BODIES[req.path])
    })
    const server = await listen(app)
    try {
      await expectWellFormed500s(server.url, errors)
    } finally {
      await server.close()
    }
  })

  test('middleware() on node:http: headers set with setHeader() and with writeHead()', async () => {
    errors.length = 0
    const middleware = sessions.middleware()
    const server = await listen((req, res) =>
      middleware(req, res, () => {
        if (req.url === '/plain') return void res.end('plain')
        sessions.get(req).set('visits', 1)
        const body = BODIES[req.url!]!
        if (req.url === '/long') {
          res.setHeader('Content-Length', body.length)
          res.setHeader('ETag', '"handler"')
          res.setHeader('X-Handler', 'yes')
          res.end(body)
        } else {
          res
            .writeHead(200, { 'Content-Length': body.length, ETag: '"handler"', 'X-Handler': 'yes' })
            .end(body)
        }
      }),
    )
    try {
      await expectWellFormed500s(server.url, errors)
    } finally {
      await server.close()
    }
  })

  test('middleware() on node:http: a response whose head went out past the hold is cut off, not left waiting', async () => {
    errors.length = 0
    const middleware = sessions.middleware()
    const server = await listen((req, res) =>
      middleware(req, res, () => {
        sessions.get(req).set('visits', 1)
        // Code that kept the original methods (taken before the session changed) sends the head.
        ServerResponse.prototype.writeHead.call(res, 200, { 'Content-Length': 100 })
        ServerResponse.prototype.flushHeaders.call(res)
        res.end('x'.repeat(100)) // held until the save, which fails
      }),
    )
    try {
      await expect(onOneConnection(server.url, ['/long'])).rejects.toThrow(
        /^connection closed while waiting for 100 bytes; have 0$/,
      )
      expect(errors).toHaveLength(1)
    } finally {
      await server.close()
    }
  })

  test('handler() over @hono/node-server: the Response the handler made is replaced, not patched', async () => {
    errors.length = 0
    const server = await listen(
      getRequestListener(
        sessions.handler((request, session) => {
          const path = new URL(request.url).pathname
          if (path === '/plain') return new Response('plain')
          session.set('visits', 1)
          const body = BODIES[path]!
          return new Response(body, {
            headers: { 'Content-Length': String(body.length), ETag: '"handler"', 'X-Handler': 'yes' },
          })
        }),
      ),
    )
    try {
      await expectWellFormed500s(server.url, errors)
    } finally {
      await server.close()
    }
  })
})
