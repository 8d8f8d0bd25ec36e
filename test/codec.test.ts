import { describe, expect, test } from 'vitest'
import { jsonCodec } from '../src/index.js'

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
    expect(back).toEqual({ deadline, values })
  })

  test("an object with the codec's own tag key round-trips as a plain object", () => {
    const values = { tricky: { $kss: 'date', v: 0 }, list: [{ $kss: 'bytes', v: 'AA==' }] }
    const { values: back } = jsonCodec.decode(jsonCodec.encode(new Date(0), values))
    expect(back).toEqual(values)
  })

  test('data that is not its output is refused, without quoting the data', () => {
    expect(() => jsonCodec.decode(new TextEncoder().encode('{"x":1}'))).toThrow(TypeError)
    const secret = 'secret-session-data-not-json'
    expect(() => jsonCodec.decode(new TextEncoder().encode(secret))).toThrow(
      /^session data is not valid JSON \(28 bytes\)$/,
    )
  })
})
