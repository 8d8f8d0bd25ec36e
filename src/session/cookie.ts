/** The session cookie: reading it from a Cookie header and writing Set-Cookie values. */

/**
 * The session cookie's attributes. Every field is optional.
 *
 * @example
 * ```ts
 * new SessionManager({ store, cookie: { secure: true, sameSite: 'strict', persist: false } })
 * ```
 */
export interface CookieOptions {
  /** @default 'session' */
  readonly name?: string
  /** @default none (the cookie belongs to the exact host) */
  readonly domain?: string
  /** @default '/' */
  readonly path?: string
  /** @default true */
  readonly httpOnly?: boolean
  /** @default false (set it to true behind HTTPS) */
  readonly secure?: boolean
  /** @default 'lax' */
  readonly sameSite?: 'lax' | 'strict' | 'none'
  /** CHIPS: the cookie is keyed to the top-level site. Needs `secure`. @default false */
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

export function resolveCookie(options: CookieOptions = {}): ResolvedCookie {
  const cookie = {
    name: options.name ?? 'session',
    domain: options.domain,
    path: options.path ?? '/',
    httpOnly: options.httpOnly ?? true,
    secure: options.secure ?? false,
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
  if ((cookie.sameSite === 'none' || cookie.partitioned) && !cookie.secure) {
    throw new RangeError(
      "cookie.secure must be true with sameSite 'none' or partitioned: browsers drop such cookies otherwise",
    )
  }
  return Object.freeze(cookie)
}

/** The value of cookie `name` in a Cookie header, or undefined. The first one wins. */
export function readCookie(header: string | null | undefined, name: string): string | undefined {
  if (typeof header !== 'string') return undefined
  for (const part of header.split(';')) {
    const eq = part.indexOf('=')
    if (eq !== -1 && part.slice(0, eq).trim() === name) {
      let value = part.slice(eq + 1).trim()
      if (value.length >= 2 && value.startsWith('"') && value.endsWith('"')) value = value.slice(1, -1)
      return value
    }
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
  const parts = [`${cookie.name}=${value}`, `Path=${cookie.path}`]
  if (cookie.domain) parts.push(`Domain=${cookie.domain}`)
  if (expiry === undefined) {
    parts.push('Expires=Thu, 01 Jan 1970 00:00:01 GMT', 'Max-Age=0')
  } else if (persistent) {
    // Rounded up to the second, as cookie dates have no milliseconds.
    const seconds = Math.ceil(expiry / 1000)
    parts.push(
      `Expires=${new Date(seconds * 1000).toUTCString()}`,
      `Max-Age=${Math.max(0, Math.ceil((expiry - now) / 1000))}`,
    )
  }
  if (cookie.httpOnly) parts.push('HttpOnly')
  if (cookie.secure) parts.push('Secure')
  parts.push(`SameSite=${cookie.sameSite[0]!.toUpperCase()}${cookie.sameSite.slice(1)}`)
  if (cookie.partitioned) parts.push('Partitioned')
  return parts.join('; ')
}
