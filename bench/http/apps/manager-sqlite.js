// Our SessionManager middleware, on a SQLite file (our sqlite() factory: WAL, synchronous=NORMAL).
import express from 'express'
import { KyselyStore, migrate, SessionManager } from 'kysely-session-store'
import { sqlite } from 'kysely-session-store/sqlite'
import { profile } from './payload.js'

const db = sqlite(process.env.DATABASE_PATH)
await migrate(db)
const store = new KyselyStore(db)
// secure: false only because this benchmark speaks plain HTTP; behind HTTPS, set it to true.
const sessions = new SessionManager({ store, cookie: { secure: false } })

const app = express()
app.use(sessions.middleware())

app.post('/login', async (req, res) => {
  await req.session.renewToken()
  req.session.set('user', profile(req.query.user))
  req.session.set('counter', 0)
  res.send('ok')
})
app.get('/read', (req, res) => {
  const user = req.session.get('user')
  if (!user) return res.sendStatus(401)
  res.send(user.userId)
})
app.get('/write', (req, res) => {
  if (!req.session.get('user')) return res.sendStatus(401)
  const counter = req.session.get('counter') + 1
  req.session.set('counter', counter)
  res.send(String(counter))
})

const port = Number(process.env.PORT ?? 3000)
app.listen(port, '127.0.0.1', (error) => {
  if (error) throw error
  console.log(`listening on http://127.0.0.1:${port}`)
})
