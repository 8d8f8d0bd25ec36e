// What a compatibility date and its flags change for the package in workerd: test/d1.test.ts
// runs this Worker at several dates. A request migrates a table on the local D1, makes a store
// with its default background cleanup (a timer: a number at an old date, an object with
// unref() at a current one), commits 1 MiB of data and reads it back, then stops the cleanup.
import { Kysely } from 'kysely'
import { D1Dialect } from 'kysely-d1'
import { KyselyStore, migrate } from '../../src/index.js'

interface Env {
  DB: ConstructorParameters<typeof D1Dialect>[0]['database']
}

/** `size` random bytes; getRandomValues fills at most 64 KiB a call. */
function randomData(size: number): Uint8Array {
  const data = new Uint8Array(size)
  for (let at = 0; at < size; at += 65_536) crypto.getRandomValues(data.subarray(at, at + 65_536))
  return data
}

export default {
  async fetch(_request: Request, env: Env): Promise<Response> {
    const db = new Kysely<any>({ dialect: new D1Dialect({ database: env.DB }) })
    const timer = setTimeout(() => undefined, 1)
    clearTimeout(timer)
    await migrate(db)
    const store = new KyselyStore(db) // background cleanup every 5 minutes: a timer
    try {
      const data = randomData(1024 * 1024)
      await store.commit('probe', data, new Date(Date.now() + 60_000))
      const found = await store.find('probe')
      const same = found !== undefined && found.length === data.length && found.every((b, i) => b === data[i])
      return Response.json({ timer: typeof timer, found: found?.constructor.name, same })
    } finally {
      await store.stopCleanup()
    }
  },
}
