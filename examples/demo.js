// The README's main command: a small web app whose sessions live in PGlite, in a local
// directory, so no database server is needed and sessions survive a restart.
//
//   PORT=3000 DATA_DIR=.data/demo node examples/demo.js
import { createServer } from 'node:http'
import { KyselyStore, migrate, SessionManager } from 'kysely-session-store'
import { pglite } from 'kysely-session-store/pglite'

const port = Number(process.env.PORT ?? 3000)
const host = process.env.HOST ?? '127.0.0.1'
const dataDir = process.env.DATA_DIR ?? '.data/demo'

const db = pglite(dataDir)
await migrate(db)
const store = new KyselyStore(db, 60_000) // expired sessions are deleted every minute
const sessions = new SessionManager({ store, idleTimeout: 30 * 60_000 })
const middleware = sessions.middleware()

const escape = (text) => String(text).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`)

function page(session, live) {
  const name = session.get('name')
  const account = name
    ? `<p>Logged in as <strong id="name">${escape(name)}</strong></p>
       <form method="post" action="/logout"><button id="logout">Log out</button></form>`
    : `<form method="post" action="/login">
         <label>Name <input id="login-name" name="name" required maxlength="40"></label>
         <button id="login">Log in</button>
       </form>`
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>kysely-session-store demo</title>
<style>body{font:16px system-ui;max-width:36rem;margin:3rem auto;padding:0 1rem}</style></head>
<body>
  <h1>kysely-session-store</h1>
  <p>You have visited this page <strong id="visits">${session.get('visits')}</strong> time(s).</p>
  ${account}
  <p>Live sessions: <strong id="live">${live}</strong></p>
</body></html>`
}

async function readForm(req) {
  let body = ''
  for await (const chunk of req) {
    body += chunk
    if (body.length > 10_000) throw new Error('form too large')
  }
  return new URLSearchParams(body)
}

async function handle(req, res) {
  const session = req.session
  if (req.method === 'POST' && req.url === '/login') {
    const name = ((await readForm(req)).get('name') ?? '').trim().slice(0, 40)
    if (name) {
      await session.renewToken() // a new token at login: session-fixation defence
      session.set('name', name)
    }
    res.writeHead(303, { Location: '/' }).end()
  } else if (req.method === 'POST' && req.url === '/logout') {
    await session.destroy() // deleted from the store; this response clears the cookie
    res
      .writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' })
      .end(
        '<!doctype html><title>Logged out</title><p id="bye">Logged out.</p><p><a id="home" href="/">Home</a></p>',
      )
  } else if (req.method === 'GET' && req.url === '/') {
    session.set('visits', (session.get('visits') ?? 0) + 1)
    const live = (await store.all()).size // stored sessions; yours is saved as this response goes out
    res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' }).end(page(session, live))
  } else {
    res.writeHead(404, { 'Content-Type': 'text/plain' }).end('Not found')
  }
}

const server = createServer((req, res) =>
  middleware(req, res, (error) => {
    if (error) {
      res.writeHead(500, { 'Content-Type': 'text/plain' }).end('Internal Server Error')
      return
    }
    handle(req, res).catch(() => {
      if (!res.headersSent) res.writeHead(500, { 'Content-Type': 'text/plain' }).end('Internal Server Error')
    })
  }),
)

server.listen(port, host, () => {
  const { port: actual } = server.address()
  console.log(`demo: open http://${host}:${actual}/  (sessions in PGlite at ${dataDir}; Ctrl+C stops)`)
})

async function shutdown() {
  server.close()
  server.closeAllConnections()
  await store.stopCleanup()
  await db.destroy() // ours: pglite(dataDir) opened it
  process.exit(0)
}
process.once('SIGINT', shutdown)
process.once('SIGTERM', shutdown)
