// Bad input, as a table: the cases test/bad-input.test.ts runs, and the table of them that
// docs/operations/reliability.md shows.
// Print the table with: npx tsx test/bad-input-cases.ts
import type { Kysely } from 'kysely'
import { expect } from 'vitest'
import { mysql } from '../dialects/mysql.js'
import { pglite } from '../dialects/pglite.js'
import { postgres } from '../dialects/postgres.js'
import { sqlite } from '../dialects/sqlite.js'
import { ExpressSessionStore } from '../src/adapters/express.js'
import { KyselyStore, migrate, SessionManager, type FamilyName } from '../src/index.js'
import { readRows, text } from './helpers.js'

export type Outcome = 'refused' | 'stored'
export interface Context {
  db: Kysely<any>
  family: FamilyName
  table: string
  store: KyselyStore
}
export interface Case {
  entry: string
  input: string
  outcome: Outcome
  /** For 'refused': the error's type and the argument its message starts with. */
  error?: [ErrorConstructor, string]
  run: (context: Context) => unknown
  /** For 'stored': checks the value came back literally. */
  check?: (context: Context) => Promise<void>
}

const HOUR = 3600_000
const later = () => new Date(Date.now() + HOUR)
const bytes = (value: string) => new TextEncoder().encode(value)

function roundTrip(token: string, data: Uint8Array, expiry = later()): Pick<Case, 'run' | 'check'> {
  return {
    run: ({ store }) => store.commit(token, data, expiry),
    check: async ({ store, db, table, family }) => {
      if (expiry.getTime() > Date.now())
        expect(Buffer.from((await store.find(token))!).equals(Buffer.from(data))).toBe(true)
      const row = (await readRows(db, table, family)).find((r) => r.token === token)
      expect(row?.expiry).toBe(expiry.getTime())
      expect(Buffer.from(row!.data).equals(Buffer.from(data))).toBe(true)
      await store.delete(token) // keep the table small for the next case's snapshots
    },
  }
}

const tokens: Case[] = [
  ['undefined', undefined, TypeError],
  ['a number', 42, TypeError],
  ['an object', { toString: () => 'x' }, TypeError],
  ['an empty string', '', RangeError],
  ['256 characters', 'x'.repeat(256), RangeError],
  ['10,000 characters', 'x'.repeat(10_000), RangeError],
  ['a lone high surrogate', 'a\uD800', RangeError],
  ['a lone low surrogate', '\uDC00b', RangeError],
  ['a NUL character', 'a\u0000b', RangeError],
].flatMap(([input, token, type]) =>
  (['commit', 'find', 'delete', 'touch'] as const).map<Case>((method) => ({
    entry: `store.${method}`,
    input: `token: ${input as string}`,
    outcome: 'refused',
    error: [type as ErrorConstructor, 'token'],
    run: ({ store }) =>
      method === 'commit'
        ? store.commit(token as string, bytes('x'), later())
        : method === 'touch'
          ? store.touch(token as string, later())
          : store[method](token as string),
  })),
)

const literalTokens: Case[] = [
  ['SQL text', "'; DROP TABLE sessions; --"],
  ['quotes and backslashes', `"'\\\`"`],
  ['LIKE wildcards', '%_%'],
  ['255 characters', 'y'.repeat(255)],
  ['emoji and combining marks', '😀e\u0301🏳️‍🌈'],
  ['control characters', '\t\r\n\u0001'],
].map(([input, token]) => ({
  entry: 'store.commit',
  input: `token: ${input}`,
  outcome: 'stored' as const,
  ...roundTrip(token!, bytes(`data for ${input}`)),
}))

const data: Case[] = [
  ...[
    ['a string', 'text'],
    ['an array', [1, 2]],
    ['an ArrayBuffer', new ArrayBuffer(4)],
    ['a Uint16Array', new Uint16Array(2)],
    ['null', null],
  ].map<Case>(([input, value]) => ({
    entry: 'store.commit',
    input: `data: ${input as string}`,
    outcome: 'refused',
    error: [TypeError, 'data'],
    run: ({ store }) => store.commit('d', value as unknown as Uint8Array, later()),
  })),
  {
    entry: 'store.commit',
    input: 'data: 0 bytes',
    outcome: 'stored',
    ...roundTrip('zero', new Uint8Array(0)),
  },
  {
    entry: 'store.commit',
    input: 'data: 4 MiB (the default maxDataSize)',
    outcome: 'stored',
    ...roundTrip('big', new Uint8Array(4 * 1024 * 1024).fill(0xab)),
  },
  {
    entry: 'store.commit',
    input: 'data: 64 MiB',
    outcome: 'refused',
    error: [RangeError, 'data'],
    run: ({ store }) => store.commit('huge', new Uint8Array(64 * 1024 * 1024), later()),
  },
]

