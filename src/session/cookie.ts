/** The session cookie: reading it from a Cookie header and writing Set-Cookie values. */
import { checkKnownKeys, checkObject } from '../validate.js'

/**
 * The session cookie's attributes. Every field is optional.
 *
 * @example
 * ```ts
 * new SessionManager({ store, cookie: { name: '__Host-session', sameSite: 'strict', persist: false } })
 * ```
 */
export interface CookieOptions {
  /**
   * The cookie's name. A `__Host-` name (the cookie belongs to this exact host and path
   * `/`, the strongest binding browsers offer) needs `secure`, `path: '/'` and no `domain`;
   * a `__Secure-` name needs `secure`. Browsers drop such cookies silently otherwise, so
   * the constructor refuses them.
   * @default 'session'
   */
  readonly name?: string
  /** @default none (the cookie belongs to the exact host) */
  readonly domain?: string
  /** @default '/' */
  readonly path?: string
  /** @default true */
  readonly httpOnly?: boolean
  /**
   * Send the cookie over HTTPS only. Browsers keep Secure cookies on `http://localhost`
   * too (Chromium, as the demo's browser test checks, and Firefox), so local development
   * needs no change; a deployment served over plain HTTP must say `secure: false`, or
   * browsers drop the cookie.
   * @default true
   */
  readonly secure?: boolean
  /**
   * `'none'` needs `secure`: browsers drop a SameSite=None cookie without Secure, so the
   * constructor refuses it.
   * @default 'lax'
   */
  readonly sameSite?: 'lax' | 'strict' | 'none'
  /**
   * CHIPS: the cookie is keyed to the top-level site. Needs `secure`, as `sameSite: 'none'`
   * does: the constructor refuses it without.
   * @default false
   */
  readonly partitioned?: boolean
  /**
   * Whether the cookie outlives the browser session (gets Expires and Max-Age). When false,
   * only sessions with `rememberMe(true)` get them.
   * @default true
   */
  readonly persist?: boolean
}

export type ResolvedCookie = Required<Omit<CookieOptions, 'domain'>> & { readonly domain: string | undefined }

const COOKIE_NAME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/
const ATTRIBUTE_VALUE = /^[\x21-\x3a\x3c-\x7e]+$/ // printable ASCII without ';'

const KNOWN_KEYS = ['name', 'domain', 'path', 'httpOnly', 'secure', 'sameSite', 'partitioned', 'persist']

export function resolveCookie(options: CookieOptions = {}): ResolvedCookie {
  checkObject('cookie', options)
  checkKnownKeys('cookie', options, KNOWN_KEYS)
  const cookie = {
    name: options.name ?? 'session',
    domain: options.domain,
    path: options.path ?? '/',
    httpOnly: options.httpOnly ?? true,
    secure: options.secure ?? true,
    sameSite: options.sameSite ?? 'lax',
    partitioned: options.partitioned ?? false,
    persist: options.persist ?? true,
  }
  if (typeof cookie.name !== 'string' || !COOKIE_NAME.test(cookie.name)) {
    throw new RangeError("cookie.name must be a cookie name (letters, digits and !#$%&'*+-.^_`|~)")
  }
  for (const field of ['domain', 'path'] as const) {
    const value = cookie[field]
    if (value !== undefined && (typeof value !== 'string' || !ATTRIBUTE_VALUE.test(value))) {
      throw new RangeError(`cookie.${field} must be printable ASCII without spaces or ';'`)
    }
  }
  for (const field of ['httpOnly', 'secure', 'partitioned', 'persist'] as const) {
    if (typeof cookie[field] !== 'boolean') throw new TypeError(`cookie.${field} must be a boolean`)
  }
  if (!['lax', 'strict', 'none'].includes(cookie.sameSite)) {
    throw new RangeError("cookie.sameSite must be 'lax', 'strict' or 'none'")
  }
  if (cookie.sameSite === 'none' && !cookie.secure) {
    throw new RangeError(
      "cookie.secure must be true with sameSite 'none' (browsers drop a SameSite=None cookie without Secure): set secure: true and serve over HTTPS, or use sameSite 'lax'",
    )
  }
  if (cookie.partitioned && !cookie.secure) {
    throw new RangeError(
      'cookie.secure must be true with partitioned (browsers drop a Partitioned cookie without Secure): set secure: true and serve over HTTPS, or drop partitioned',
    )
  }
  const prefix = cookie.name.toLowerCase()
  if (
    prefix.startsWith('__host-') &&
    (!cookie.secure || cookie.path !== '/' || cookie.domain !== undefined)
  ) {
    throw new RangeError(
      "cookie.name starts with __Host-, which needs secure: true, path: '/' and no domain: browsers drop such cookies otherwise",
    )
  }
  if (prefix.startsWith('__secure-') && !cookie.secure) {
    throw new RangeError(
      'cookie.name starts with __Secure-, which needs secure: true: browsers drop such cookies otherwise',
    )
  }
  return Object.freeze(cookie)
}

/**
 * The value of cookie `name` in a Cookie header, or undefined. The first one wins. Scans
 * the header once without splitting it (this runs on every request).
 */
export function readCookie(header: string | null | undefined, name: string): string | undefined {
  if (typeof header !== 'string') return undefined
  const length = header.length
  let start = 0
  let eq = -1
  while (start < length) {
    let end = header.indexOf(';', start)
    if (end === -1) end = length
    if (eq < start) {
      eq = header.indexOf('=', start) // found once per '=', so the scan stays linear
      if (eq === -1) return undefined
    }
    if (eq < end && header.slice(start, eq).trim() === name) {
      let value = header.slice(eq + 1, end).trim()
      if (value.length >= 2 && value.startsWith('"') && value.endsWith('"')) value = value.slice(1, -1)
      return value
    }
    start = end + 1
  }
  return undefined
}

/**
 * A Set-Cookie value: `value` until `expiry` (Expires and Max-Age only when `persistent`), or,
 * with `expiry` undefined, a deletion.
 */
export function writeCookie(
  cookie: ResolvedCookie,
  value: string,
  expiry: number | undefined,
  now: number,
  persistent: boolean,
): string {
  // Concatenated rather than joined from an array: this runs on every saved response.
  let text = `${cookie.name}=${value}; Path=${cookie.path}`
  if (cookie.domain) text += `; Domain=${cookie.domain}`
  if (expiry === undefined) {
    text += '; Expires=Thu, 01 Jan 1970 00:00:01 GMT; Max-Age=0'
  } else if (persistent) {
    // Rounded up to the second, as cookie dates have no milliseconds.
    text += `; Expires=${httpDate(Math.ceil(expiry / 1000))}; Max-Age=${Math.max(0, Math.ceil((expiry - now) / 1000))}`
  }
  if (cookie.httpOnly) text += '; HttpOnly'
  if (cookie.secure) text += '; Secure'
  text +=
    cookie.sameSite === 'lax'
      ? '; SameSite=Lax'
      : cookie.sameSite === 'strict'
        ? '; SameSite=Strict'
        : '; SameSite=None'
  if (cookie.partitioned) text += '; Partitioned'
  return text
}

/** The last Expires date written, by its second: responses of one second share it. */
let lastSecond = NaN
let lastDate = ''

/** `seconds` since the epoch as an HTTP date (`Thu, 01 Jan 1970 00:00:01 GMT`). */
function httpDate(seconds: number): string {
  if (seconds !== lastSecond) {
    lastDate = new Date(seconds * 1000).toUTCString()
    lastSecond = seconds
  }
  return lastDate
}
