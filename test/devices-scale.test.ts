// Issue 22, a devices page at scale: one subject with 100,000 sessions (someone with the
// password signed in again and again). Listing, revoking and limiting cost a few indexed
// queries whatever their number; asserted by counting queries, never by timing them.
import { randomBytes } from 'node:crypto'
import { CompiledQuery, sql, type Kysely } from 'kysely'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { families } from '../src/families/index.js'
import { KyselyStore, migrate, SessionManager, type Session } from '../src/index.js'
import { randomTable, recording } from './helpers.js'
import { legs, type EngineLeg } from './legs.js'
import { withServer } from './servers.js'
import { cookiePair } from './session-suite.js'

const SESSIONS = 100_000
const MINUTE = 60_000

/**
 * Adds `n` live sessions of `subject` in one statement, each seen 1 ms after the one before,
 * all after `from`: the sessions of someone who signed in again and again after the victim.
 */
async function fill(
  db: Kysely<any>,
  family: string,
  table: string,
  subject: string,
  from: number,
  n: number,
) {
  const expiry = from + 24 * 60 * MINUTE
  if (family === 'postgres') {
    const at = (ms: number, offset = '') =>
      `to_timestamp(${ms / 1000})${offset === '' ? '' : ` + ${offset} * interval '1 millisecond'`}`
    await sql
      .raw(
        `INSERT INTO "${table}" (token, data, expiry, subject, created_at, last_seen_at) ` +
          `SELECT encode(sha256(g::text::bytea), 'hex'), '\\x7b7d'::bytea, ${at(expiry)}, '${subject}', ` +
          `${at(from, 'g')}, ${at(from, 'g')} FROM generate_series(1, ${n}) AS g`,
      )
      .execute(db)
    await sql.raw(`ANALYZE "${table}"`).execute(db)
    return
  }
  const q = family === 'mysql' ? '`' : '"'
  const hex = family === 'mysql' ? `LPAD(HEX(i), 64, '0')` : `printf('%064x', i)`
  await db.connection().execute(async (connection) => {
    // MariaDB stops a recursive CTE at 1,000 rows unless told otherwise, for this connection.
    if (family === 'mysql')
      await sql.raw(`SET SESSION max_recursive_iterations = ${n + 1}`).execute(connection)
    await sql
      .raw(
        `INSERT INTO ${q}${table}${q} (token, data, expiry, subject, created_at, last_seen_at) ` +
          `WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ${n}) ` +
          `SELECT ${hex}, X'7b7d', ${expiry}, '${subject}', ${from} + i, ${from} + i FROM n`,
      )
      .execute(connection)
    await sql.raw(family === 'mysql' ? `ANALYZE TABLE ${q}${table}${q}` : 'ANALYZE').execute(connection)
  })
}

/** The plan of the first page of listBySubject, as the engine prints it. */
async function planOf(db: Kysely<any>, family: string, table: string, subject: string): Promise<string> {
  const statement = families
    .find((f) => f.name === family)!
    .statements({ schema: undefined, name: table }).listBySubject
  const now = families.find((f) => f.name === family)!.time(Date.now())
  const values = statement.bind({ subject, now, limit: 101 })
  const explain = { postgres: 'EXPLAIN', sqlite: 'EXPLAIN QUERY PLAN', mysql: 'EXPLAIN' }[family]!
  // Without the statement's name (postgres() would prepare the EXPLAIN under it).
  const text = statement.sql.replace(/ \/\* kss_\w+ \*\/$/, '')
  const { rows } = await db.executeQuery(CompiledQuery.raw(`${explain} ${text}`, values))
  return JSON.stringify(rows)
}

