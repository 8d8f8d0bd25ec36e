// express-session + better-sqlite3-session-store, on a SQLite file in WAL mode.
import Database from 'better-sqlite3'
import session from 'express-session'
import { betterSqlite3SessionStore } from '../../../legs/peers/index.js'
import { serveExpressSession } from './serve.js'

const db = new Database(process.env.DATABASE_PATH)
db.pragma('journal_mode = WAL')
db.pragma('synchronous = NORMAL') // as our sqlite() sets it: the same durability for both
const SqliteStore = betterSqlite3SessionStore(session)
serveExpressSession(new SqliteStore({ client: db }))
