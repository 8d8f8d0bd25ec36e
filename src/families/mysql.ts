import { createHash } from 'node:crypto'
import { sql, type Kysely } from 'kysely'
import { SafeError } from '../errors.js'
import {
  codeOf,
  commonStatements,
  isLost,
  isUnreached,
  messageOf,
  missingColumns,
  statement,
  type SqlFamily,
  type TableName,
} from './family.js'

const quote = (identifier: string) => `\`${identifier}\``
const qualified = ({ schema, name }: TableName) => (schema ? `${quote(schema)}.${quote(name)}` : quote(name))

/**
 * Codes after which a statement had no effect: rolled back (InnoDB's deadlock victim, and
 * Galera's certification conflicts; a server shutting down kills it) or never run (too many
 * connections).
 */
const NO_EFFECT = new Set(['ER_LOCK_DEADLOCK', 'ER_SERVER_SHUTDOWN', 'ER_CON_COUNT_ERROR'])

/** The NO PAD binary collation a token and a subject compare by on this server. */
const NOPAD = 'utf8mb4_nopad_bin'

/** The MySQL SQL family, for MySQL and MariaDB: times are BIGINT milliseconds. */
export const mysqlFamily: SqlFamily = {
  name: 'mysql',
  detect: (compiled) => compiled.includes('`c`') && compiled.includes('?'),
  schemas: true,
  quote,
  statements(table) {
    const t = qualified(table)
    // VALUES(): MariaDB 10.11 has no row-alias form of ON DUPLICATE KEY UPDATE. IF() keeps an
    // ended row (a tombstone) as it is.
    const keep = (column: string) => `${column} = IF(ended_at IS NULL, VALUES(${column}), ${column})`
    const upsert = (columns: string, values: string, set: string[]) =>
      `INSERT INTO ${t} (${columns}) VALUES (${values}) ON DUPLICATE KEY UPDATE ${set.map(keep).join(', ')}`
    return {
      ...commonStatements(t),
      commit: statement(
        'write',
        upsert('token, data, expiry, created_at, last_seen_at', ':token, :data, :expiry, :now, :now', [
          'data',
          'expiry',
          'last_seen_at',
        ]),
      ),
      commitSubject: statement(
        'write',
        upsert(
          'token, data, expiry, subject, created_at, last_seen_at',
          ':token, :data, :expiry, :subject, :now, :now',
          ['data', 'expiry', 'subject', 'last_seen_at'],
        ),
      ),
      // MariaDB refuses LIMIT inside IN (...); DELETE ... ORDER BY ... LIMIT walks the index.
      cleanup: statement(
        'write',
        `DELETE FROM ${t} WHERE expiry <= :now AND (ended_at IS NULL OR expiry <= :ended) ORDER BY expiry LIMIT :limit`,
      ),
    }
  },
  // The token and the subject get a binary NO PAD collation, so 'a' and 'a ' are two
  // sessions (the older utf8mb4_bin is PAD SPACE). utf8mb4_nopad_bin is MariaDB's; migrate()
  // writes MySQL 8's utf8mb4_0900_bin there. The indexes sit inside CREATE TABLE: MySQL has
  // no CREATE INDEX IF NOT EXISTS.
  ddl: (table) => [
    `CREATE TABLE IF NOT EXISTS ${qualified(table)} (\n` +
      `  token VARCHAR(255) CHARACTER SET utf8mb4 COLLATE ${NOPAD} NOT NULL PRIMARY KEY,\n` +
      `  data LONGBLOB NOT NULL,\n` +
      `  expiry BIGINT NOT NULL,\n` +
      `  subject VARCHAR(255) CHARACTER SET utf8mb4 COLLATE ${NOPAD} NULL,\n` +
      `  created_at BIGINT NULL,\n` +
      `  last_seen_at BIGINT NULL,\n` +
      `  ended_at BIGINT NULL,\n` +
      `  INDEX ${quote(`${table.name}_expiry_idx`)} (expiry),\n` +
      `  INDEX ${quote(`${table.name}_subject_seen_idx`)} (subject, last_seen_at, token),\n` +
      `  INDEX ${quote(`${table.name}_subject_created_idx`)} (subject, created_at)\n` +
      `) ENGINE = InnoDB`,
  ],
  time: (ms) => ms,
  data: (bytes) =>
    Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength),
  isMissingTable: (error) => codeOf(error) === 'ER_NO_SUCH_TABLE',
  isMissingColumn: (error) => codeOf(error) === 'ER_BAD_FIELD_ERROR',
  hadNoEffect: (error) =>
    NO_EFFECT.has(codeOf(error) ?? '') ||
    isUnreached(error) ||
    /WSREP has not yet prepared node for application use/.test(messageOf(error)),
  lostConnection: (error) => codeOf(error) === 'PROTOCOL_CONNECTION_LOST' || isLost(error),
  async migrate(db, table) {
    const run = async (connection: Kysely<any>) => {
      // DDL commits implicitly in MySQL, so a named lock on one connection serialises
      // migrations. Lock names may be 64 characters: the table's name is hashed into it.
      const id = createHash('sha256')
        .update(`${table.schema ?? ''}.${table.name}`)
        .digest('hex')
        .slice(0, 32)
      const lock = `'kysely-session-store:${id}'` // a literal, as the other families' (checked hex)
      const { rows } = await sql
        .raw<{ locked: number | null }>(`SELECT GET_LOCK(${lock}, 30) AS locked`)
        .execute(connection)
      if (Number(rows[0]?.locked) !== 1) {
        throw new SafeError(
          `could not take the migration lock within 30 s (GET_LOCK returned ${rows[0]?.locked ?? 'NULL'})`,
        )
      }
      try {
        await upgrade(connection, table, this.ddl(table))
      } finally {
        await sql.raw(`SELECT RELEASE_LOCK(${lock})`).execute(connection)
      }
    }
    if (db.isTransaction) await run(db)
    else await db.connection().execute(run)
  },
}

