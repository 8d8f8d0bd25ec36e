// Hono on Cloudflare Workers, its sessions in D1 through kysely-d1. A Worker has no process that
// outlives its requests, so the store runs no background timer (`new KyselyStore(db, 0)`):
// the scheduled handler, run by the Cron Trigger in wrangler.jsonc, deletes expired sessions.
// The table comes from migrations/ (`wrangler d1 migrations apply DB`); migrate(db) works on
// D1 as well.
import { Hono } from 'hono'
import { Kysely } from 'kysely'
import { D1Dialect } from 'kysely-d1'
import { KyselyStore, SessionManager, type Session } from 'kysely-session-store'

export interface Env {
  DB: D1Database
  /** Signs the session cookie: `npx wrangler secret put SESSION_SECRET` (32+ characters). */
  SESSION_SECRET?: string
}

interface Sessions {
  store: KyselyStore
  sessions: SessionManager
}

/** One store and session manager per isolate and database, made on first use. */
const made = new WeakMap<D1Database, Sessions>()

function sessionsOf(env: Env): Sessions {
  let found = made.get(env.DB)
  if (found === undefined) {
    const db = new Kysely<any>({ dialect: new D1Dialect({ database: env.DB }) })
    const store = new KyselyStore(db, 0) // 0: no timer; scheduled() below cleans up
    const sessions = new SessionManager({
      store,
      lifetime: 7 * 24 * 3600_000, // a week at most
      idleTimeout: 24 * 3600_000, // a day without a request ends it
      cookie: { name: '__Host-session' },
      ...(env.SESSION_SECRET === undefined ? {} : { secret: env.SESSION_SECRET }),
    })
    found = { store, sessions }
    made.set(env.DB, found)
  }
  return found
}

const app = new Hono<{ Bindings: Env; Variables: { session: Session } }>()

// Load the session before the route, save it (and set the cookie) after.
app.use(async (c, next) => {
  const { sessions } = sessionsOf(c.env)
  const session = await sessions.load(c.req.header('cookie'))
  c.set('session', session)
  await next()
  for (const [name, value] of await sessions.save(session)) c.header(name, value, { append: true })
})

app.get('/', (c) => {
  const session = c.get('session')
  const visits = ((session.get('visits') as number | undefined) ?? 0) + 1
  session.set('visits', visits)
  return c.json({ user: session.get('user') ?? null, visits })
})

app.post('/login', async (c) => {
  const { user } = await c.req.json<{ user?: unknown }>()
  if (typeof user !== 'string' || user === '') return c.json({ error: 'user must be a string' }, 400)
  // Check the credentials here. Then: a new token (session fixation), and whose session it is.
  const session = c.get('session')
  await session.renewToken()
  session.setSubject(user)
  session.set('user', user)
  return c.json({ user })
})

// How many sessions the signed-in user has open (a "your devices" page would list them).
app.get('/devices', async (c) => {
  const user = c.get('session').subject
  if (user === null) return c.json({ error: 'not signed in' }, 401)
  return c.json({ user, sessions: await sessionsOf(c.env).store.countBySubject(user) })
})

app.post('/logout', async (c) => {
  await c.get('session').destroy() // deleted from D1; the response clears the cookie
  return c.json({ user: null })
})

export default {
  fetch: app.fetch,
  // The Cron Trigger: delete expired sessions, in batches, until none is left.
  async scheduled(_controller, env, ctx) {
    ctx.waitUntil(
      sessionsOf(env)
        .store.cleanup()
        .then((deleted) => console.log(`cleanup deleted ${deleted} expired sessions`)),
    )
  },
} satisfies ExportedHandler<Env>
