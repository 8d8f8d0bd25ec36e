// The adapters' devices list (express-session's and @fastify/session's stores share it): the
// most recently seen first, as KyselyStore.listBySubject lists.
import { afterAll, expect, test } from 'vitest'
import { sqlite } from '../dialects/sqlite.js'
import { ExpressSessionStore } from '../src/adapters/express.js'
import { KyselyStore, migrate } from '../src/index.js'

const db = sqlite(':memory:')
afterAll(() => db.destroy())

test('listBySubject lists the most recently seen first, with idOf matching each', async () => {
  await migrate(db)
  const clock = { now: Date.now() } // the adapter computes expiries from the real clock
  const adapter = new ExpressSessionStore(new KyselyStore(db, 0, { now: () => clock.now }), {
    subject: (session) => session.userId as string,
  })
  const set = (sid: string) =>
    new Promise<void>((resolve, reject) =>
      adapter.set(sid, { cookie: {}, userId: 'ada' } as never, (error) =>
        error ? reject(error) : resolve(),
      ),
    )
  for (const sid of ['sid-a', 'sid-b', 'sid-c']) {
    await set(sid)
    clock.now += 1000
  }
  await set('sid-a') // seen again: now the most recent
  const listed = await new Promise<Array<{ id: string }>>((resolve, reject) =>
    adapter.listBySubject('ada', (error, devices) => (error ? reject(error) : resolve(devices!))),
  )
  expect(listed.map((device) => device.id)).toEqual(
    ['sid-a', 'sid-c', 'sid-b'].map((sid) => adapter.idOf(sid)),
  )
})
