// express-session + better-sqlite3-session-store, on a SQLite file in WAL mode.
import Database from 'better-sqlite3'
import betterSqlite3SessionStore from 'better-sqlite3-session-store'
import express from 'express'
import session from 'express-session'
import { profile } from './payload.js'

const db = new Database(process.env.DATABASE_PATH)
db.pragma('journal_mode = WAL')
db.pragma('synchronous = NORMAL') // as our sqlite() sets it: the same durability for both
const SqliteStore = betterSqlite3SessionStore(session)

const app = express()
app.use(
  session({
    store: new SqliteStore({ client: db }),
    secret: process.env.SESSION_SECRET,
    resave: false,
    saveUninitialized: false,
    // secure: false only because this benchmark speaks plain HTTP; behind HTTPS, set it to true.
    cookie: { secure: false, maxAge: 24 * 3600_000 },
  }),
)

app.post('/login', (req, res, next) => {
  req.session.regenerate((error) => {
    if (error) return next(error)
    req.session.user = profile(req.query.user)
    req.session.counter = 0
    res.send('ok')
  })
})
app.get('/read', (req, res) => {
  if (!req.session.user) return res.sendStatus(401)
  res.send(req.session.user.userId)
})
app.get('/write', (req, res) => {
  if (!req.session.user) return res.sendStatus(401)
  req.session.counter += 1
  res.send(String(req.session.counter))
})

const port = Number(process.env.PORT ?? 3000)
app.listen(port, '127.0.0.1', (error) => {
  if (error) throw error
  console.log(`listening on http://127.0.0.1:${port}`)
})
