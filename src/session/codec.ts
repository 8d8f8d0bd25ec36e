/**
 * How session values become the bytes a store keeps, and back.
 *
 * @example
 * ```ts
 * const codec: Codec = {
 *   encode: (deadline, values) => new TextEncoder().encode(JSON.stringify({ deadline, values })),
 *   decode: (data) => {
 *     const { deadline, values } = JSON.parse(new TextDecoder().decode(data))
 *     return { deadline: new Date(deadline), values }
 *   },
 * }
 * ```
 */
export interface Codec {
  /** The bytes for a session's absolute deadline and values. */
  encode(deadline: Date, values: Readonly<Record<string, unknown>>): Uint8Array
  /** The deadline and values back from `encode`'s bytes; throws when they are not its output. */
  decode(data: Uint8Array): { deadline: Date; values: Record<string, unknown> }
  /** Throws a TypeError, naming `path`, when `value` could not be encoded (optional). */
  check?(value: unknown, path: string): void
}

const TAG = '$kss'

/**
 * The default codec: JSON values (strings, finite numbers, booleans, null, arrays, plain
 * objects) plus `Date` and `Uint8Array` (a Buffer comes back as a Uint8Array), round-tripped
 * exactly. Anything else (functions, symbols, bigints, Maps, class instances, NaN) is
 * refused with a TypeError when it is put into the session.
 *
 * @example
 * ```ts
 * const data = jsonCodec.encode(new Date(), { user: 42, seen: new Date() })
 * const { values } = jsonCodec.decode(data) // values.seen is a Date again
 * ```
 */
export const jsonCodec: Required<Codec> = {
  encode(deadline, values) {
    return new TextEncoder().encode(JSON.stringify({ d: deadline.getTime(), v: tag(values, 'values') }))
  },
  decode(data) {
    const parsed = parseJson(data) as { d?: unknown; v?: unknown } | null
    if (typeof parsed?.d !== 'number' || typeof parsed.v !== 'object' || parsed.v === null) {
      throw new TypeError('session data is not in the format of jsonCodec')
    }
    return { deadline: new Date(parsed.d), values: untag(parsed.v) as Record<string, unknown> }
  },
  check(value, path) {
    tag(value, path)
  },
}

/**
 * JSON.parse of session data, whose SyntaxError would quote a piece of the data in its
 * message: replaced by one that says only what went wrong.
 */
export function parseJson(data: Uint8Array): unknown {
  try {
    return JSON.parse(Buffer.from(data).toString('utf8'))
  } catch {
    throw new TypeError(`session data is not valid JSON (${data.byteLength} bytes)`)
  }
}

function tag(value: unknown, path: string): unknown {
  if (value === null || typeof value === 'string' || typeof value === 'boolean') return value
  if (typeof value === 'number') {
    if (Number.isFinite(value)) return value
    throw new TypeError(`${path} is ${value}, which JSON cannot hold`)
  }
  if (value instanceof Date) {
    if (Number.isNaN(value.getTime())) throw new TypeError(`${path} is an Invalid Date`)
    return { [TAG]: 'date', v: value.getTime() }
  }
  if (value instanceof Uint8Array) return { [TAG]: 'bytes', v: Buffer.from(value).toString('base64') }
  if (Array.isArray(value)) return value.map((item, i) => tag(item, `${path}[${i}]`))
  if (typeof value === 'object' && isPlain(value)) {
    const out: Record<string, unknown> = {}
    for (const [key, item] of Object.entries(value)) {
      if (item !== undefined) out[key] = tag(item, `${path}.${key}`)
    }
    // An object that happens to have our tag key is wrapped, so it cannot be mistaken for one.
    return TAG in out ? { [TAG]: 'object', v: out } : out
  }
  const kind = typeof value === 'object' ? (value.constructor?.name ?? 'object') : typeof value
  throw new TypeError(`${path} is a ${kind}; session values must be JSON values, Dates or Uint8Arrays`)
}

function untag(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(untag)
  if (typeof value !== 'object' || value === null) return value
  const record = value as Record<string, unknown>
  switch (record[TAG]) {
    case 'date':
      return new Date(record.v as number)
    case 'bytes':
      return new Uint8Array(Buffer.from(record.v as string, 'base64'))
    case 'object':
      return untagEntries(record.v as Record<string, unknown>)
    default:
      return untagEntries(record)
  }
}

function untagEntries(record: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {}
  for (const [key, item] of Object.entries(record)) out[key] = untag(item)
  return out
}

function isPlain(value: object): boolean {
  const prototype = Object.getPrototypeOf(value)
  return prototype === Object.prototype || prototype === null
}
