#!/usr/bin/env node
// The command users run once when switching stores:
//   npx kysely-session-store import connect-pg-simple --url postgres://... --from session
// It checks every argument, reads the old table, creates our table if needed (migrate),
// imports, and reports. Nothing is written before the old table was read.
import { existsSync } from 'node:fs'
import { parseArgs } from 'node:util'
import type { Kysely } from 'kysely'
import { mysql } from '../dialects/mysql.js'
import { postgres } from '../dialects/postgres.js'
import { sqlite } from '../dialects/sqlite.js'
import { SessionStoreError } from '../src/errors.js'
import type { ImportResult, SourceKind } from '../src/import/index.js'
import { planImport } from '../src/import/plan.js'
import { migrate } from '../src/store/migrate.js'

const USAGE = `Usage: kysely-session-store import <connect-pg-simple | connect-session-knex | kysely-session-store> --url <database> [options]

Copies the live sessions of connect-pg-simple's or connect-session-knex's table into
kysely-session-store's table, so that every existing cookie still finds its session after
the switch to ExpressSessionStore. Safe to run more than once: a session is imported once,
and one that ended or was deleted since is never brought back (our table's ledger,
<table>_imported, lists what was imported). 'kysely-session-store' moves the sessions that
ExpressSessionStore 0.1 (or hashSids: false) kept under clear ids from that table (--from)
into the hashed store's own table (--to), under the hashes of their ids.

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

/** The options of importSessions as the command's flags, for its messages. */
const FLAGS: Record<string, string> = {
  table: '--from',
  schema: '--from-schema',
  sidColumn: '--sid-column',
  tableName: '--to',
  targetSchema: '--to-schema',
  hashSids: '--no-hash-sids',
  batchSize: '--batch-size',
  subject: '--subject',
}

async function main(argv: string[]): Promise<number> {
  let parsed
  try {
    parsed = parseArgs({
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
  } catch (error) {
    process.stderr.write(`kysely-session-store: ${(error as Error).message}\n\n${USAGE}`)
    return 2
  }
  const { values, positionals } = parsed
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

  // Every argument is checked before anything is opened, read or written.
  const url = values.url ?? process.env.DATABASE_URL
  if (url === undefined) return refuse('--url is required (or DATABASE_URL)')
  if (from === 'kysely-session-store' && values['to-url'] !== undefined) {
    return refuse(
      "--to-url: 'kysely-session-store' moves sessions between two tables of one database: leave --to-url out",
    )
  }
  let subject: ((session: Record<string, any>) => unknown) | undefined
  try {
    subject = values.subject === undefined ? undefined : subjectOf(values.subject)
    checkUrl('--url', url, { mustExist: true })
    if (values['to-url'] !== undefined) checkUrl('--to-url', values['to-url'], { mustExist: false })
  } catch (error) {
    return refuse((error as Error).message)
  }
  const source = open(url)
  const target = values['to-url'] === undefined ? source : open(values['to-url'])
  const databases = [...new Set([url, values['to-url'] ?? url])].map(whereIs)
  const started = performance.now()
  try {
    let plan
    try {
      plan = planImport(target, {
        from,
        source,
        ...(values.from === undefined ? {} : { table: values.from }),
        ...(values['from-schema'] === undefined ? {} : { schema: values['from-schema'] }),
        ...(values['sid-column'] === undefined ? {} : { sidColumn: values['sid-column'] }),
        ...(values.to === undefined ? {} : { tableName: values.to }),
        ...(values['to-schema'] === undefined ? {} : { targetSchema: values['to-schema'] }),
        ...(values['no-hash-sids'] ? { hashSids: false } : {}),
        ...(subject === undefined ? {} : { subject }),
        ...(values['batch-size'] === undefined ? {} : { batchSize: Number(values['batch-size']) }),
        onProgress: (progress) => process.stderr.write(`${describe(progress)}\r`),
      })
    } catch (error) {
      if (error instanceof TypeError || error instanceof RangeError) return refuse(flagged(error.message))
      throw error
    }
    await plan.checkSource() // a wrong --from fails here, before our table is created
    if (!values['no-migrate']) {
      await migrate(target, {
        ...(values.to === undefined ? {} : { tableName: values.to }),
        ...(values['to-schema'] === undefined ? {} : { schema: values['to-schema'] }),
      })
    }
    const result = await plan.run()
    const seconds = (performance.now() - started) / 1000
    process.stderr.write('\n')
    process.stdout.write(
      `${describe(result)} in ${seconds.toFixed(1)} s (${Math.round(result.read / seconds)} rows/s)\n`,
    )
    return 0
  } catch (error) {
    process.stderr.write(`\n${failure(error, databases)}`)
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

function refuse(message: string): number {
  process.stderr.write(`kysely-session-store: ${message}\n`)
  return 2
}

/** importSessions' message with each option named as the command's flag. */
function flagged(message: string): string {
  return message
    .replace(/^(?:options\.)?([A-Za-z]+)(?=[ :])/, (whole, name: string) => FLAGS[name] ?? whole)
    .replace(/\(([A-Za-z]+)\)/g, (whole, name: string) =>
      FLAGS[name] === undefined ? whole : `(${FLAGS[name]})`,
    )
}

/**
 * What the command prints for a failure: our message, and for a database's error its cause
 * (its code and the first line of its message: the importer's errors carry a copy of the
 * driver's error with every value of the statement taken out) and where that database is
 * (host and port, or the SQLite file; never a user or a password).
 */
function failure(error: unknown, databases: string[]): string {
  const message = error instanceof Error ? error.message.replace(/ \(see error\.cause\)$/, '') : String(error)
  let text = `kysely-session-store: ${message}\n`
  if (error instanceof SessionStoreError && error.cause !== undefined) {
    text += `  cause: ${causeOf(error.cause)} (${databases.join(', ')})\n`
  }
  return text
}

function causeOf(cause: unknown): string {
  let error = cause as { code?: unknown; message?: unknown; errors?: unknown } | null
  // pg reports a refused connection as an AggregateError of one error per address.
  if (Array.isArray(error?.errors) && error.errors.length > 0 && !error.message) error = error.errors[0]
  const code = typeof error?.code === 'string' || typeof error?.code === 'number' ? `${error.code} ` : ''
  const message = typeof error?.message === 'string' ? error.message.split('\n')[0]!.slice(0, 300) : ''
  return `${code}${message}`.trim() || 'no message'
}

/** Where a database URL points, for messages: host and port, or the SQLite file. */
function whereIs(url: string): string {
  if (url.startsWith('sqlite:')) return `SQLite file ${sqliteFile(url)}`
  try {
    const { protocol, hostname, port } = new URL(url)
    const defaultPort = protocol.startsWith('postgres') ? '5432' : '3306'
    return `database at ${hostname || 'localhost'}:${port || defaultPort}`
  } catch {
    return 'the database'
  }
}

function sqliteFile(url: string): string {
  return url.slice('sqlite:'.length).replace(/^\/\//, '')
}

/**
 * Refuses a URL we cannot open, and (with `mustExist`) a SQLite file that is not there:
 * opening it would create an empty one.
 */
function checkUrl(flag: string, url: string, { mustExist }: { mustExist: boolean }): void {
  if (url.startsWith('sqlite:')) {
    const file = sqliteFile(url)
    if (mustExist && file !== ':memory:' && !existsSync(file)) {
      throw new RangeError(`${flag}: there is no SQLite database at ${file}`)
    }
    return
  }
  if (!/^(postgres(ql)?|mysql|mariadb):\/\//.test(url)) {
    throw new RangeError(
      `${flag}: a database URL must start with postgres://, mysql://, mariadb:// or sqlite:`,
    )
  }
}

/** A Kysely instance for a URL that {@link checkUrl} accepted; the password never reaches a message. */
function open(url: string): Kysely<any> {
  if (url.startsWith('sqlite:')) return sqlite(sqliteFile(url))
  if (/^postgres(ql)?:\/\//.test(url)) return postgres(url)
  return mysql(url.replace(/^mariadb:/, 'mysql:'))
}

/**
 * `userId,passport.user`: the first of these session fields that is set. Only the
 * session's own fields are read, never inherited ones (`constructor.name` would give every
 * session the subject "Object").
 */
function subjectOf(paths: string): (session: Record<string, any>) => unknown {
  const list = paths.split(',').map((path) => path.trim().split('.'))
  if (list.some((path) => path.some((key) => key === ''))) {
    throw new RangeError(
      `--subject must be session fields separated by commas, such as userId,passport.user; got ${JSON.stringify(paths)}`,
    )
  }
  return (session) => {
    for (const path of list) {
      let value: unknown = session
      for (const key of path) {
        value =
          typeof value === 'object' && value !== null && Object.hasOwn(value, key)
            ? (value as Record<string, unknown>)[key]
            : undefined
      }
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