async function upgrade(db: Kysely<any>, table: TableName, ddl: string[]): Promise<void> {
  const { rows: version } = await sql<{ version: string }>`SELECT VERSION() AS version`.execute(db)
  const mariadb = /mariadb/i.test(version[0]?.version ?? '')
  const collation = mariadb ? NOPAD : 'utf8mb4_0900_bin'
  // Literals, not parameters (checked identifiers), as in the other families.
  const where = `table_schema = ${table.schema === undefined ? 'DATABASE()' : `'${table.schema}'`} AND table_name = '${table.name}'`
  const columns = async () =>
    (
      await sql
        .raw<{ name: string }>(`SELECT column_name AS name FROM information_schema.columns WHERE ${where}`)
        .execute(db)
    ).rows.map((row) => row.name)
  const existing = await columns()
  if (existing.length === 0) {
    for (const statement of ddl) await sql.raw(statement.replaceAll(NOPAD, collation)).execute(db)
    return
  }
  const add = missingColumns(existing).map((column) =>
    column === 'subject'
      ? `ADD COLUMN subject VARCHAR(255) CHARACTER SET utf8mb4 COLLATE ${collation} NULL`
      : `ADD COLUMN ${column} BIGINT NULL`,
  )
  const { rows: indexes } = await sql
    .raw<{ name: string }>(
      `SELECT DISTINCT index_name AS name FROM information_schema.statistics WHERE ${where}`,
    )
    .execute(db)
  // A devices page (the most recently seen first: read backwards, NULL is the smallest) and
  // revoke(id) (by subject and creation time); they replace the earlier subject index.
  const has = (name: string) => indexes.some((index) => index.name === `${table.name}_${name}`)
  if (!has('subject_seen_idx'))
    add.push(`ADD INDEX ${quote(`${table.name}_subject_seen_idx`)} (subject, last_seen_at, token)`)
  if (!has('subject_created_idx'))
    add.push(`ADD INDEX ${quote(`${table.name}_subject_created_idx`)} (subject, created_at)`)
  if (has('subject_idx')) add.push(`DROP INDEX ${quote(`${table.name}_subject_idx`)}`)
  if (add.length === 0) return
  try {
    await sql.raw(`ALTER TABLE ${qualified(table)} ${add.join(', ')}`).execute(db)
  } catch (error) {
    // Another node of a cluster (GET_LOCK holds on one node only) added them first.
    const code = codeOf(error)
    if (code !== 'ER_DUP_FIELDNAME' && code !== 'ER_DUP_KEYNAME' && code !== 'ER_CANT_DROP_FIELD_OR_KEY')
      throw error
    missingColumns(await columns())
  }
}
