/**
 * Scale: how the store behaves with a million sessions. `npm run bench:scale`
 * (`-- --rows 100000` for a smaller run). Writes bench/report/scale.{json,md}.
 *
 * 1. find p50 with 1,000,000 sessions against 10,000 (Postgres and SQLite file).
 * 2. Cleanup of 1,000,000 expired rows among 1,000,000 live ones on Postgres while a find load
 *    runs: rows/s, find p99 during cleanup against idle, and the total time against one
 *    unbatched DELETE of the same rows.
 * 3. Four store instances in four processes cleaning one Postgres table at once: errors,
 *    rows deleted in all (each row once), time against one instance alone.
 * 4. all() against entries() on 1,000,000 sessions: peak memory of each, in a fresh process.
 * 5. A subject's sessions with 1,000,000 sessions of 100,000 subjects (Postgres and SQLite file):
 *    listBySubject, countBySubject and deleteBySubject of one subject (10 sessions) against a
 *    find, p50; and what the new columns cost find and commit: the statements of 0.1 on a
 *    table of 0.1 against today's on today's table, through the same Kysely dialect, in
 *    interleaved rounds.
 * `--only=find,cleanup,concurrent,memory,subjects` runs some of them.
 */
import { execFile } from 'node:child_process'
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { cpus, tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import Database from 'better-sqlite3'
import { CompiledQuery, Kysely, PostgresDialect, sql } from 'kysely'
import pg from 'pg'
import { postgres } from '../dialects/postgres.js'
import { sqlite } from '../dialects/sqlite.js'
import { postgresFamily } from '../src/families/postgres.js'
import { sqliteFamily } from '../src/families/sqlite.js'
import { KyselyStore, migrate } from '../src/index.js'

const run = promisify(execFile)
const url = process.env.TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test'
const rowsArg = process.argv.find((a) => a.startsWith('--rows='))?.slice('--rows='.length)
const MILLION = Number(rowsArg ?? 1_000_000)
const SMALL = 10_000
const report: Record<string, unknown> = {
  machine: {
    cpu: cpus()[0]?.model,
    cores: cpus().length,
    node: process.version,
    date: new Date().toISOString(),
  },
  rows: MILLION,
}
const lines: string[] = []
const say = (line: string) => {
  console.log(line)
  lines.push(line)
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN
}
const ms = (ns: bigint) => Number(ns) / 1e6
const round = (x: number, digits = 3) => Math.round(x * 10 ** digits) / 10 ** digits

/** Latencies (ms) of `count` finds of random existing tokens, one at a time. */
async function findLatencies(store: KyselyStore, rows: number, count: number): Promise<number[]> {
  const latencies: number[] = []
  for (let i = 0; i < count; i++) {
    const token = `tok-${1 + Math.floor(Math.random() * rows)}`
    const start = process.hrtime.bigint()
    await store.find(token)
    latencies.push(ms(process.hrtime.bigint() - start))
  }
  return latencies.sort((a, b) => a - b)
}

async function fillPostgres(db: Kysely<any>, table: string, live: number, expired: number): Promise<void> {
  await db.schema.dropTable(table).ifExists().execute()
  await migrate(db, { tableName: table })
  const payload = sql`decode(repeat('ab', 256), 'hex')`
  await sql`INSERT INTO ${sql.table(table)} (token, data, expiry)
    SELECT 'tok-' || g, ${payload}, now() + interval '1 day' FROM generate_series(1, ${live}::int) g`.execute(
    db,
  )
  if (expired > 0) {
    await sql`INSERT INTO ${sql.table(table)} (token, data, expiry)
      SELECT 'old-' || g, ${payload}, now() - interval '1 day' FROM generate_series(1, ${expired}::int) g`.execute(
      db,
    )
  }
  await sql.raw(`VACUUM ANALYZE "${table}"`).execute(db)
}

/** The table of version 0.1: SCS's three columns and the expiry index. */
const V1_SQLITE =
  'CREATE TABLE IF NOT EXISTS sessions (token TEXT NOT NULL PRIMARY KEY, data BLOB NOT NULL, expiry INTEGER NOT NULL); ' +
  'CREATE INDEX IF NOT EXISTS sessions_expiry_idx ON sessions (expiry)'

/**
 * A SQLite file with `rows` sessions in today's table (each of the `subjects` > 0 owning some),
 * or with `subjects` = 'v1' in the table of version 0.1.
 */
function fillSqlite(file: string, rows: number, subjects: number | 'v1' = 0): void {
  const database = new Database(file)
  database.pragma('journal_mode = WAL')
  const data = Buffer.alloc(256, 0xab)
  const now = Date.now()
  const expiry = now + 86_400_000
  if (subjects === 'v1') {
    database.exec(V1_SQLITE)
    const insert = database.prepare('INSERT INTO sessions VALUES (?, ?, ?)')
    database.transaction(() => {
      for (let i = 1; i <= rows; i++) insert.run(`tok-${i}`, data, expiry)
    })()
  } else {
    for (const statement of sqliteFamily.ddl({ schema: undefined, name: 'sessions' }))
      database.exec(statement)
    const insert = database.prepare(
      'INSERT INTO sessions (token, data, expiry, subject, created_at, last_seen_at) VALUES (?, ?, ?, ?, ?, ?)',
    )
    database.transaction(() => {
      for (let i = 1; i <= rows; i++) {
        insert.run(`tok-${i}`, data, expiry, subjects > 0 ? `user-${i % subjects}` : null, now, now)
      }
    })()
  }
  database.close()
}

// 1. find p50 at 10,000 and at 1,000,000 sessions.
async function findAtScale(): Promise<void> {
  const results: Record<string, unknown> = {}
  const pg = postgres(url)
  for (const rows of [SMALL, MILLION]) {
    await fillPostgres(pg, 'scale_find', rows, 0)
    const latencies = await findLatencies(new KyselyStore(pg, 0, { tableName: 'scale_find' }), rows, 20_000)
    results[`postgres ${rows}`] = {
      p50: round(percentile(latencies, 50)),
      p99: round(percentile(latencies, 99)),
    }
  }
  await pg.schema.dropTable('scale_find').execute()
  await pg.destroy()
  for (const rows of [SMALL, MILLION]) {
    const dir = mkdtempSync(join(tmpdir(), 'kss-scale-'))
    fillSqlite(join(dir, 'scale.db'), rows)
    const db = sqlite(join(dir, 'scale.db'))
    const latencies = await findLatencies(new KyselyStore(db, 0), rows, 50_000)
    results[`sqlite ${rows}`] = {
      p50: round(percentile(latencies, 50), 4),
      p99: round(percentile(latencies, 99), 4),
    }
    await db.destroy()
    rmSync(dir, { recursive: true, force: true })
  }
  report.find = results
  say(`\n## find p50 with ${MILLION} sessions against ${SMALL} (one at a time)`)
  say('| engine | p50 at 10k (ms) | p50 at 1M (ms) | ratio | target |')
  say('| --- | --- | --- | --- | --- |')
  for (const engine of ['postgres', 'sqlite']) {
    const small = (results[`${engine} ${SMALL}`] as { p50: number }).p50
    const large = (results[`${engine} ${MILLION}`] as { p50: number }).p50
    say(
      `| ${engine} | ${small} | ${large} | ${round(large / small, 2)}x | <= 1.3x: ${large / small <= 1.3 ? 'met' : 'missed'} |`,
    )
  }
}

// 2. Cleanup of a million expired rows among a million live ones, under a find load. The
//    unbatched DELETE runs under the same load, so that both times are comparable.
async function cleanupAtScale(): Promise<void> {
  const db = postgres(url)
  const table = 'scale_cleanup'
  await fillPostgres(db, table, MILLION, MILLION)
  const store = new KyselyStore(db, 0, { tableName: table })
  const idle = await loadWhile(store, async () => new Promise((resolve) => setTimeout(resolve, 3000)))
  const timed = async (work: () => Promise<number>) => {
    let deleted = 0
    let took = 0
    const load = await loadWhile(store, async () => {
      const begin = process.hrtime.bigint()
      deleted = await work()
      took = ms(process.hrtime.bigint() - begin)
    })
    return { deleted, ms: round(took, 1), ...load }
  }
  const unbatched = await timed(async () => {
    const result = await sql`DELETE FROM ${sql.table(table)} WHERE expiry <= now()`.execute(db)
    return Number(result.numAffectedRows)
  })
  const batched: Record<number, Awaited<ReturnType<typeof timed>>> = {}
  for (const batch of [1000, 5000]) {
    await fillPostgres(db, table, MILLION, MILLION)
    const cleaner = new KyselyStore(db, 0, { tableName: table, cleanupBatchSize: batch })
    batched[batch] = await timed(() => cleaner.cleanup())
  }
  await db.schema.dropTable(table).execute()
  await db.destroy()
  report.cleanup = { idle, unbatched, batched }
  say(`\n## Cleanup of ${MILLION} expired rows among ${MILLION} live (Postgres, while 4 workers find)`)
  say('| cleanup | rows deleted | time | rows/s | x unbatched | find p99 | x idle p99 |')
  say('| --- | --- | --- | --- | --- | --- | --- |')
  say(`| none (idle) | | | | | ${idle.p99} ms | 1.00x |`)
  const row = (name: string, r: typeof unbatched) =>
    say(
      `| ${name} | ${r.deleted} | ${round(r.ms / 1000, 2)} s | ${Math.round(r.deleted / (r.ms / 1000))} | ` +
        `${round(r.ms / unbatched.ms, 2)}x | ${r.p99} ms | ${round(r.p99 / idle.p99, 2)}x |`,
    )
  row('one unbatched DELETE', unbatched)
  for (const [batch, r] of Object.entries(batched)) row(`store.cleanup(), batches of ${batch}`, r)
  const ours = batched[1000]!
  say(
    `\nTargets (default batches of 1,000): time <= 3x unbatched: ${ours.ms / unbatched.ms <= 3 ? 'met' : 'missed'} ` +
      `(${round(ours.ms / unbatched.ms, 2)}x); p99 during cleanup <= 3x idle: ` +
      `${ours.p99 / idle.p99 <= 3 ? 'met' : 'missed'} (${round(ours.p99 / idle.p99, 2)}x).`,
  )
}

/** Runs 4 find workers while `during` runs; their latencies. */
async function loadWhile(store: KyselyStore, during: () => Promise<void>) {
  let running = true
  const latencies: number[] = []
  const worker = async () => {
    while (running) {
      const start = process.hrtime.bigint()
      await store.find(`tok-${1 + Math.floor(Math.random() * MILLION)}`)
      latencies.push(ms(process.hrtime.bigint() - start))
    }
  }
  const workers = Array.from({ length: 4 }, worker)
  await during()
  running = false
  await Promise.all(workers)
  latencies.sort((a, b) => a - b)
  return {
    finds: latencies.length,
    p50: round(percentile(latencies, 50)),
    p99: round(percentile(latencies, 99)),
  }
}

const child = (script: string, env: Record<string, string>) =>
  run(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
    cwd: join(import.meta.dirname, '..'),
    env: { ...process.env, ...env },
    maxBuffer: 1 << 20,
  })

