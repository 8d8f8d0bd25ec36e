// The README's first command: a session store on PGlite, in memory, no server needed.
// It migrates, commits a session, finds it, lets it expire, cleans up, and says what happened.
import { randomBytes } from 'node:crypto'
import { KyselyStore, migrate } from 'kysely-session-store'
import { pglite } from 'kysely-session-store/pglite'

const encode = (value) => new TextEncoder().encode(JSON.stringify(value))
const decode = (data) => (data === undefined ? undefined : JSON.parse(new TextDecoder().decode(data)))

const db = pglite() // Postgres in this process; pass a directory to keep the data
await migrate(db)
console.log('migrated: table "sessions" is ready (schema/postgres.sql)')

// The store's clock is injectable: here we move it forward instead of waiting.
let now = Date.now()
const store = new KyselyStore(db, 0, { now: () => now })

const token = randomBytes(32).toString('base64url')
await store.commit(token, encode({ user: 'alice', visits: 1 }), new Date(now + 30 * 60_000))
console.log('committed a session that expires in 30 minutes')
console.log('found it:', JSON.stringify(decode(await store.find(token))))
console.log('live sessions:', (await store.all()).size)

now += 31 * 60_000
console.log('31 minutes later, find gives:', decode(await store.find(token)))
console.log('live sessions:', (await store.all()).size)
console.log('cleanup deleted', await store.cleanup(), 'expired row(s)')

await store.stopCleanup()
await db.destroy() // the database is ours here: we opened it with pglite()
console.log('done')
