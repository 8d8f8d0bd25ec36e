// express-session + better-sqlite3-session-store on a SQLite file in WAL mode with
// synchronous=NORMAL, the pragmas our sqlite() sets: the same durability for both, which is not
// the store's default (better-sqlite3-session-store.js runs it as its README sets it up).
import Database from 'better-sqlite3'
import session from 'express-session'
import { betterSqlite3SessionStore } from '../../../legs/peers/index.js'
import { serveExpressSession } from './serve.js'

const db = new Database(process.env.DATABASE_PATH)
db.pragma('journal_mode = WAL')
db.pragma('synchronous = NORMAL')
const SqliteStore = betterSqlite3SessionStore(session)
serveExpressSession(new SqliteStore({ client: db }))