// 3. Four instances in four processes cleaning one table at once.
async function concurrentCleanup(): Promise<void> {
  const db = postgres(url)
  const table = 'scale_multi'
  // Each child waits for a common start time, so that process start-up is not measured.
  const script = `
    import { postgres } from './dialects/postgres.ts'
    import { KyselyStore } from './src/index.ts'
    const db = postgres(process.env.URL)
    const store = new KyselyStore(db, 0, { tableName: process.env.TABLE })
    await db.selectFrom(process.env.TABLE).select('token').limit(1).execute()
    await new Promise((resolve) => setTimeout(resolve, Number(process.env.START_AT) - Date.now()))
    const start = Date.now()
    const deleted = await store.cleanup()
    console.log(JSON.stringify({ deleted, start, end: Date.now() }))
    await db.destroy()
  `
  const timings: Record<string, unknown> = {}
  for (const processes of [1, 4]) {
    await fillPostgres(db, table, MILLION / 10, MILLION)
    const startAt = String(Date.now() + 5000)
    const outcomes = await Promise.allSettled(
      Array.from({ length: processes }, () => child(script, { URL: url, TABLE: table, START_AT: startAt })),
    )
    const errors = outcomes.filter((o) => o.status === 'rejected').length
    const done = outcomes.flatMap((o) =>
      o.status === 'fulfilled'
        ? [JSON.parse(o.value.stdout) as { deleted: number; start: number; end: number }]
        : [],
    )
    const wall = Math.max(...done.map((d) => d.end)) - Math.min(...done.map((d) => d.start))
    const { rows } = await sql<{
      n: string
    }>`SELECT count(*) AS n FROM ${sql.table(table)} WHERE expiry <= now()`.execute(db)
    timings[processes] = { wall, errors, deleted: done.map((d) => d.deleted), left: Number(rows[0]?.n) }
  }
  await db.schema.dropTable(table).execute()
  await db.destroy()
  report.concurrentCleanup = timings
  const one = timings[1] as { wall: number }
  const four = timings[4] as { wall: number; errors: number; deleted: number[]; left: number }
  const total = four.deleted.reduce((a, b) => a + b, 0)
  say(`\n## Four processes cleaning one Postgres table (${MILLION} expired rows)`)
  say('| measure | value | target |')
  say('| --- | --- | --- |')
  say(`| errors | ${four.errors} | 0 |`)
  say(
    `| rows deleted per process | ${four.deleted.join(', ')} (sum ${total}) | each row once: ${total === MILLION ? 'met' : 'missed'} |`,
  )
  say(`| expired rows left | ${four.left} | 0 |`)
  say(`| cleanup time, 1 process | ${round(one.wall / 1000, 2)} s | |`)
  say(
    `| cleanup time, 4 processes (first start to last end) | ${round(four.wall / 1000, 2)} s | no worse than 1: ${four.wall <= one.wall ? 'met' : 'missed'} |`,
  )
}

