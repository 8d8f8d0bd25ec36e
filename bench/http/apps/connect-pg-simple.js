// express-session + connect-pg-simple, on Postgres (its table made from its table.sql beforehand,
// as its README recommends).
import connectPgSimple from 'connect-pg-simple'
import express from 'express'
import session from 'express-session'
import { profile } from './payload.js'

const PgStore = connectPgSimple(session)

const app = express()
app.use(
  session({
    store: new PgStore({ conString: process.env.DATABASE_URL, tableName: process.env.SESSION_TABLE }),
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