const expiries: Case[] = [
  ['a number', Date.now(), TypeError],
  ['a string', '2030-01-01T00:00:00Z', TypeError],
  ['an Invalid Date', new Date(NaN), RangeError],
  ['the year 10000', new Date(Date.UTC(10000, 0, 1)), RangeError],
  ['the year 275760 (the largest Date)', new Date(8.64e15), RangeError],
  ['before the year 1', new Date(-62_200_000_000_000), RangeError],
].flatMap(([input, expiry, type]) =>
  (['commit', 'touch'] as const).map<Case>((method) => ({
    entry: `store.${method}`,
    input: `expiry: ${input as string}`,
    outcome: 'refused',
    error: [type as ErrorConstructor, 'expiry'],
    run: ({ store }) =>
      method === 'commit' ? store.commit('e', bytes('x'), expiry as Date) : store.touch('e', expiry as Date),
  })),
)

const literalExpiries: Case[] = [
  ['a negative epoch (1969)', new Date(-1)],
  ['the year 1', new Date(new Date(0).setUTCFullYear(1, 0, 1))],
  ['the year 9999', new Date(Date.UTC(9999, 11, 31, 23, 59, 59, 999))],
].map(([input, expiry]) => ({
  entry: 'store.commit',
  input: `expiry: ${input as string}`,
  outcome: 'stored' as const,
  ...roundTrip(`exp-${input as string}`, bytes('x'), expiry as Date),
}))

const intervals: Case[] = [
  ['negative', -1, RangeError],
  ['NaN', NaN, RangeError],
  ['Infinity', Infinity, RangeError],
  ['2^31 ms (beyond setTimeout)', 2 ** 31, RangeError],
  ['a string', '1000', TypeError],
  ['null', null, TypeError],
].map(([input, interval, type]) => ({
  entry: 'new KyselyStore',
  input: `cleanupInterval: ${input as string}`,
  outcome: 'refused' as const,
  error: [type as ErrorConstructor, 'cleanupInterval'] as [ErrorConstructor, string],
  run: ({ db }: Context) => new KyselyStore(db, interval as number),
}))

intervals.push({
  entry: 'new KyselyStore',
  input: 'options where cleanupInterval goes: new KyselyStore(db, { tableName })',
  outcome: 'refused',
  error: [
    TypeError,
    'new KyselyStore(db, cleanupInterval, options): options go third, after cleanupInterval',
  ],
  run: ({ db }: Context) => new KyselyStore(db, { tableName: 'x' } as unknown as number),
})

const tableNames: Case[] = [
  ['with a double quote', 'a"b'],
  ['with a backtick', 'a`b'],
  ['with a single quote', "a'b"],
  ['with a dot', 'public.sessions'],
  ['with a semicolon', 'sessions;DROP TABLE x'],
  ['with a space', 'my sessions'],
  ['empty', ''],
  ['49 characters', 'x'.repeat(49)],
].flatMap(([input, name]) => [
  {
    entry: 'new KyselyStore',
    input: `tableName: ${input}`,
    outcome: 'refused' as const,
    error: [RangeError, 'tableName'] as [ErrorConstructor, string],
    run: ({ db }: Context) => new KyselyStore(db, 0, { tableName: name }),
  },
  {
    entry: 'migrate',
    input: `tableName: ${input}`,
    outcome: 'refused' as const,
    error: [RangeError, 'tableName'] as [ErrorConstructor, string],
    run: ({ db }: Context) => migrate(db, { tableName: name }),
  },
])

const storeOptions: Case[] = [
  ['options: a string', 'x', TypeError, 'options'],
  ['onError: a string', { onError: 'log' }, TypeError, 'onError'],
  ['now: a number', { now: 5 }, TypeError, 'now'],
  ['cleanupBatchSize: 0', { cleanupBatchSize: 0 }, RangeError, 'cleanupBatchSize'],
  ['maxDataSize: 1.5', { maxDataSize: 1.5 }, RangeError, 'maxDataSize'],
  ["family: 'oracle'", { family: 'oracle' }, RangeError, 'family'],
].map(([input, options, type, argument]) => ({
  entry: 'new KyselyStore',
  input: input as string,
  outcome: 'refused' as const,
  error: [type as ErrorConstructor, argument as string] as [ErrorConstructor, string],
  run: ({ db }: Context) => new KyselyStore(db, 0, options as never),
}))

