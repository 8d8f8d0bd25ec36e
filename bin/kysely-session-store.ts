#!/usr/bin/env node
// The command users run once when switching stores:
//   npx kysely-session-store import connect-pg-simple --url postgres://... --from session
// It opens the database(s), creates our table if needed (migrate), imports, and reports.
import { parseArgs } from 'node:util'
import type { Kysely } from 'kysely'
import { mysql } from '../dialects/mysql.js'
import { postgres } from '../dialects/postgres.js'
import { sqlite } from '../dialects/sqlite.js'
import { importSessions, type ImportResult, type SourceKind } from '../src/import/index.js'
import { migrate } from '../src/migrate.js'

const USAGE = `Usage: kysely-session-store import <connect-pg-simple | connect-session-knex | kysely-session-store> --url <database> [options]

Copies the live sessions of connect-pg-simple's or connect-session-knex's table into
kysely-session-store's table, so that every existing cookie still finds its session after
the switch to ExpressSessionStore. Safe to run more than once: sessions already there are
left as they are. 'kysely-session-store' re-stores the sessions that ExpressSessionStore 0.1
(or hashSids: false) kept under clear ids under their hashes, in the same table.

  --url <database>        the database holding the old table: postgres://..., mysql://...,
                          or sqlite:<file> (DATABASE_URL when omitted)
  --from <table>          the old table (default: session for connect-pg-simple,
                          sessions for the others)
  --from-schema <name>    the old table's Postgres schema or MySQL database
  --sid-column <name>     the old table's id column (connect-session-knex's sidFieldName; default sid)
  --to <table>            our table (default: sessions); created when missing
  --to-schema <name>      our table's Postgres schema or MySQL database
  --to-url <database>     the database for our table, when it is another one (default: --url)
  --no-hash-sids          keep session ids in clear (only with ExpressSessionStore's hashSids: false)
  --subject <paths>       the session fields that hold the user id, comma separated, first
                          found wins (e.g. userId,passport.user), as the adapter's subject option
  --batch-size <n>        rows per batch (default 1000)
  --no-migrate            do not create our table; fail if it is missing
  -h, --help              this text
`

async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      url: { type: 'string' },
      from: { type: 'string' },
      'from-schema': { type: 'string' },
      'sid-column': { type: 'string' },
      to: { type: 'string' },
      'to-schema': { type: 'string' },
      'to-url': { type: 'string' },
      'no-hash-sids': { type: 'boolean' },
      subject: { type: 'string' },
      'batch-size': { type: 'string' },
      'no-migrate': { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  })
  if (values.help || positionals.length === 0) {
    process.stdout.write(USAGE)
    return values.help ? 0 : 2
  }
  const [command, from, ...rest] = positionals
  if (command !== 'import' || !isSourceKind(from) || rest.length) {
    process.stderr.write(
      `kysely-session-store: unknown command ${JSON.stringify(positionals.join(' '))}\n\n${USAGE}`,
    )
    return 2
  }
  const url = values.url ?? process.env.DATABASE_URL
  if (url === undefined) {
    process.stderr.write('kysely-session-store: --url is required (or DATABASE_URL)\n')
    return 2
  }
  const oldTable = values.from ?? (from === 'connect-pg-simple' ? 'session' : 'sessions')
  const sameTable =
    values['to-url'] === undefined &&
    oldTable === (values.to ?? 'sessions') &&
    values['from-schema'] === values['to-schema']
  if (from !== 'kysely-session-store' && sameTable) {
    process.stderr.write(
      `kysely-session-store: the old table "${oldTable}" cannot be ours too: name ours otherwise with --to\n`,
    )
    return 2
  }
  const batchSize = values['batch-size'] === undefined ? undefined : Number(values['batch-size'])
  const source = open(url)
  const target = values['to-url'] === undefined ? source : open(values['to-url'])
  const started = performance.now()
  try {
    if (!values['no-migrate']) {
      await migrate(target, {
        ...(values.to === undefined ? {} : { tableName: values.to }),
        ...(values['to-schema'] === undefined ? {} : { schema: values['to-schema'] }),
      })
    }
    const result = await importSessions(target, {
      from,
      source,
      ...(values.from === undefined ? {} : { table: values.from }),
      ...(values['from-schema'] === undefined ? {} : { schema: values['from-schema'] }),
      ...(values['sid-column'] === undefined ? {} : { sidColumn: values['sid-column'] }),
      ...(values.to === undefined ? {} : { tableName: values.to }),
      ...(values['to-schema'] === undefined ? {} : { targetSchema: values['to-schema'] }),
      ...(values['no-hash-sids'] ? { hashSids: false } : {}),
      ...(values.subject === undefined ? {} : { subject: subjectOf(values.subject) }),
      ...(batchSize === undefined ? {} : { batchSize }),
      onProgress: (progress) => process.stderr.write(`${describe(progress)}\r`),
    })
    const seconds = (performance.now() - started) / 1000
    process.stderr.write('\n')
    process.stdout.write(
      `${describe(result)} in ${seconds.toFixed(1)} s (${Math.round(result.read / seconds)} rows/s)\n`,
    )
    return 0
  } catch (error) {
    process.stderr.write(`\nkysely-session-store: ${(error as Error).message}\n`)
    return 1
  } finally {
    await source.destroy()
    if (target !== source) await target.destroy()
  }
}

function isSourceKind(name: string | undefined): name is SourceKind {
  return name === 'connect-pg-simple' || name === 'connect-session-knex' || name === 'kysely-session-store'
}

function describe(counts: ImportResult): string {
  return (
    `read ${counts.read}: imported ${counts.imported}, already there ${counts.existing}, ` +
    `expired ${counts.expired}, invalid ${counts.invalid}`
  )
}

/** A Kysely instance for a connection URL; the password never reaches a message. */
function open(url: string): Kysely<any> {
  if (/^postgres(ql)?:\/\//.test(url)) return postgres(url)
  if (/^(mysql|mariadb):\/\//.test(url)) return mysql(url.replace(/^mariadb:/, 'mysql:'))
  if (url.startsWith('sqlite:')) return sqlite(url.slice('sqlite:'.length).replace(/^\/\//, ''))
  throw new RangeError('a database URL must start with postgres://, mysql://, mariadb:// or sqlite:')
}

/** `userId,passport.user`: the first of these session fields that is set. */
function subjectOf(paths: string): (session: Record<string, any>) => unknown {
  const list = paths.split(',').map((path) => path.trim().split('.'))
  return (session) => {
    for (const path of list) {
      let value: unknown = session
      for (const key of path) value = (value as Record<string, unknown> | null | undefined)?.[key]
      if (value !== undefined && value !== null) return value
    }
    return undefined
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code
  },
  (error: unknown) => {
    process.stderr.write(`kysely-session-store: ${(error as Error).message}\n`)
    process.exitCode = 1
  },
)
