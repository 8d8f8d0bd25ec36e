// What a devices page shows of each device, and the options that turn it on: no engine needed.
import { describe, expect, test } from 'vitest'
import { parseUserAgent, SessionManager, type SessionStore } from '../src/index.js'

const store: SessionStore = {
  find: async () => undefined,
  commit: async () => undefined,
  delete: async () => undefined,
  all: async () => new Map(),
}

describe('parseUserAgent', () => {
  test.each(
    [
      ['Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0', 'Firefox 128', 'Linux'],
      [
        'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36',
        'Chrome 126',
        'Windows',
      ],
      [
        'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36 Edg/126.0.2592.68',
        'Edge 126',
        'Windows',
      ],
      [
        'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15',
        'Safari 17',
        'macOS',
      ],
      [
        'Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1',
        'Safari 17',
        'iOS',
      ],
      [
        'Mozilla/5.0 (iPad; CPU OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) CriOS/126.0.6478.54 Mobile/15E148 Safari/604.1',
        'Chrome 126',
        'iPadOS',
      ],
      [
        'Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.6478.71 Mobile Safari/537.36',
        'Chrome 126',
        'Android',
      ],
      [
        'Mozilla/5.0 (Linux; Android 14; SM-S921B) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/25.0 Chrome/121.0.0.0 Mobile Safari/537.36',
        'Samsung Internet 25',
        'Android',
      ],
      [
        'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36 OPR/111.0.0.0',
        'Opera 111',
        'Windows',
      ],
      [
        'Mozilla/5.0 (X11; CrOS x86_64 14541.0.0) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36',
        'Chrome 126',
        'ChromeOS',
      ],
      ['curl/8.5.0', 'curl 8', null],
      ['', null, null],
      ['x'.repeat(10_000), null, null],
    ].map(([userAgent, browser, os]) => [
      userAgent!.length > 120
        ? `${userAgent!.slice(0, 20)}... (${userAgent!.length} characters)`
        : userAgent || '(empty)',
      userAgent!,
      browser ?? null,
      os ?? null,
    ]),
  )('%s', (_, userAgent, browser, os) => {
    expect(parseUserAgent(userAgent)).toEqual({ browser, os })
  })

  test('what it returns is short, whatever it is given', () => {
    const long = `Mozilla/5.0 (Windows NT 10.0) Firefox/${'9'.repeat(5000)}`
    expect(parseUserAgent(long)).toEqual({ browser: null, os: 'Windows' }) // not a version
    const { browser } = parseUserAgent(`Mozilla/5.0 (Windows NT 10.0) Firefox/${'9'.repeat(6)}`)
    expect(browser!.length).toBeLessThanOrEqual(32)
  })

  test('refuses a non-string with a TypeError naming the argument', () => {
    expect(() => parseUserAgent(42 as never)).toThrow(/^userAgent must be a string/)
  })
})

describe('the options of a devices page', () => {
  test('deviceInfo must be a boolean or { address: boolean }', () => {
    expect(() => new SessionManager({ store, deviceInfo: 'yes' as never })).toThrow(
      /^deviceInfo must be true, false or \{ address: boolean \}/,
    )
    expect(() => new SessionManager({ store, deviceInfo: { adress: true } as never })).toThrow(
      /^deviceInfo\.adress is not an option here/,
    )
    expect(() => new SessionManager({ store, deviceInfo: { address: false } })).not.toThrow()
  })

  test('maxSessionsPerSubject needs an integer from 1 to 1000 and a store that can trim', () => {
    expect(() => new SessionManager({ store, maxSessionsPerSubject: 1.5 })).toThrow(
      /^maxSessionsPerSubject must be an integer from 1 to 1000/,
    )
    expect(() => new SessionManager({ store, maxSessionsPerSubject: 5 })).toThrow(
      /^maxSessionsPerSubject needs a store with trimBySubject\(\) \(a KyselyStore\)/,
    )
  })

  test('load() refuses device options that are not strings', async () => {
    const sessions = new SessionManager({ store, deviceInfo: true })
    await expect(sessions.load(undefined, { userAgent: 42 as never })).rejects.toThrow(
      /^device\.userAgent must be a string/,
    )
    await expect(sessions.load(undefined, { adress: 'x' } as never)).rejects.toThrow(
      /^device\.adress is not an option here/,
    )
  })
})
