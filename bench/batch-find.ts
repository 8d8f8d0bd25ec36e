/**
 * Would answering concurrent finds with one statement pay on Postgres? `npx tsx bench/batch-find.ts`
 * measures, on raw pg with named prepared statements (the shape of our `postgres()` store), one
 * statement per find against the finds asked for within one tick gathered into one
 * `token = ANY($1)` statement, at 1, 8 and 64 finds in flight (a closed loop of that many
 * workers; a pg.Pool of 10 connections, as `postgres()` makes), and a third way: a lone find
 * at once, the finds asked for while one is in flight together after it. Interleaved rounds, the median
 * and the range of the per-round ratio. An experiment, not the store: nothing here is used by it.
 */
import pg from 'pg'
import { bulkInsert, DAY_MS, dollar, makeTokens, sessionPayload } from './harness.js'

const url =
  process.env['BENCH_POSTGRES_URL'] ??
  process.env['TEST_POSTGRES_URL'] ??
  'postgres://postgres@127.0.0.1:5432/test'
const quick = process.argv.includes('--quick')
const ROUNDS = quick ? 2 : 5
const SECONDS = quick ? 0.3 : 1
const SESSIONS = 20_000
const table = `bench_batch_find_${process.pid}`

const admin = new pg.Pool({ connectionString: url, max: 1 })
const pool = new pg.Pool({ connectionString: url, max: 10 })
const tokens = makeTokens(SESSIONS, 'batch-')
const single = `SELECT data FROM "${table}" WHERE token = $1 AND expiry > $2`
const many = `SELECT token, data FROM "${table}" WHERE token = ANY($1::text[]) AND expiry > $2`

type Find = (token: string) => Promise<Buffer | undefined>

const one: Find = async (token) => {
  const { rows } = await pool.query<{ data: Buffer }>({
    name: 'find-one',
    text: single,
    values: [token, new Date().toISOString()],
  })
  return rows[0]?.data
}

/** Finds asked for in the same tick go out as one statement once the tick's microtasks ran. */
function batched(): Find {
  let waiting: Map<string, ((data: Buffer | undefined) => void)[]> | undefined
  let failures: ((error: unknown) => void)[] = []
  const flush = () => {
    const batch = waiting!
    const fail = failures
    waiting = undefined
    failures = []
    pool
      .query<{ token: string; data: Buffer }>({
        name: 'find-many',
        text: many,
        values: [[...batch.keys()], new Date().toISOString()],
      })
      .then(
        ({ rows }) => {
          const found = new Map(rows.map((row) => [row.token, row.data]))
          for (const [token, resolvers] of batch) for (const resolve of resolvers) resolve(found.get(token))
        },
        (error: unknown) => {
          for (const reject of fail) reject(error)
        },
      )
  }
  return (token) =>
    new Promise((resolve, reject) => {
      if (waiting === undefined) {
        waiting = new Map()
        setImmediate(flush)
      }
      const list = waiting.get(token)
      if (list === undefined) waiting.set(token, [resolve])
      else list.push(resolve)
      failures.push(reject)
    })
}

/**
 * A lone find goes out at once; finds asked for while a find statement is in flight wait for
 * it and then go out together as one statement (so at most one is in flight): no wait at 1 in
 * flight, batches under load.
 */
function adaptive(): Find {
  let inFlight = false
  let waiting = new Map<
    string,
    { resolve: (data: Buffer | undefined) => void; reject: (e: unknown) => void }[]
  >()
  const send = (batch: typeof waiting) => {
    inFlight = true
    const tokens = [...batch.keys()]
    const query =
      tokens.length === 1
        ? pool.query<{ token: string; data: Buffer }>({
            name: 'find-one-token',
            text: `SELECT token, data FROM "${table}" WHERE token = $1 AND expiry > $2`,
            values: [tokens[0], new Date().toISOString()],
          })
        : pool.query<{ token: string; data: Buffer }>({
            name: 'find-many',
            text: many,
            values: [tokens, new Date().toISOString()],
          })
    query.then(
      ({ rows }) => {
        const found = new Map(rows.map((row) => [row.token, row.data]))
        next()
        for (const [token, callers] of batch) for (const { resolve } of callers) resolve(found.get(token))
      },
      (error: unknown) => {
        next()
        for (const callers of batch.values()) for (const { reject } of callers) reject(error)
      },
    )
  }
  const next = () => {
    inFlight = false
    if (waiting.size === 0) return
    const batch = waiting
    waiting = new Map()
    send(batch)
  }
  return (token) =>
    new Promise((resolve, reject) => {
      const list = waiting.get(token)
      if (list === undefined) waiting.set(token, [{ resolve, reject }])
      else list.push({ resolve, reject })
      if (!inFlight) next()
    })
}

async function loop(find: Find, concurrency: number, seconds: number): Promise<number> {
  const deadline = performance.now() + seconds * 1000
  let ops = 0
  let i = Math.floor(Math.random() * SESSIONS)
  const worker = async () => {
    while (performance.now() < deadline) {
      const data = await find(tokens[(i = (i * 7919 + 1) % SESSIONS)]!)
      if (data === undefined) throw new Error('a preloaded session was not found')
      ops++
    }
  }
  const started = performance.now()
  await Promise.all(Array.from({ length: concurrency }, worker))
  return ops / ((performance.now() - started) / 1000)
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!

try {
  const { bytes } = sessionPayload()
  await admin.query(
    `CREATE TABLE "${table}" (token text PRIMARY KEY, data bytea NOT NULL, expiry timestamptz NOT NULL)`,
  )
  const far = new Date(Date.now() + DAY_MS).toISOString()
  await bulkInsert(
    (text, values) => admin.query(text, values),
    `INSERT INTO "${table}" (token, data, expiry)`,
    dollar,
    tokens.map((t) => [t, bytes, far]),
  )
  await admin.query(`VACUUM ANALYZE "${table}"`)
  const contenders: [string, Find][] = [
    ['one statement per find', one],
    ['finds of one tick in one statement', batched()],
    ['a lone find at once, the others after it in one statement', adaptive()],
  ]
  const lines = [
    `| in flight | one per find, finds/s | one tick batched, finds/s | x one per find (rounds: min-max) | lone at once, finds/s | x one per find (rounds: min-max) |`,
    `| ---: | ---: | ---: | ---: | ---: | ---: |`,
  ]
  for (const concurrency of [1, 8, 64]) {
    for (const [, find] of contenders) await loop(find, concurrency, SECONDS / 2)
    const rates: number[][] = contenders.map(() => [])
    for (let round = 0; round < ROUNDS; round++) {
      const order = contenders.map((_, k) => (k + round) % contenders.length)
      for (const k of order) rates[k]!.push(await loop(contenders[k]![1], concurrency, SECONDS))
    }
    const rate = (k: number) => Math.round(median(rates[k]!)).toLocaleString('en-US')
    const ratio = (k: number) => {
      const ratios = rates[k]!.map((r, i) => r / rates[0]![i]!)
      return `${median(ratios).toFixed(2)}x (${Math.min(...ratios).toFixed(2)}-${Math.max(...ratios).toFixed(2)})`
    }
    const line = `| ${concurrency} | ${rate(0)} | ${rate(1)} | ${ratio(1)} | ${rate(2)} | ${ratio(2)} |`
    lines.push(line)
    console.log(line)
  }
  console.log(`\n${lines.join('\n')}`)
} finally {
  await admin.query(`DROP TABLE IF EXISTS "${table}"`).catch(() => undefined)
  await admin.end()
  await pool.end()
}