const notKysely: Case[] = [
  ['an empty object', {}],
  ['undefined', undefined],
].map(([input, db]) => ({
  entry: 'new KyselyStore',
  input: `db: ${input as string}`,
  outcome: 'refused' as const,
  error: [TypeError, 'db'] as [ErrorConstructor, string],
  run: () => new KyselyStore(db as never),
}))

const pageSizes: Case[] = [
  ['0', 0, RangeError],
  ['1.5', 1.5, RangeError],
  ['100,001', 100_001, RangeError],
  ["'2'", '2', TypeError],
].map(([input, pageSize, type]) => ({
  entry: 'store.entries',
  input: `pageSize: ${input as string}`,
  outcome: 'refused' as const,
  error: [type as ErrorConstructor, 'pageSize'] as [ErrorConstructor, string],
  run: ({ store }: Context) => store.entries({ pageSize: pageSize as number }),
}))

const newStoreOptions: Case[] = [
  ["tableName misspelt as 'table'", { table: 'x' }, TypeError, 'options.table'],
  ["schema: 'a.b'", { schema: 'a.b' }, RangeError, 'schema'],
  ['schema: 42', { schema: 42 }, TypeError, 'schema'],
  ['schema on SQLite', { schema: 'app' }, RangeError, 'schema'],
  ['timeout: 0', { timeout: 0 }, RangeError, 'timeout'],
  ['timeout: 2^31 ms', { timeout: 2 ** 31 }, RangeError, 'timeout'],
  ['retryBudget: -1', { retryBudget: -1 }, RangeError, 'retryBudget'],
  ["retryBudget: '5s'", { retryBudget: '5s' }, TypeError, 'retryBudget'],
].map(([input, options, type, argument]) => ({
  entry: 'new KyselyStore',
  input: input as string,
  outcome: 'refused' as const,
  error: [type as ErrorConstructor, argument as string] as [ErrorConstructor, string],
  run: ({ db }: Context) => new KyselyStore(db, 0, options as never),
}))

const subjects: Case[] = [
  ['undefined', undefined, TypeError],
  ['a number', 42, TypeError],
  ['an empty string', '', RangeError],
  ['256 characters', 's'.repeat(256), RangeError],
  ['a NUL character', 'a\u0000b', RangeError],
].flatMap(([input, subject, type]) =>
  (['listBySubject', 'countBySubject', 'deleteBySubject'] as const).map<Case>((method) => ({
    entry: `store.${method}`,
    input: `subject: ${input as string}`,
    outcome: 'refused',
    error: [type as ErrorConstructor, 'subject'],
    run: ({ store }) => store[method](subject as string),
  })),
)