function scale(leg: EngineLeg): void {
  describe(`${leg.name}: one subject with ${SESSIONS.toLocaleString('en')} sessions`, () => {
    let db: Kysely<any>
    const table = randomTable('scale')
    const subject = `victim-${randomBytes(4).toString('hex')}`
    const clock = { now: Date.UTC(2033, 0, 1) }
    let spy: ReturnType<typeof recording>
    let sessions: SessionManager
    let current: Session
    let currentCookie: string

    beforeAll(async () => {
      db = await leg.open()
      await migrate(db, { tableName: table })
      spy = recording(db)
      const store = new KyselyStore(spy.db, 0, { tableName: table, now: () => clock.now })
      sessions = new SessionManager({ store, now: () => clock.now })
      const session = await sessions.load(undefined)
      await session.renewToken()
      session.setSubject(subject)
      currentCookie = cookiePair(await sessions.save(session))
      current = await sessions.load(currentCookie)
      await fill(db, leg.family, table, subject, clock.now, SESSIONS)
      clock.now += SESSIONS + MINUTE
    }, 600_000)

    afterAll(async () => {
      if (db) {
        await db.schema.dropTable(table).ifExists().execute()
        await leg.close(db)
      }
    })

    const queriesOf = async <T>(fn: () => Promise<T>): Promise<[T, string[]]> => {
      spy.queries.length = 0
      const result = await fn()
      return [result, spy.queries.map((query) => query.sql.split(' ')[0]!)]
    }

    test('the first page of listBySubject is read from the (subject, last_seen_at) index, in its order: no sort', async () => {
      const plan = await planOf(db, leg.family, table, subject)
      expect(plan).toContain(`${table}_subject_seen_idx`)
      expect(plan).not.toMatch(/Sort|TEMP B-TREE|filesort/i)
    })

    test('listSubject: two queries at most, the most recent first, the current session included, truncated', async () => {
      const [listed, queries] = await queriesOf(() => sessions.listSubject(subject, { current }))
      expect(queries.length).toBeLessThanOrEqual(2)
      expect(listed).toHaveLength(100)
      expect(listed.truncated).toBe(true)
      expect(listed[0]!.lastSeenAt!.getTime()).toBe(Date.UTC(2033, 0, 1) + SESSIONS)
      expect(listed.filter((device) => device.current)).toHaveLength(1)
      expect(listed.at(-1)!.current).toBe(true) // the least recently seen of those listed
    }, 120_000)

    test('revoke(id): one query for an id that finds nothing, two to revoke one session', async () => {
      const listed = await sessions.listSubject(subject, { limit: 3 })
      const id = listed[1]!.id
      const bogus = `${id.slice(0, -22)}${id.endsWith('A'.repeat(22)) ? 'Q' : 'A'}${'A'.repeat(21)}`
      expect(await queriesOf(() => sessions.revoke(bogus))).toEqual([false, ['SELECT']])
      expect(await queriesOf(() => sessions.revoke(id, { subject }))).toEqual([true, ['SELECT', 'DELETE']])
      expect((await sessions.listSubject(subject, { limit: 3 })).map((d) => d.id)).not.toContain(id)
    }, 120_000)

    test('maxSessionsPerSubject: the next sign-in ends all but the most recently seen, in three queries', async () => {
      const limited = new SessionManager({
        store: new KyselyStore(spy.db, 0, { tableName: table, now: () => clock.now }),
        now: () => clock.now,
        maxSessionsPerSubject: 10,
      })
      const session = await limited.load(undefined)
      await session.renewToken()
      session.setSubject(subject)
      const [headers, queries] = await queriesOf(() => limited.save(session))
      expect(queries).toEqual(['INSERT', 'SELECT', 'DELETE']) // commit, the 10 most recent, the rest
      expect(await limited.countSubject(subject)).toBe(10)
      expect((await limited.load(cookiePair(headers))).subject).toBe(subject)
      expect((await limited.load(currentCookie)).subject).toBeNull() // the least recently seen
    }, 300_000)
  })
}

scale(legs.sqliteMemory())
await withServer('Postgres', () => scale(legs.postgres()))
await withServer('MySQL', () => scale(legs.mysql()))
