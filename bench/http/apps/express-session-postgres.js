// express-session + our ExpressSessionStore, on Postgres (our postgres() factory).
import { KyselyStore, migrate } from 'kysely-session-store'
import { ExpressSessionStore } from 'kysely-session-store/express'
import { postgres } from 'kysely-session-store/postgres'
import { serveExpressSession } from './serve.js'

const db = postgres(process.env.DATABASE_URL)
const tableName = process.env.SESSION_TABLE
await migrate(db, { tableName })
serveExpressSession(new ExpressSessionStore(new KyselyStore(db, 5 * 60_000, { tableName })))