const subjectOptions: Case[] = [
  [
    'store.commit',
    'options: subject 42',
    TypeError,
    'subject',
    ({ store }: Context) => store.commit('t', bytes('x'), later(), { subject: 42 as never }),
  ],
  [
    'store.commit',
    "options: subject ''",
    RangeError,
    'subject',
    ({ store }: Context) => store.commit('t', bytes('x'), later(), { subject: '' }),
  ],
  [
    'store.commit',
    "options: { user: 'x' }",
    TypeError,
    'options.user',
    ({ store }: Context) => store.commit('t', bytes('x'), later(), { user: 'x' } as never),
  ],
  [
    'store.update',
    'token: a number',
    TypeError,
    'token',
    ({ store }: Context) => store.update(42 as never, bytes('x'), later()),
  ],
  [
    'store.update',
    'data: a string',
    TypeError,
    'data',
    ({ store }: Context) => store.update('t', 'x' as never, later()),
  ],
  [
    'store.update',
    'expiry: a number',
    TypeError,
    'expiry',
    ({ store }: Context) => store.update('t', bytes('x'), 5 as never),
  ],
  [
    'store.update',
    'options: subject 42',
    TypeError,
    'subject',
    ({ store }: Context) => store.update('t', bytes('x'), later(), { subject: 42 as never }),
  ],
  ['store.get', 'token: an empty string', RangeError, 'token', ({ store }: Context) => store.get('')],
  ['store.get', 'token: a number', TypeError, 'token', ({ store }: Context) => store.get(42 as never)],
  [
    'store.delete',
    "options: tombstone 'yes'",
    TypeError,
    'tombstone',
    ({ store }: Context) => store.delete('t', { tombstone: 'yes' as never }),
  ],
  [
    'store.delete',
    'options: a string',
    TypeError,
    'options',
    ({ store }: Context) => store.delete('t', 'x' as never),
  ],
  [
    'store.listBySubject',
    'limit: 0',
    RangeError,
    'limit',
    ({ store }: Context) => store.listBySubject('s', { limit: 0 }),
  ],
  [
    'store.listBySubject',
    'limit: 10,001',
    RangeError,
    'limit',
    ({ store }: Context) => store.listBySubject('s', { limit: 10_001 }),
  ],
  [
    'store.listBySubject',
    "after: ''",
    RangeError,
    'after',
    ({ store }: Context) => store.listBySubject('s', { after: '' }),
  ],
  [
    'store.deleteBySubject',
    'except: 42',
    TypeError,
    'except',
    ({ store }: Context) => store.deleteBySubject('s', { except: 42 as never }),
  ],
  [
    'store.deleteBySubject',
    "options: { exept: 't' }",
    TypeError,
    'options.exept',
    ({ store }: Context) => store.deleteBySubject('s', { exept: 't' } as never),
  ],
].map(([entry, input, type, argument, run]) => ({
  entry: entry as string,
  input: input as string,
  outcome: 'refused' as const,
  error: [type as ErrorConstructor, argument as string] as [ErrorConstructor, string],
  run: run as (context: Context) => unknown,
}))

const migrateOptions: Case[] = [
  ["tableName misspelt as 'table'", { table: 'x' }, TypeError, 'options.table'],
  ["schema: 'x;y'", { schema: 'x;y' }, RangeError, 'schema'],
  ['schema on SQLite', { schema: 'app' }, RangeError, 'schema'],
  ['timeout: -1', { timeout: -1 }, RangeError, 'timeout'],
].map(([input, options, type, argument]) => ({
  entry: 'migrate',
  input: input as string,
  outcome: 'refused' as const,
  error: [type as ErrorConstructor, argument as string] as [ErrorConstructor, string],
  run: ({ db }: Context) => migrate(db, options as never),
}))

const reservedTables: Case[] = ['select', 'order', 'user', 'table'].map((name) => ({
  entry: 'migrate',
  input: `tableName: reserved word ${name}`,
  outcome: 'stored' as const,
  run: async ({ db }) => {
    await migrate(db, { tableName: name })
    await new KyselyStore(db, 0, { tableName: name }).commit('t', bytes(name), later())
  },
  check: async ({ db }) => {
    expect(text(await new KyselyStore(db, 0, { tableName: name }).find('t'))).toBe(name)
    await db.schema.dropTable(name).execute()
  },
}))

const factories: Case[] = [
  ['postgres', (v: unknown) => postgres(v as string)],
  ['sqlite', (v: unknown) => sqlite(v as string)],
  ['pglite', (v: unknown) => pglite(v as string)],
  ['mysql', (v: unknown) => mysql(v as string)],
].flatMap(([name, factory]) =>
  [
    ['a number', 42],
    ['an empty string', ''],
    ['null', null],
    ['an unrelated object', { foo: 1 }],
  ].map(([input, value]) => ({
    entry: `${name as string}()`,
    input: `${input as string}`,
    outcome: 'refused' as const,
    error: [TypeError, `${name as string}(`] as [ErrorConstructor, string],
    run: () => (factory as (v: unknown) => unknown)(value),
  })),
)

const managerOptions: Case[] = [
  ['store: missing', {}, TypeError, 'store'],
  ['lifetime: 0', { lifetime: 0 }, RangeError, 'lifetime'],
  ['lifetime: NaN', { lifetime: NaN }, RangeError, 'lifetime'],
  ['idleTimeout: -5', { idleTimeout: -5 }, RangeError, 'idleTimeout'],
  ["cookie.name: 'a b'", { cookie: { name: 'a b' } }, RangeError, 'cookie.name'],
  ["cookie.path: '/;x'", { cookie: { path: '/;x' } }, RangeError, 'cookie.path'],
  [
    "cookie.sameSite: 'none' without secure",
    { cookie: { sameSite: 'none', secure: false } },
    RangeError,
    'cookie.secure',
  ],
  ['hashTokens: a string', { hashTokens: 'yes' }, TypeError, 'hashTokens'],
].map(([input, options, type, argument]) => ({
  entry: 'new SessionManager',
  input: input as string,
  outcome: 'refused' as const,
  error: [type as ErrorConstructor, argument as string] as [ErrorConstructor, string],
  run: ({ store }: Context) =>
    new SessionManager((input === 'store: missing' ? {} : { store, ...(options as object) }) as never),
}))

