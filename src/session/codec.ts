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
  /**
   * Throws, naming `path`, when `value` could not be encoded, or could be encoded but not
   * decoded again (optional): a TypeError for a kind of value it cannot hold, a RangeError
   * for one it cannot hold at that size or depth.
   */
  check?(value: unknown, path: string): void
}

/**
 * How deeply {@link jsonCodec} lets values nest: 32 arrays or objects inside one another.
 * Session values are shallow (an id, a cart, a flash message); the limit makes sure that
 * whatever `set` accepts, any process can decode again (a value nested thousands deep can
 * be encoded by a warm process and overflow the stack of a cold one), and that a cyclic
 * value is refused instead of overflowing the stack.
 *
 * @example
 * ```ts
 * let value: unknown = 'leaf'
 * for (let i = 0; i < JSON_CODEC_MAX_DEPTH; i++) value = [value]
 * session.set('deepest', value) // one more level would throw a RangeError
 * ```
 */
export const JSON_CODEC_MAX_DEPTH = 32

const TAG = '$kss'
/** One encoder for every encode: it keeps no state between calls. */
const ENCODER = new TextEncoder()

/**
 * The default codec: JSON values (strings, finite numbers, booleans, null, arrays, plain
 * objects) plus `Date` and `Uint8Array` (a Buffer comes back as a Uint8Array), round-tripped
 * exactly. Anything else (functions, symbols, bigints, Maps, class instances, NaN) is
 * refused with a TypeError when it is put into the session, and so is an object key
 * `__proto__` at any depth; values nested deeper than {@link JSON_CODEC_MAX_DEPTH} are
 * refused with a RangeError. Decoding never assigns through a prototype: the values come
 * back in a null-prototype object, and a `__proto__` key in tampered data is dropped.
 *
 * @example
 * ```ts
 * const data = jsonCodec.encode(new Date(), { user: 42, seen: new Date() })
 * const { values } = jsonCodec.decode(data) // values.seen is a Date again
 * ```
 */
export const jsonCodec: Required<Codec> = {
  encode(deadline, values) {
    return ENCODER.encode(JSON.stringify({ d: deadline.getTime(), v: tag(values, 'values', -1) }))
  },
  decode(data) {
    const parsed = parseJson(data) as { d?: unknown; v?: unknown } | null
    if (typeof parsed?.d !== 'number' || typeof parsed.v !== 'object' || parsed.v === null) {
      throw new TypeError('session data is not in the format of jsonCodec')
    }
    // The values object, unwrapped when it had a key named like our tag (see tag()).
    const record = parsed.v as Record<string, unknown>
    const values = TAG in record ? (record[TAG] === 'object' ? record.v : undefined) : record
    if (typeof values !== 'object' || values === null || Array.isArray(values)) {
      throw new TypeError('session data is not in the format of jsonCodec')
    }
    return { deadline: new Date(parsed.d), values: untagEntries(values as Record<string, unknown>, -1) }
  },
  check(value, path) {
    tag(value, path, 0)
  },
}

/**
 * At most how many bytes setting `value` under `key` adds to `codec`'s output, when the codec
 * is {@link jsonCodec} and the value a primitive (a string up to 1,024 characters); undefined
 * for anything else (the session must then be encoded to know). `"key":value,`: every
 * character may be escaped as \uXXXX (6 bytes); 64 bytes cover the punctuation, the longest
 * number, and the wrapper a key named like the codec's tag adds.
 */
export function sizeBound(codec: Codec, key: string, value: unknown): number | undefined {
  if (codec !== jsonCodec || key.length > 1024) return undefined
  switch (typeof value) {
    case 'number':
    case 'boolean':
      return 6 * key.length + 64
    case 'string':
      return value.length > 1024 ? undefined : 6 * (key.length + value.length) + 64
    default:
      return value === null ? 6 * key.length + 64 : undefined
  }
}

/**
 * JSON.parse of session data, whose SyntaxError would quote a piece of the data in its
 * message: replaced by one that says only what went wrong.
 */
