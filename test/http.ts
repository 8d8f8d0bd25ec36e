// A browser over real HTTP, for the framework tests: a cookie jar, servers on random ports.
import { createServer, type RequestListener, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { Kysely } from 'kysely'
import { KyselyStore, type SessionStore } from '../src/index.js'
import { randomTable } from './helpers.js'

/** A client with a cookie jar, speaking real HTTP to a server on a random port. */
export class Browser {
  readonly cookies = new Map<string, string>()
  constructor(readonly base: string) {}

  async get(path: string, init: RequestInit = {}): Promise<Response & { text_: string }> {
    const cookie = [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ')
    const response = await fetch(this.base + path, {
      ...init,
      redirect: 'manual',
      headers: { ...(cookie ? { cookie } : {}), ...(init.headers as Record<string, string>) },
    })
    for (const line of response.headers.getSetCookie()) {
      const [pair, ...attributes] = line.split(';')
      const [name, value] = [pair!.slice(0, pair!.indexOf('=')), pair!.slice(pair!.indexOf('=') + 1)]
      if (value === '' || attributes.some((a) => /max-age=0$/i.test(a.trim()))) this.cookies.delete(name)
      else this.cookies.set(name, value)
    }
    return Object.assign(response, { text_: await response.text() })
  }
}

export async function listen(
  listener: RequestListener | Server,
): Promise<{ url: string; close: () => Promise<void> }> {
  const server = typeof listener === 'function' ? createServer(listener) : listener
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  }
}

/** A store whose commits fail (its table does not exist) while finds work. */
export function failingCommits(store: KyselyStore, db: Kysely<any>): SessionStore {
  const broken = new KyselyStore(db, 0, { tableName: randomTable('missing') })
  return {
    find: (t) => store.find(t),
    commit: (t, d, e) => broken.commit(t, d, e),
    delete: (t) => store.delete(t),
    all: () => store.all(),
  }
}
