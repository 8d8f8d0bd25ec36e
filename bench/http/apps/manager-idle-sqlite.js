// Our SessionManager middleware with an idle timeout (every request extends the session),
// on a SQLite file (our sqlite() factory: WAL, synchronous=NORMAL).
import { KyselyStore, migrate, SessionManager } from 'kysely-session-store'
import { sqlite } from 'kysely-session-store/sqlite'
import { serveManager } from './serve.js'

const db = sqlite(process.env.DATABASE_PATH)
await migrate(db)
const store = new KyselyStore(db)
// secure: false only because this benchmark speaks plain HTTP; behind HTTPS, set it to true.
serveManager(new SessionManager({ store, idleTimeout: 30 * 60_000, cookie: { secure: false } }))
