// The DDL lives in code (src/families/), so migrate() reads no file; schema/*.sql stay for
// people who apply it by hand and for the README. Each file must say exactly what the code does.
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { expect, test } from 'vitest'
import { families } from '../src/families/index.js'

/** Statements without comments, quotes around identifiers or layout. */
function normalise(statements: string[]): string[] {
  return statements
    .map((statement) =>
      statement.replace(/["`]/g, '').replace(/\s+/g, ' ').replace(/\( /g, '(').replace(/ \)/g, ')').trim(),
    )
    .filter((statement) => statement.length > 0)
}

test.each(families.map((family) => [family.name, family] as const))(
  'schema/%s.sql is the DDL migrate() runs for "sessions"',
  (name, family) => {
    const file = readFileSync(join(import.meta.dirname, '..', 'schema', `${name}.sql`), 'utf8')
    const fromFile = normalise(file.replace(/--[^\n]*/g, '').split(';'))
    expect(fromFile).toEqual(normalise(family.ddl({ schema: undefined, name: 'sessions' })))
  },
)
