// Our SessionManager middleware, on Postgres (our postgres() factory).
import { KyselyStore, migrate, SessionManager } from 'kysely-session-store'
import { postgres } from 'kysely-session-store/postgres'
import { serveManager } from './serve.js'

const db = postgres(process.env.DATABASE_URL)
const tableName = process.env.SESSION_TABLE
await migrate(db, { tableName })
const store = new KyselyStore(db, 5 * 60_000, { tableName })
// secure: false only because this benchmark speaks plain HTTP; behind HTTPS, set it to true.
serveManager(new SessionManager({ store, cookie: { secure: false } }))
