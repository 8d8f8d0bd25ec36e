// express-session + connect-pg-simple, on Postgres (its table made from its table.sql beforehand,
// as its README recommends).
import session from 'express-session'
import { connectPgSimple } from '../../../legs/peers/index.js'
import { serveExpressSession } from './serve.js'

const PgStore = connectPgSimple(session)
serveExpressSession(
  new PgStore({ conString: process.env.DATABASE_URL, tableName: process.env.SESSION_TABLE }),
)
