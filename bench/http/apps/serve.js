// What every benchmark app shares, written once so that every contender answers the same
// requests the same way: POST /login (a fresh session holding the user's profile and a
// counter), GET /read (one value), GET /write (increments the counter), and listening on PORT.
import express from 'express'
import session from 'express-session'
import { profile } from './payload.js'

/** The three routes on express-session's `req.session`, with `store` behind it. */
export function serveExpressSession(store) {
  const app = express()
  app.use(
    session({
      store,
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
  listen(app)
}

/** The three routes on our SessionManager's `req.session`. */
export function serveManager(sessions) {
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
  listen(app)
}

/** Listens on 127.0.0.1:PORT and says so on stdout, which the harness waits for. */
export function listen(app) {
  const port = Number(process.env.PORT ?? 3000)
  app.listen(port, '127.0.0.1', (error) => {
    if (error) throw error
    console.log(`listening on http://127.0.0.1:${port}`)
  })
}
