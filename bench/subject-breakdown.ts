/**
 * Why a subject's sessions cost more than a find on SQLite, with the driver alone: the raw
 * prepared statements of the store (find, listBySubject, countBySubject) on 1,000,000
 * sessions of 100,000 subjects (10 each, scattered over the table, as `npm run bench:scale`),
 * once with the schema's subject index and once with a covering one (subject, token, expiry,
 * ended_at, created_at, last_seen_at), which the schema does not have: it would make every
 * commit and touch of a signed-in session update one more index. CPU time per call, the
 * statements taking turns for 5 rounds, medians; a SQLite file in WAL mode.
 *
 *   npx tsx bench/subject-breakdown.ts
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import { migrate } from '../src/index.js'
import { sqlite } from '../dialects/sqlite.js'
import { sqliteFamily } from '../src/families/sqlite.js'

const SESSIONS = 1_000_000
const SUBJECTS = 100_000
const CALLS = 20_000
const dir = mkdtempSync(join(tmpdir(), 'kss-subject-'))
const file = join(dir, 'subject.db')
const db = sqlite(file)
await migrate(db) // the schema's own DDL, subject index included
await db.destroy()

const raw = new Database(file)
raw.pragma('journal_mode = WAL')
raw.pragma('synchronous = NORMAL')
const now = Date.now()
const insert = raw.prepare(
  'INSERT INTO sessions (token, data, expiry, subject, created_at, last_seen_at) VALUES (?, ?, ?, ?, ?, ?)',
)
const data = Buffer.alloc(256, 7)
raw.transaction(() => {
  for (let i = 0; i < SESSIONS; i++) {
    insert.run(`tok-${i}`, data, now + 86_400_000, `user-${i % SUBJECTS}`, now, now)
  }
})()
raw.exec('ANALYZE')

// The store's own statements, as it runs them.
const statements = sqliteFamily.statements({ schema: undefined, name: 'sessions' })
const token = (i: number) => `tok-${(i * 7919) % SESSIONS}`
const subject = (i: number) => `user-${(i * 7919) % SUBJECTS}`

function measure(label: string): void {
  const find = raw.prepare(statements.find.sql)
  const list = raw.prepare(statements.listBySubject.sql)
  const count = raw.prepare(statements.countBySubject.sql)
  const calls: Array<[string, (i: number) => unknown]> = [
    ['find', (i) => find.get(statements.find.bind({ token: token(i), now }))],
    [
      'listBySubject (10 rows)',
      (i) => list.all(statements.listBySubject.bind({ subject: subject(i), now, limit: 100 })),
    ],
    ['countBySubject', (i) => count.get(statements.countBySubject.bind({ subject: subject(i), now }))],
  ]
  const times = new Map<string, number[]>(calls.map(([name]) => [name, []]))
  for (let round = 0; round < 5; round++) {
    for (const [name, call] of calls) {
      for (let i = 0; i < 2_000; i++) call(i)
      const before = process.cpuUsage()
      for (let i = 0; i < CALLS; i++) call(i + round * CALLS)
      const used = process.cpuUsage(before)
      times.get(name)!.push((used.user + used.system) / CALLS)
    }
  }
  const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!
  const findUs = median(times.get('find')!)
  console.log(`\n${label}\n`)
  console.log('| raw statement | CPU us per call (median of 5) | x find |')
  console.log('| --- | ---: | ---: |')
  for (const [name] of calls) {
    const us = median(times.get(name)!)
    console.log(`| ${name} | ${us.toFixed(2)} | ${(us / findUs).toFixed(2)}x |`)
  }
}

measure("The schema's index: sessions_subject_idx ON (subject) WHERE subject IS NOT NULL")
raw.exec('DROP INDEX sessions_subject_idx')
raw.exec(
  'CREATE INDEX sessions_subject_idx ON sessions ' +
    '(subject, token, expiry, ended_at, created_at, last_seen_at) WHERE subject IS NOT NULL',
)
raw.exec('ANALYZE')
measure('A covering index (not in the schema): (subject, token, expiry, ended_at, created_at, last_seen_at)')
raw.close()
rmSync(dir, { recursive: true, force: true })