// 4. all() against entries() on a million sessions: peak memory in a fresh process.
async function memoryOfAll(): Promise<void> {
  const db = postgres(url)
  await fillPostgres(db, 'scale_all', MILLION, 0)
  await db.destroy()
  const script = (body: string) => `
    import { postgres } from './dialects/postgres.ts'
    import { KyselyStore } from './src/index.ts'
    const db = postgres(process.env.URL)
    const store = new KyselyStore(db, 0, { tableName: 'scale_all' })
    const before = process.resourceUsage().maxRSS
    const start = performance.now()
    let n = 0
    ${body}
    console.log(JSON.stringify({ n, ms: performance.now() - start, baseMiB: before / 1024, peakMiB: process.resourceUsage().maxRSS / 1024 }))
    await db.destroy()
  `
  const all = JSON.parse((await child(script('n = (await store.all()).size'), { URL: url })).stdout) as {
    n: number
    ms: number
    baseMiB: number
    peakMiB: number
  }
  const entries = JSON.parse(
    (await child(script('for await (const _ of store.entries()) n++'), { URL: url })).stdout,
  ) as typeof all
  const cleanup = postgres(url)
  await cleanup.schema.dropTable('scale_all').execute()
  await cleanup.destroy()
  report.memory = { all, entries }
  say(`\n## all() against entries() on ${MILLION} sessions (Postgres, 256-byte data, a fresh process each)`)
  say('| method | sessions | time | peak RSS |')
  say('| --- | --- | --- | --- |')
  for (const [name, r] of [
    ['all()', all],
    ['entries() (pages of 1,000)', entries],
  ] as const) {
    say(`| ${name} | ${r.n} | ${round(r.ms / 1000, 2)} s | ${Math.round(r.peakMiB)} MiB |`)
  }
}

