/**
 * What a devices page shows of a browser: its name with its major version, and its
 * operating system, each `null` when the User-Agent does not say.
 *
 * @example
 * ```ts
 * import type { DeviceName } from 'kysely-session-store'
 *
 * const device: DeviceName = { browser: 'Firefox 128', os: 'Linux' }
 * ```
 */
export interface DeviceName {
  readonly browser: string | null
  readonly os: string | null
}

/** The part of a User-Agent that is read: real ones are a few hundred characters. */
const MAX_READ = 512
/** A major version longer than this is not one. */
const MAX_VERSION_DIGITS = 6

/**
 * Browsers by the token that names them, in the order they are tried: Edge, Opera and
 * Samsung Internet also say Chrome, and Chrome also says Safari.
 */
const BROWSERS: ReadonlyArray<readonly [name: string, pattern: RegExp]> = [
  ['Edge', /\bEdg(?:e|A|iOS)?\/(\d+)/],
  ['Opera', /\b(?:OPR|OPiOS)\/(\d+)/],
  ['Samsung Internet', /\bSamsungBrowser\/(\d+)/],
  ['Firefox', /\b(?:Firefox|FxiOS)\/(\d+)/],
  ['Chrome', /(?:Chrome|CriOS)\/(\d+)/], // HeadlessChrome too
  ['Safari', /\bVersion\/(\d+)[^ ]* (?:Mobile\/\S+ )?Safari\//],
  ['curl', /^curl\/(\d+)/],
]

/** Operating systems, in the order they are tried: Android and ChromeOS also say Linux, iOS says Mac OS X. */
const SYSTEMS: ReadonlyArray<readonly [name: string, pattern: RegExp]> = [
  ['Android', /\bAndroid\b/],
  ['iPadOS', /\biPad\b/],
  ['iOS', /\b(?:iPhone|iPod)\b/],
  ['Windows', /\bWindows\b/],
  ['ChromeOS', /\bCrOS\b/],
  ['macOS', /\bMac OS X\b|\bMacintosh\b/],
  ['Linux', /\bLinux\b|\bX11\b/],
]

/**
 * The browser (with its major version) and the operating system a User-Agent header names,
 * as a devices page shows them ("Firefox 128", "Linux"): a few patterns for the browsers and
 * systems people use, not a full parser; what it does not know is `null`. Reads at most the
 * first 512 characters, so that each field is at most 23 characters, whatever it is given.
 *
 * @param userAgent - the User-Agent request header.
 * @throws TypeError when `userAgent` is not a string.
 *
 * @example
 * ```ts
 * import { parseUserAgent } from 'kysely-session-store'
 *
 * const { browser, os } = parseUserAgent('Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0')
 * console.log(`${browser} on ${os}`) // Firefox 128 on Linux
 * ```
 */
export function parseUserAgent(userAgent: string): DeviceName {
  if (typeof userAgent !== 'string') {
    throw new TypeError(`userAgent must be a string (the User-Agent header), got ${typeof userAgent}`)
  }
  const text = userAgent.slice(0, MAX_READ)
  let browser: string | null = null
  for (const [name, pattern] of BROWSERS) {
    const version = pattern.exec(text)?.[1]
    if (version !== undefined && version.length <= MAX_VERSION_DIGITS) {
      browser = `${name} ${version}`
      break
    }
  }
  const os = SYSTEMS.find(([, pattern]) => pattern.test(text))?.[0] ?? null
  return { browser, os }
}
