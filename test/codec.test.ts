// The session layer's checks that need no engine: the codec, and the manager's and cookie's
// options. (What needs an engine is in test/session-suite.ts, run once per engine.)
import { describe, expect, test } from 'vitest'
import { JSON_CODEC_MAX_DEPTH, jsonCodec, SessionManager, type SessionStore } from '../src/index.js'
import { nested } from './helpers.js'

const encode = (text: string) => new TextEncoder().encode(text)

describe('jsonCodec', () => {
  test('JSON values, Dates and Uint8Arrays round-trip exactly', () => {
    const values = {
      s: 'x',
      n: -1.5,
      b: false,
      z: null,
      d: new Date(1),
      u: new Uint8Array([0, 255]),
      a: [{ d: new Date(2) }],
    }
    const deadline = new Date(Date.UTC(2030, 0, 1))
    const back = jsonCodec.decode(jsonCodec.encode(deadline, values))
    expect(back.deadline).toEqual(deadline)
    expect({ ...back.values }).toEqual(values)
  })

  test("an object with the codec's own tag key round-trips as a plain object, at the top too", () => {
    const values = { tricky: { $kss: 'date', v: 0 }, list: [{ $kss: 'bytes', v: 'AA==' }] }
    const { values: back } = jsonCodec.decode(jsonCodec.encode(new Date(0), values))
    expect({ ...back }).toEqual(values)
    const top = { $kss: 'object', v: 1, other: true }
    expect({ ...jsonCodec.decode(jsonCodec.encode(new Date(0), top)).values }).toEqual(top)
  })

  test('data that is not its output is refused, without quoting the data', () => {
    expect(() => jsonCodec.decode(encode('{"x":1}'))).toThrow(TypeError)
    expect(() => jsonCodec.decode(encode('{"d":1,"v":[1]}'))).toThrow(/not in the format of jsonCodec/)
    expect(() => jsonCodec.decode(encode('{"d":1,"v":{"$kss":"date","v":1}}'))).toThrow(
      /not in the format of jsonCodec/,
    )
    const secret = 'secret-session-data-not-json'
    expect(() => jsonCodec.decode(encode(secret))).toThrow(/^session data is not valid JSON \(28 bytes\)$/)
  })

  test('decoding never assigns through a prototype: values have none, nested __proto__ keys are dropped', () => {
    const { values } = jsonCodec.decode(
      encode(
        '{"d":0,"v":{"__proto__":{"admin":true},"a":{"__proto__":{"admin":true},"b":1},"c":[{"__proto__":1}]}}',
      ),
    )
    expect(Object.getPrototypeOf(values)).toBeNull()
    expect(Object.keys(values)).toEqual(['a', 'c'])
    expect(values.admin).toBeUndefined()
    const a = values.a as Record<string, unknown>
    expect([Object.getPrototypeOf(a) === Object.prototype, a.admin, Object.keys(a)]).toEqual([
      true,
      undefined,
      ['b'],
    ])
    expect(values.c).toEqual([{}])
    expect(({} as Record<string, unknown>).admin).toBeUndefined()
  })

  test(`check refuses a __proto__ key at any depth, and nesting deeper than ${JSON_CODEC_MAX_DEPTH}`, () => {
    expect(() => jsonCodec.check(JSON.parse('{"a":[{"__proto__":1}]}'), 'v')).toThrow(
      /^v\.a\[0\] has the key __proto__/,
    )
    expect(() => jsonCodec.check(nested(JSON_CODEC_MAX_DEPTH), 'v')).not.toThrow()
    expect(() => jsonCodec.check(nested(JSON_CODEC_MAX_DEPTH + 1), 'v')).toThrow(RangeError)
    expect(() => jsonCodec.check(nested(100_000), 'v')).toThrow(/^v[[.].* is nested more than 32/)
  })

  test('data nested deeper than check allows (a tampered row) is refused with a TypeError, not a stack overflow', () => {
    const json = `{"d":0,"v":{"deep":${'['.repeat(100_000)}${']'.repeat(100_000)}}}`
    expect(() => jsonCodec.decode(encode(json))).toThrow(TypeError)
    const accepted = jsonCodec.encode(new Date(0), { deep: nested(JSON_CODEC_MAX_DEPTH) })
    expect(jsonCodec.decode(accepted).values.deep).toEqual(nested(JSON_CODEC_MAX_DEPTH))
  })
})

/** Option checks need a store's shape, not an engine. */
const store: SessionStore = {
  find: async () => undefined,
  commit: async () => undefined,
  delete: async () => undefined,
  all: async () => new Map(),
}

describe('SessionManager and cookie options', () => {
  test('an unknown option is refused, in the options and in cookie', () => {
    expect(() => new SessionManager({ store, lifetme: 1000 } as never)).toThrow(
      /^options\.lifetme is not an option here; the options are: store, lifetime/,
    )
    expect(() => new SessionManager({ store, cookie: { secrue: true } } as never)).toThrow(
      /^cookie\.secrue is not an option here/,
    )
    expect(() => new SessionManager({ store, cookie: 'session' } as never)).toThrow(
      /^cookie must be an object/,
    )
  })

  test.each([
    ['__Host-session', { secure: false }, /__Host-, which needs secure: true, path: '\/' and no domain/],
    ['__Host-session', { path: '/app' }, /__Host-/],
    ['__Host-session', { domain: 'example.com' }, /__Host-/],
    ['__host-session', { secure: false }, /__Host-/],
    ['__Secure-session', { secure: false }, /__Secure-, which needs secure: true/],
  ])('a %s cookie browsers would drop is refused (%o)', (name, cookie, message) => {
    expect(() => new SessionManager({ store, cookie: { name, ...cookie } })).toThrow(RangeError)
    expect(() => new SessionManager({ store, cookie: { name, ...cookie } })).toThrow(message)
  })

  test('__Host- and __Secure- cookies with the attributes browsers need are accepted', () => {
    expect(() => new SessionManager({ store, cookie: { name: '__Host-session' } })).not.toThrow()
    expect(
      () =>
        new SessionManager({
          store,
          cookie: { name: '__Secure-session', domain: 'example.com', path: '/a' },
        }),
    ).not.toThrow()
  })
})
