import type { Kysely } from 'kysely'
import type { FamilyName, SqlFamily } from './family.js'
import { mysqlFamily } from './mysql.js'
import { postgresFamily } from './postgres.js'
import { sqliteFamily } from './sqlite.js'

export type { FamilyName, SqlFamily, Statement, StatementKind, Statements, TableName } from './family.js'
export { TableShapeError, timeMs, TOMBSTONE_MARGIN } from './family.js'

/** Every SQL family the store speaks; detection asks each in turn. */
export const families: readonly SqlFamily[] = [postgresFamily, sqliteFamily, mysqlFamily]

/** The names accepted by the `family` option. */
export const familyNames: readonly FamilyName[] = families.map((family) => family.name)

/**
 * The family of `db`, read from how it compiles a tiny query (its placeholder and quote
 * character), which works whichever copy of Kysely built it; `override` wins. A `schema`
 * is refused (RangeError) on a family that has none.
 */
export function resolveFamily(db: Kysely<any>, override: FamilyName | undefined, schema?: string): SqlFamily {
  const family = override === undefined ? detectFamily(db) : families.find((f) => f.name === override)!
  if (schema !== undefined && !family.schemas) {
    throw new RangeError(`schema must not be set on ${family.name}: it has no schemas (use tableName)`)
  }
  return family
}

function detectFamily(db: Kysely<any>): SqlFamily {
  const { sql } = db.selectFrom('t').select('c').where('c', '=', 0).compile()
  const family = families.find((candidate) => candidate.detect(sql))
  if (family !== undefined) return family
  throw new TypeError(
    `db: cannot tell which SQL family this Kysely instance speaks (it compiles to: ${sql}); ` +
      `pass the family option: ${familyNames.map((n) => `'${n}'`).join(' or ')}`,
  )
}
