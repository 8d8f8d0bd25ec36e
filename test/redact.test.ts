// redact(): the cause a SessionStoreError keeps is a scrubbed copy, never the driver's error.
import { inspect, types } from 'node:util'
import { describe, expect, test } from 'vitest'
import { redact } from '../src/errors.js'

const token = 'secret-token-0123456789'
const data = new TextEncoder().encode('{"user":"secret-data"}')
const sql = 'INSERT INTO "sessions" (token, data, expiry) VALUES ($1, $2, $3)'
const parameters = [token, data, '2031-01-01T00:00:00.000Z']

/** What postgres.js throws: its own class, values in read-only, non-configurable fields. */
class PostgresError extends Error {
  code = '23505'
  detail = `Key (token)=(${token}) already exists.`
  constructor(message: string) {
    super(message)
    this.name = 'PostgresError'
    Object.defineProperties(this, {
      stack: { value: `${this.stack}\n    at query ${token}` },
      query: { value: `INSERT ... '${token}'` },
      parameters: { value: [...parameters] },
      args: { value: [...parameters] },
    })
  }
}

function printed(value: unknown): string {
  return inspect(value, { depth: 10, showHidden: true }) + JSON.stringify(value)
}

describe('redact()', () => {
  test("never writes into the driver's error, even where its fields are read-only", () => {
    const original = new PostgresError(`duplicate key value: ${token}`)
    const before = printed(original)
    const copy = redact(original, sql, parameters) as PostgresError & Record<string, unknown>
    expect(copy).not.toBe(original)
    expect(printed(original)).toBe(before) // untouched
    expect(printed(original)).toContain(token)
  })

  test("the copy keeps the driver's class, code and message, without the values", () => {
    const original = new PostgresError(`duplicate key value: ${token}`)
    const copy = redact(original, sql, parameters) as PostgresError & Record<string, unknown>
    expect(copy).toBeInstanceOf(PostgresError)
    expect(copy).toBeInstanceOf(Error)
    expect(types.isNativeError(copy)).toBe(true)
    expect(copy.name).toBe('PostgresError')
    expect(copy.constructor.name).toBe('PostgresError')
    expect(copy.code).toBe('23505')
    expect(copy.message).toBe('duplicate key value: [redacted]')
    expect(copy.detail).toBe('[redacted]')
    expect(copy.query).toBe(sql) // the statement with placeholders, no values
    expect(copy.parameters).toBe('[redacted]')
    expect(copy.args).toBe('[redacted]')
    expect(copy.stack).toContain('duplicate key value: [redacted]')
    // Hidden fields stay hidden, so that logging prints what it printed before.
    expect(Object.getOwnPropertyDescriptor(copy, 'query')?.enumerable).toBe(false)
    for (const secret of [token, 'secret-data', Buffer.from(data).toString('hex')]) {
      expect(printed(copy)).not.toContain(secret)
    }
  })

  test("MySQL's Duplicate entry and mysql2's sql with the values spliced in are scrubbed", () => {
    const original = Object.assign(new Error(`Duplicate entry '${token}' for key 'PRIMARY'`), {
      code: 'ER_DUP_ENTRY',
      errno: 1062,
      sqlMessage: `Duplicate entry '${token}' for key 'PRIMARY'`,
      sql: `INSERT INTO sessions VALUES ('${token}', x'00', 1)`,
      values: [...parameters],
    })
    const copy = redact(original, 'INSERT INTO sessions VALUES (?, ?, ?)', parameters) as typeof original
    expect(copy.code).toBe('ER_DUP_ENTRY')
    expect(copy.errno).toBe(1062)
    expect(copy.message).toBe("Duplicate entry '[redacted]' for key 'PRIMARY'")
    expect(copy.sql).toBe('INSERT INTO sessions VALUES (?, ?, ?)')
    expect(copy.values).toBe('[redacted]')
    expect(printed(copy)).not.toContain(token)
  })

  test('a cause of the cause and the errors of an AggregateError are copied the same way', () => {
    const inner = Object.assign(new Error(`no such row ${token}`), { code: 'SQLITE_ERROR' })
    const outer = Object.assign(new Error('wrapped', { cause: inner }), { code: 'WRAPPED' })
    const aggregate = new AggregateError([outer], `two tries with ${token}`)
    const copy = redact(aggregate, sql, parameters) as AggregateError
    expect(copy).toBeInstanceOf(AggregateError)
    const outerCopy = copy.errors[0] as Error & { code: string }
    expect(outerCopy.code).toBe('WRAPPED')
    expect((outerCopy.cause as { code: string }).code).toBe('SQLITE_ERROR')
    expect(printed(copy)).not.toContain(token)
    expect(printed(aggregate)).toContain(token)
  })

  test('a string is scrubbed; other values that are not objects are returned as they are', () => {
    expect(redact(`failed on ${token}`, sql, parameters)).toBe('failed on [redacted]')
    expect(redact(undefined, sql, parameters)).toBeUndefined()
    expect(redact(42, sql, parameters)).toBe(42)
  })
})