export function parseJson(data: Uint8Array): unknown {
  try {
    // Read in place: Buffer.from(data) would copy it first.
    const text = Buffer.isBuffer(data)
      ? data.toString('utf8')
      : Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString('utf8')
    return JSON.parse(text)
  } catch {
    throw new TypeError(`session data is not valid JSON (${data.byteLength} bytes)`)
  }
}

/**
 * The JSON form of `value` at `path`, which is nested `depth` arrays or objects deep (the
 * session's own values object is at depth -1, so that a value put into it starts at 0).
 * Objects are built without a prototype, so that no key assigns through one.
 */
function tag(value: unknown, path: string, depth: number): unknown {
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
  const isArray = Array.isArray(value)
  if (isArray || (typeof value === 'object' && isPlain(value))) {
    if (depth >= JSON_CODEC_MAX_DEPTH) {
      throw new RangeError(
        `${path} is nested more than ${JSON_CODEC_MAX_DEPTH} arrays or objects deep (or is cyclic), more than a session value may be`,
      )
    }
    if (isArray) return value.map((item, i) => tag(item, `${path}[${i}]`, depth + 1))
    const out: Record<string, unknown> = Object.create(null)
    for (const key of Object.keys(value)) {
      if (key === '__proto__')
        throw new TypeError(`${path} has the key __proto__, which a session value may not have`)
      const item = (value as Record<string, unknown>)[key]
      if (item !== undefined) out[key] = tag(item, `${path}.${key}`, depth + 1)
    }
    // An object that happens to have our tag key is wrapped, so it cannot be mistaken for one.
    return TAG in out ? { [TAG]: 'object', v: out } : out
  }
  const kind = typeof value === 'object' ? (value.constructor?.name ?? 'object') : typeof value
  throw new TypeError(`${path} is a ${kind}; session values must be JSON values, Dates or Uint8Arrays`)
}

/** The value back from its JSON form; refuses data nested deeper than `tag` lets values be. */
function untag(value: unknown, depth: number): unknown {
  if (typeof value !== 'object' || value === null) return value
  if (Array.isArray(value)) {
    checkDepth(depth)
    // JSON.parse made this array for us alone: its items are replaced in place.
    for (let i = 0; i < value.length; i++) value[i] = untag(value[i], depth + 1)
    return value
  }
  const record = value as Record<string, unknown>
  switch (record[TAG]) {
    case 'date':
      return new Date(record.v as number)
    case 'bytes':
      return new Uint8Array(Buffer.from(record.v as string, 'base64'))
    case 'object':
      if (typeof record.v !== 'object' || record.v === null) {
        throw new TypeError('session data is not in the format of jsonCodec')
      }
      return untagEntries(record.v as Record<string, unknown>, depth)
    default:
      return untagEntries(record, depth)
  }
}

/**
 * The entries back from their JSON form. The session's own values (depth -1) go into a new
 * object without a prototype; a nested object, which JSON.parse made for us alone, is
 * revived in place. JSON.parse made a `__proto__` key an own property; it is dropped, so
 * that code copying the object (Object.assign, a spread) cannot assign through it.
 */
function untagEntries(record: Record<string, unknown>, depth: number): Record<string, unknown> {
  checkDepth(depth)
  if (depth < 0) {
    const out: Record<string, unknown> = Object.create(null)
    for (const key of Object.keys(record)) {
      if (key !== '__proto__') out[key] = untag(record[key], depth + 1)
    }
    return out
  }
  if (Object.hasOwn(record, '__proto__')) delete record['__proto__']
  for (const key of Object.keys(record)) {
    const item = record[key]
    if (typeof item === 'object' && item !== null) record[key] = untag(item, depth + 1)
  }
  return record
}

function checkDepth(depth: number): void {
  if (depth >= JSON_CODEC_MAX_DEPTH) {
    throw new TypeError(`session data is nested more than ${JSON_CODEC_MAX_DEPTH} levels deep`)
  }
}

function isPlain(value: object): boolean {
  const prototype = Object.getPrototypeOf(value)
  return prototype === Object.prototype || prototype === null
}
