// The README's main command: a small web app whose sessions live in PGlite, in a local
// directory, so no database server is needed and sessions survive a restart.
//
//   PORT=3000 DATA_DIR=.data/demo node examples/demo.js
//
// Its cookies are Secure, as in production: browsers keep Secure cookies on http://localhost
// (a secure context), so open the localhost URL it prints. Served to other machines over
// plain HTTP, browsers would drop them: there, and only for a try-out, SECURE_COOKIES=false.
import { createServer } from 'node:http'
import { KyselyStore, migrate, SessionManager } from 'kysely-session-store'
import { pglite } from 'kysely-session-store/pglite'

const port = Number(process.env.PORT ?? 3000)
const host = process.env.HOST ?? '127.0.0.1'
const dataDir = process.env.DATA_DIR ?? '.data/demo'
const secure = process.env.SECURE_COOKIES !== 'false'

const db = pglite(dataDir)
await migrate(db)
const store = new KyselyStore(db, 60_000) // expired sessions are deleted every minute
// deviceInfo: each signed-in session keeps the browser, OS and address it was last seen from,
// for "Your sessions" (off by default: an address is personal data; see the README).
const sessions = new SessionManager({
  store,
  idleTimeout: 30 * 60_000,
  cookie: { secure },
  deviceInfo: true,
  maxSessionsPerSubject: 20, // a 21st sign-in ends the least recently seen
})
const middleware = sessions.middleware()

const escape = (text) => String(text).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`)
const time = (date) => (date ? escape(date.toISOString().replace('T', ' ').slice(0, 19)) + ' UTC' : 'unknown')

function layout(title, body) {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${escape(title)}</title>
<style>body{font:16px system-ui;max-width:36rem;margin:3rem auto;padding:0 1rem}li{margin:.5rem 0}form{display:inline}</style></head>
<body>
  <h1>kysely-session-store</h1>
  ${body}
</body></html>`
}

function home(session, live) {
  const name = session.get('name')
  const account = name
    ? `<p>Logged in as <strong id="name">${escape(name)}</strong>. <a id="devices" href="/sessions">Your sessions</a></p>
       <form method="post" action="/logout"><button id="logout">Log out</button></form>`
    : `<form method="post" action="/login">
         <label>Name <input id="login-name" name="name" required maxlength="40"></label>
         <button id="login">Log in</button>
       </form>`
  return layout(
    'kysely-session-store demo',
    `<p>You have visited this page <strong id="visits">${session.get('visits')}</strong> time(s).</p>
  ${account}
  <p>Live sessions: <strong id="live">${live}</strong></p>`,
  )
}

/** What a device is: "Firefox 128 on Linux, from 203.0.113.7", as far as it is known. */
function deviceName(device) {
  const what = [device.browser, device.os].filter(Boolean).join(' on ') || 'Unknown browser'
  return escape(device.address ? `${what}, from ${device.address}` : what)
}

/** "Your sessions": the devices signed in as this user, most recently seen first, each of which can be signed out. */
async function devices(session) {
  const list = await sessions.listSubject(session.subject, { current: session, limit: 50 })
  const items = list.map(
    (device) => `<li class="device${device.current ? ' current' : ''}">
      <strong class="what">${deviceName(device)}</strong>:
      signed in ${time(device.createdAt)}, last seen ${time(device.lastSeenAt)}
      ${
        device.current
          ? '<strong>(this device)</strong>'
          : `<form method="post" action="/sessions/revoke"><input type="hidden" name="id" value="${escape(device.id)}">
             <button class="revoke">Sign out this device</button></form>`
      }
    </li>`,
  )
  return layout(
    'Your sessions',
    `<h2>Your sessions</h2>
  <ul id="device-list">${items.join('')}</ul>
  ${list.truncated ? '<p id="more">Only the 50 most recently seen are shown.</p>' : ''}
  <form method="post" action="/sessions/revoke-others"><button id="revoke-others">Sign out all other devices</button></form>
  <p><a id="home" href="/">Home</a></p>`,
  )
}

async function readForm(req) {
  let body = ''
  for await (const chunk of req) {
    body += chunk
    if (body.length > 10_000) throw new Error('form too large')
  }
  return new URLSearchParams(body)
}

const see = (res, location) => res.writeHead(303, { Location: location }).end()

async function handle(req, res) {
  const session = sessions.get(req)
  const signedIn = session.subject !== null
  if (req.method === 'POST' && req.url === '/login') {
    const name = ((await readForm(req)).get('name') ?? '').trim().slice(0, 40)
    if (name) {
      await session.renewToken() // a new token at login: session-fixation defence
      session.setSubject(name) // the user this session belongs to: "Your sessions" lists by it
      session.set('name', name)
    }
    see(res, '/')
  } else if (req.method === 'POST' && req.url === '/logout') {
    await session.destroy() // deleted from the store; this response clears the cookie
    see(res, '/') // 303: a reload of the next page does not post the logout again
  } else if (req.method === 'GET' && req.url === '/sessions' && signedIn) {
    res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' }).end(await devices(session))
  } else if (req.method === 'POST' && req.url === '/sessions/revoke' && signedIn) {
    const id = (await readForm(req)).get('id') ?? ''
    // Only a session of this user: an id from elsewhere revokes nothing.
    await sessions.revoke(id, { subject: session.subject }).catch(() => false)
    see(res, '/sessions')
  } else if (req.method === 'POST' && req.url === '/sessions/revoke-others' && signedIn) {
    await sessions.revokeSubject(session.subject, { except: session })
    see(res, '/sessions')
  } else if (req.method === 'GET' && req.url === '/') {
    session.set('visits', (session.get('visits') ?? 0) + 1)
    const live = await store.count() // stored sessions; yours is saved as this response goes out
    res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' }).end(home(session, live))
  } else if (req.url.startsWith('/sessions')) {
    see(res, '/')
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
  // Browsers treat localhost as a secure context and keep Secure cookies there over HTTP.
  const loopback = ['127.0.0.1', '::1', 'localhost'].includes(host)
  const shown = loopback ? 'localhost' : host.includes(':') ? `[${host}]` : host
  console.log(`demo: open http://${shown}:${actual}/  (sessions in PGlite at ${dataDir}; Ctrl+C stops)`)
  if (!loopback && secure) {
    console.log(
      'demo: cookies are Secure: over plain HTTP, browsers keep them on localhost only (SECURE_COOKIES=false)',
    )
  }
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
