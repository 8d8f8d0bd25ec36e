// express-session + our ExpressSessionStore, on a SQLite file (our sqlite() factory: WAL,
// synchronous=NORMAL).
import { KyselyStore, migrate } from 'kysely-session-store'
import { ExpressSessionStore } from 'kysely-session-store/express'
import { sqlite } from 'kysely-session-store/sqlite'
import { serveExpressSession } from './serve.js'

const db = sqlite(process.env.DATABASE_PATH)
await migrate(db)
serveExpressSession(new ExpressSessionStore(new KyselyStore(db)))
