// express-session + better-sqlite3-session-store as its README sets it up: a better-sqlite3
// database with SQLite's own defaults (rollback journal, synchronous=FULL), so every touch (an
// UPDATE on every read) is a durable commit. better-sqlite3-session-store-wal.js is the same
// store given the pragmas our sqlite() sets.
import Database from 'better-sqlite3'
import session from 'express-session'
import { betterSqlite3SessionStore } from '../../../legs/peers/index.js'
import { serveExpressSession } from './serve.js'

const db = new Database(process.env.DATABASE_PATH)
const SqliteStore = betterSqlite3SessionStore(session)
serveExpressSession(new SqliteStore({ client: db }))