// 5. A subject's sessions at scale, and what the new columns cost.
const V1 = {
  postgres: {
    find: 'SELECT data FROM "scale_v1" WHERE token = $1 AND expiry > $2',
    commit:
      'INSERT INTO "scale_v1" (token, data, expiry) VALUES ($1, $2, $3) ' +
      'ON CONFLICT (token) DO UPDATE SET data = EXCLUDED.data, expiry = EXCLUDED.expiry',
  },
  sqlite: {
    find: 'SELECT data FROM "sessions" WHERE token = ? AND expiry > ?',
    commit:
      'INSERT INTO "sessions" (token, data, expiry) VALUES (?, ?, ?) ' +
      'ON CONFLICT (token) DO UPDATE SET data = excluded.data, expiry = excluded.expiry',
  },
}

/** p50 (ms) of `count` calls of `fn`, one at a time. */
async function p50Of(count: number, fn: (i: number) => Promise<unknown>): Promise<number> {
  const latencies: number[] = []
  for (let i = 0; i < count; i++) {
    const start = process.hrtime.bigint()
    await fn(i)
    latencies.push(ms(process.hrtime.bigint() - start))
  }
  return percentile(
    latencies.sort((a, b) => a - b),
    50,
  )
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!

async function subjectsAtScale(): Promise<void> {
  const SUBJECTS = MILLION / 10
  const results: Record<string, Record<string, number>> = {}
  const random = (n: number) => 1 + Math.floor(Math.random() * n)
  const payload = new Uint8Array(256).fill(0xcd)

  // Postgres: today's table with a subject per session, and a table of 0.1 beside it.
  const admin = postgres(url)
  await admin.schema.dropTable('scale_subjects').ifExists().execute()
  await admin.schema.dropTable('scale_v1').ifExists().execute()
  await migrate(admin, { tableName: 'scale_subjects' })
  await sql`INSERT INTO scale_subjects (token, data, expiry, subject, created_at, last_seen_at)
    SELECT 'tok-' || g, decode(repeat('ab', 256), 'hex'), now() + interval '1 day', 'user-' || (g % ${SUBJECTS}::int), now(), now()
    FROM generate_series(1, ${MILLION}::int) g`.execute(admin)
  await sql`CREATE TABLE scale_v1 (token TEXT PRIMARY KEY, data BYTEA NOT NULL, expiry TIMESTAMPTZ NOT NULL)`.execute(
    admin,
  )
  await sql`CREATE INDEX scale_v1_expiry_idx ON scale_v1 (expiry)`.execute(admin)
  await sql`INSERT INTO scale_v1 SELECT token, data, expiry FROM scale_subjects`.execute(admin)
  await sql.raw('VACUUM ANALYZE scale_subjects').execute(admin)
  await sql.raw('VACUUM ANALYZE scale_v1').execute(admin)
  const store = new KyselyStore(admin, 0, { tableName: 'scale_subjects' })
  results.postgres = await subjectRounds(store, random, SUBJECTS)
  // Column cost, on Kysely's stock dialect for both (unnamed statements alike).
  const stock = new Kysely<any>({
    dialect: new PostgresDialect({ pool: new pg.Pool({ connectionString: url, max: 1 }) }),
  })
  const v2 = postgresFamily.statements({ schema: undefined, name: 'scale_subjects' })
  const now = () => new Date().toISOString()
  Object.assign(
    results.postgres,
    await columnCost(
      stock,
      {
        find: (i) => CompiledQuery.raw(V1.postgres.find, [`tok-${random(MILLION)}`, now()]),
        commit: (i) =>
          CompiledQuery.raw(V1.postgres.commit, [
            `tok-${i % 10_000}`,
            payload,
            new Date(Date.now() + 3600e3).toISOString(),
          ]),
      },
      {
        find: (i) =>
          CompiledQuery.raw(v2.find.sql, v2.find.bind({ token: `tok-${random(MILLION)}`, now: now() })),
        commit: (i) => {
          const row = {
            token: `tok-${i % 10_000}`,
            data: payload,
            expiry: new Date(Date.now() + 3600e3).toISOString(),
            now: now(),
          }
          return CompiledQuery.raw(v2.commit.sql, v2.commit.bind(row))
        },
      },
    ),
  )
  await stock.destroy()
  await admin.schema.dropTable('scale_subjects').execute()
  await admin.schema.dropTable('scale_v1').execute()
  await admin.destroy()

  // SQLite: two files, today's and 0.1's, through sqlite() (the statement cache serves both).
  const dir = mkdtempSync(join(tmpdir(), 'kss-scale-subjects-'))
  fillSqlite(join(dir, 'v2.db'), MILLION, SUBJECTS)
  fillSqlite(join(dir, 'v1.db'), MILLION, 'v1')
  const db2 = sqlite(join(dir, 'v2.db'))
  const db1 = sqlite(join(dir, 'v1.db'))
  results.sqlite = await subjectRounds(new KyselyStore(db2, 0), random, SUBJECTS)
  const v2s = sqliteFamily.statements({ schema: undefined, name: 'sessions' })
  Object.assign(
    results.sqlite,
    await columnCost(
      db1,
      {
        find: () => CompiledQuery.raw(V1.sqlite.find, [`tok-${random(MILLION)}`, Date.now()]),
        commit: (i) =>
          CompiledQuery.raw(V1.sqlite.commit, [
            `tok-${i % 10_000}`,
            Buffer.from(payload),
            Date.now() + 3600e3,
          ]),
      },
      {
        find: () =>
          CompiledQuery.raw(
            v2s.find.sql,
            v2s.find.bind({ token: `tok-${random(MILLION)}`, now: Date.now() }),
          ),
        commit: (i) => {
          const t = Date.now()
          const row = { token: `tok-${i % 10_000}`, data: Buffer.from(payload), expiry: t + 3600e3, now: t }
          return CompiledQuery.raw(v2s.commit.sql, v2s.commit.bind(row))
        },
      },
      db2,
    ),
  )
  await db1.destroy()
  await db2.destroy()
  rmSync(dir, { recursive: true, force: true })

  report.subjects = results
  say(
    `\n## A subject's sessions: ${MILLION} sessions of ${SUBJECTS} subjects (10 each), p50 in ms, medians of 5 rounds`,
  )
  say(
    '| engine | find | listBySubject | x find | countBySubject | x find | deleteBySubject | x find | ' +
      'one-row delete | deleteBySubject x one-row delete | target (<= 2x find) |',
  )
  say('| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |')
  for (const [engine, r] of Object.entries(results)) {
    const x = (v: number) => round(v / r.find!, 2)
    const met = x(r.listBySubject!) <= 2 && x(r.deleteBySubject!) <= 2
    say(
      `| ${engine} | ${round(r.find!, 4)} | ${round(r.listBySubject!, 4)} | ${x(r.listBySubject!)}x | ${round(r.countBySubject!, 4)} | ${x(r.countBySubject!)}x | ${round(r.deleteBySubject!, 4)} | ${x(r.deleteBySubject!)}x | ${round(r.delete!, 4)} | ${round(r.deleteBySubject! / r.delete!, 2)}x | ${met ? 'met' : 'missed'} |`,
    )
  }
  say(
    "\n### What the new columns cost (0.1 statements on a 0.1 table against today's, same dialect, p50 ratios)",
  )
  say('| engine | find today / 0.1 | commit today / 0.1 | target (<= 1.10x) |')
  say('| --- | --- | --- | --- |')
  for (const [engine, r] of Object.entries(results)) {
    const met = r.findCost! <= 1.1 && r.commitCost! <= 1.1
    say(`| ${engine} | ${round(r.findCost!, 3)}x | ${round(r.commitCost!, 3)}x | ${met ? 'met' : 'missed'} |`)
  }
}

/** find, listBySubject, countBySubject and deleteBySubject p50, in 5 interleaved rounds. */
async function subjectRounds(store: KyselyStore, random: (n: number) => number, subjects: number) {
  const rounds: Record<string, number[]> = {
    find: [],
    listBySubject: [],
    countBySubject: [],
    deleteBySubject: [],
    delete: [],
  }
  const deleted = new Set<number>()
  for (let round = 0; round < 5; round++) {
    rounds.find!.push(await p50Of(2000, () => store.find(`tok-${random(MILLION)}`)))
    rounds.listBySubject!.push(await p50Of(2000, () => store.listBySubject(`user-${random(subjects - 1)}`)))
    rounds.countBySubject!.push(await p50Of(2000, () => store.countBySubject(`user-${random(subjects - 1)}`)))
    rounds.deleteBySubject!.push(
      await p50Of(300, async () => {
        let subject = random(subjects - 1)
        while (deleted.has(subject)) subject = random(subjects - 1)
        deleted.add(subject)
        return store.deleteBySubject(`user-${subject}`)
      }),
    )
    // A one-row delete: what any write costs (a transaction commit), for comparison.
    rounds.delete!.push(await p50Of(300, () => store.delete(`tok-${random(MILLION)}`)))
  }
  return Object.fromEntries(Object.entries(rounds).map(([name, values]) => [name, median(values)]))
}

/** p50 ratios today / 0.1 for find and commit, rounds interleaved. */
async function columnCost(
  v1db: Kysely<any>,
  v1: Record<'find' | 'commit', (i: number) => CompiledQuery>,
  v2: Record<'find' | 'commit', (i: number) => CompiledQuery>,
  v2db: Kysely<any> = v1db,
) {
  const ratios: Record<'findCost' | 'commitCost', number[]> = { findCost: [], commitCost: [] }
  for (let round = 0; round < 5; round++) {
    for (const [op, key] of [
      ['find', 'findCost'],
      ['commit', 'commitCost'],
    ] as const) {
      const old = await p50Of(2000, (i) => v1db.executeQuery(v1[op](i)))
      const now = await p50Of(2000, (i) => v2db.executeQuery(v2[op](i)))
      ratios[key].push(now / old)
    }
  }
  return { findCost: median(ratios.findCost), commitCost: median(ratios.commitCost) }
}

const only = process.argv
  .find((a) => a.startsWith('--only='))
  ?.slice('--only='.length)
  .split(',')
const wanted = (name: string) => only === undefined || only.includes(name)
const started = Date.now()
say(
  `# Scale (${new Date().toISOString().slice(0, 10)}, ${cpus()[0]?.model}, ${cpus().length} cores, Node ${process.version})`,
)
if (wanted('find')) await findAtScale()
if (wanted('cleanup')) await cleanupAtScale()
if (wanted('concurrent')) await concurrentCleanup()
if (wanted('memory')) await memoryOfAll()
if (wanted('subjects')) await subjectsAtScale()
say(`\n(${Math.round((Date.now() - started) / 1000)} s in all)`)
if (only === undefined && MILLION === 1_000_000) {
  mkdirSync(join(import.meta.dirname, 'report'), { recursive: true })
  writeFileSync(join(import.meta.dirname, 'report', 'scale.json'), JSON.stringify(report, null, 2) + '\n')
  writeFileSync(join(import.meta.dirname, 'report', 'scale.md'), lines.join('\n') + '\n')
} else {
  console.log('(a partial run: bench/report/scale.* are left as they are)')
}