const sessionValues: Case[] = [
  ['a function', () => 1],
  ['a Map', new Map()],
  ['a BigInt', 10n],
  ['NaN', NaN],
  ['a class instance', new (class Point {})()],
].map(([input, value]) => ({
  entry: 'session.set',
  input: `value: ${input as string}`,
  outcome: 'refused' as const,
  error: [TypeError, 'v'] as [ErrorConstructor, string],
  run: async ({ store }: Context) => (await new SessionManager({ store }).load(undefined)).set('v', value),
}))

const cookieHeaders: Case[] = [
  ['malformed', 'session'],
  ['no equals sign, 100 KB', 'x'.repeat(100_000)],
  ['a 100 KB session value', `session=${'a'.repeat(100_000)}`],
  ['SQL text as the token', "session=x' OR '1'='1"],
  ['a quoted value', 'session="abc"'],
].map(([input, header]) => ({
  entry: 'sessionManager.load',
  input: `Cookie: ${input}`,
  outcome: 'refused' as const,
  run: async ({ store }: Context) => {
    const session = await new SessionManager({ store }).load(header)
    expect(session.keys()).toEqual([]) // not adopted: a new, empty session
  },
}))

const expressOptions: Case[] = [
  ['store: a plain object', { find() {} }, undefined, TypeError, 'store'],
  ['ttl: 0', undefined, { ttl: 0 }, RangeError, 'ttl'],
  ['ttl: a string', undefined, { ttl: '1h' }, TypeError, 'ttl'],
].map(([input, badStore, options, type, argument]) => ({
  entry: 'new ExpressSessionStore',
  input: input as string,
  outcome: 'refused' as const,
  error: [type as ErrorConstructor, argument as string] as [ErrorConstructor, string],
  run: ({ store }: Context) => new ExpressSessionStore((badStore ?? store) as never, options as never),
}))

export const cases: Case[] = [
  ...tokens,
  ...literalTokens,
  ...data,
  ...expiries,
  ...literalExpiries,
  ...intervals,
  ...storeOptions,
  ...newStoreOptions,
  ...subjects,
  ...subjectOptions,
  ...migrateOptions,
  ...notKysely,
  ...pageSizes,
  ...tableNames,
  ...reservedTables,
  ...factories,
  ...managerOptions,
  ...sessionValues,
  ...cookieHeaders,
  ...expressOptions,
]

/** The Markdown table docs/operations/reliability.md shows: entry point, inputs tried, and what became of them. */
export function reliabilityTable(): string {
  const entries = new Map<string, { refused: number; stored: number }>()
  for (const c of cases) {
    const row = entries.get(c.entry) ?? { refused: 0, stored: 0 }
    row[c.outcome]++
    entries.set(c.entry, row)
  }
  const lines = [
    '| entry point | inputs tried | refused before any query | stored literally |',
    '| --- | --- | --- | --- |',
  ]
  for (const [entry, { refused, stored }] of entries) {
    lines.push(`| \`${entry}\` | ${refused + stored} | ${refused} | ${stored} |`)
  }
  lines.push(
    `| all | ${cases.length} | ${cases.filter((c) => c.outcome === 'refused').length} | ${cases.filter((c) => c.outcome === 'stored').length} |`,
  )
  return lines.join('\n')
}

// npx tsx test/bad-input-cases.ts prints the table; with --write-docs it replaces the one of
// docs/operations/reliability.md.
if (process.argv[1]?.endsWith('bad-input-cases.ts')) {
  const { readFileSync, writeFileSync } = await import('node:fs')
  const table = reliabilityTable()
  if (process.argv.includes('--write-docs')) {
    const path = new URL('../docs/operations/reliability.md', import.meta.url)
    const page = readFileSync(path, 'utf8')
    const start = page.indexOf('\n| entry point ') + 1
    const end = page.indexOf('\n\n', start)
    if (start === 0 || end === -1)
      throw new Error('docs/operations/reliability.md has no bad-input table to replace')
    writeFileSync(path, page.slice(0, start) + table + page.slice(end))
  } else {
    console.log(table)
  }
}
