// The README's main command, the demo, driven as a user drives it: over HTTP, and in a real
// headless Chromium. `npm test` builds dist/ first, so the demo runs as the README runs it.
import { spawn, type ChildProcess } from 'node:child_process'
import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, test } from 'vitest'
import type { Page } from '../legs/browser/index.js'
import { legMissing } from './leg-packages.js'
import { preparePGliteDirectory } from './legs.js'

const root = join(import.meta.dirname, '..')
const chromiumPath = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium'
const dirs: string[] = []
const running = new Set<ChildProcess>()

afterAll(() => {
  for (const child of running) child.kill('SIGKILL')
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true })
})

function tempDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix))
  dirs.push(dir)
  return dir
}

/** A data directory for the demo, cloned from a ready PGlite (the demo's first start would run initdb). */
async function dataDirectory(prefix: string): Promise<string> {
  const dir = join(tempDir(prefix), 'data')
  await preparePGliteDirectory(dir)
  return dir
}

/** Starts the demo on a free port and resolves to its URL once it says where to open it. */
async function startDemo(dataDir: string): Promise<{ url: string; stop: () => Promise<void> }> {
  const child = spawn(process.execPath, ['examples/demo.js'], {
    cwd: root,
    env: { ...process.env, PORT: '0', DATA_DIR: dataDir },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  running.add(child)
  let output = ''
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`demo did not start: ${output}`)), 60_000)
    const read = (chunk: Buffer) => {
      output += chunk
      const match = /open (http:\/\/\S+\/)/.exec(output)
      if (match) {
        clearTimeout(timer)
        resolve(match[1]!)
      }
    }
    child.stdout!.on('data', read)
    child.stderr!.on('data', read)
    child.once('exit', (code) => reject(new Error(`demo exited with ${code}: ${output}`)))
  })
  const stop = async () => {
    const exited = new Promise((resolve) => child.once('exit', resolve))
    child.kill('SIGTERM') // the demo closes its PGlite cleanly on SIGTERM
    await exited
    running.delete(child)
  }
  return { url, stop }
}

describe('the demo over HTTP', () => {
  test('counts visits, logs in with a new token, survives a restart, lists the device, logs out with a redirect home', async () => {
    const dataDir = await dataDirectory('kss-demo-http-')
    let demo = await startDemo(dataDir)
    let cookie = ''
    const request = async (path: string, init: RequestInit = {}) => {
      const response = await fetch(new URL(path, demo.url), {
        ...init,
        redirect: 'manual',
        headers: {
          cookie,
          'user-agent': 'Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0',
        },
      })
      const set = response.headers.getSetCookie()[0]
      if (set) {
        expect(set).toContain('; Secure;') // Secure by default, localhost included
        cookie = set.split(';')[0]!
      }
      return { response, body: await response.text() }
    }
    try {
      expect(new URL(demo.url).hostname).toBe('localhost') // where browsers keep Secure cookies
      expect((await request('/')).body).toMatch(/visited this page <strong id="visits">1</)
      expect((await request('/')).body).toMatch(/<strong id="visits">2</)
      const before = cookie
      const login = await request('/login', { method: 'POST', body: new URLSearchParams({ name: 'Ada' }) })
      expect(login.response.status).toBe(303)
      expect(cookie).not.toBe(before) // renewToken at login
      expect((await request('/')).body).toMatch(/Logged in as <strong id="name">Ada</)
      await demo.stop()
      demo = await startDemo(dataDir)
      const after = await request('/')
      expect(after.body).toMatch(/Logged in as <strong id="name">Ada</)
      expect(after.body).toMatch(/<strong id="visits">4</)
      const devices = await request('/sessions')
      expect(devices.body).toMatch(/<li class="device current">[^]*Firefox 128 on Linux, from 127\.0\.0\.1/)
      const logout = await request('/logout', { method: 'POST' })
      expect([logout.response.status, logout.response.headers.get('location')]).toEqual([303, '/'])
      expect(cookie).toBe('session=')
      const fresh = await request('/')
      expect(fresh.body).toMatch(/id="login-name"/)
      expect(fresh.body).toMatch(/<strong id="visits">1</) // a new, anonymous session
    } finally {
      await demo.stop()
    }
  })
})

// playwright-core is legs/browser's; the browser is Debian's Chromium.
const browserMissing =
  legMissing('browser') ??
  (existsSync(chromiumPath)
    ? undefined
    : `no browser at ${chromiumPath} (apt-get install chromium, or set CHROMIUM_PATH)`)
if (browserMissing && process.env.CI !== 'true')
  console.warn(`skipping the Chromium test of the demo: ${browserMissing}`)

// A browser's start and pages are slow on a loaded 2-core machine: 18-27 s a test was seen.
describe.skipIf(browserMissing !== undefined && process.env.CI !== 'true')(
  'the demo in headless Chromium',
  { timeout: 120_000 },
  () => {
    test('log in (a Secure cookie over http://localhost), reload, restart the server, still logged in; log out (a 303 home) and its cookie is gone', async () => {
      if (browserMissing) throw new Error(`${browserMissing}: required under CI=true`)
      const { chromium } = await import('../legs/browser/index.js')
      const dataDir = await dataDirectory('kss-demo-browser-')
      const context = await chromium.launchPersistentContext(tempDir('kss-chromium-'), {
        executablePath: chromiumPath,
        headless: true,
        args: [
          '--headless',
          '--no-sandbox',
          '--disable-gpu',
          '--disable-background-networking',
          '--no-first-run',
        ],
      })
      let demo = await startDemo(dataDir)
      try {
        const page = await context.newPage()
        await page.goto(demo.url)
        expect(await page.textContent('#visits')).toBe('1')
        await page.fill('#login-name', 'Grace')
        await Promise.all([page.waitForURL(demo.url), page.click('#login')])
        expect(await page.textContent('#name')).toBe('Grace')

        await page.reload()
        expect(await page.textContent('#name')).toBe('Grace')
        // Chromium kept the Secure cookie set over http://localhost: the login above survived.
        expect(new URL(demo.url).protocol).toBe('http:')
        const [cookie] = await context.cookies(demo.url)
        expect(cookie).toMatchObject({
          name: 'session',
          httpOnly: true,
          secure: true,
          sameSite: 'Lax',
          path: '/',
          domain: 'localhost',
        })
        expect(cookie!.value).toMatch(/^[\w-]{43}$/)
        expect(cookie!.expires).toBeGreaterThan(Date.now() / 1000) // a persistent cookie

        await demo.stop()
        demo = await startDemo(dataDir)
        await page.goto(demo.url) // a new port, the same host: the cookie still applies
        expect(await page.textContent('#name')).toBe('Grace')

        const signedIn = (await context.cookies(demo.url))[0]!.value
        await page.click('#logout')
        await page.waitForSelector('#login-name') // the 303 led home, logged out
        // The signed-in cookie is gone; home counted a visit in a new, anonymous session.
        expect((await context.cookies(demo.url)).map((c) => c.value)).not.toContain(signedIn)
        expect(await page.textContent('#visits')).toBe('1') // a new, anonymous session
      } finally {
        await context.close()
        await demo.stop()
      }
    })

    test('"Your sessions": two browsers log in, one lists both and signs the other out, which is logged out on its next request', async () => {
      if (browserMissing) throw new Error(`${browserMissing}: required under CI=true`)
      const { chromium } = await import('../legs/browser/index.js')
      const dataDir = await dataDirectory('kss-demo-devices-')
      const demo = await startDemo(dataDir)
      const browser = await chromium.launch({
        executablePath: chromiumPath,
        headless: true,
        args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
      })
      const devices = (page: Page, n: number) =>
        page.waitForFunction(`document.querySelectorAll('.device').length === ${n}`)
      const logIn = async () => {
        const page = await (await browser.newContext()).newPage()
        await page.goto(demo.url)
        await page.fill('#login-name', 'Ada')
        await Promise.all([page.waitForURL(demo.url), page.click('#login')])
        expect(await page.textContent('#name')).toBe('Ada')
        return page
      }
      try {
        const mine = await logIn()
        const other = await logIn() // another browser (its own cookie jar), the same user
        await Promise.all([mine.waitForURL(`${demo.url}sessions`), mine.click('#devices')])
        await devices(mine, 2)
        expect(await mine.locator('.device.current').count()).toBe(1)
        expect(await mine.locator('.device').first().textContent()).toMatch(
          /signed in \d{4}-\d\d-\d\d [\d:]+ UTC, last seen \d{4}-/,
        )
        expect(await mine.locator('.device.current').textContent()).toMatch(
          /Chrome \d+ on Linux, from 127\.0\.0\.1/,
        )
        await mine.click('.device:not(.current) .revoke') // "Sign out this device"
        await devices(mine, 1)
        await other.reload()
        await other.waitForSelector('#login-name') // logged out on its next request
        expect(await other.locator('#name').count()).toBe(0)

        // Two more sign-ins elsewhere, then "Sign out all other devices".
        const again = [await logIn(), await logIn()]
        await mine.reload()
        await devices(mine, 3)
        await mine.click('#revoke-others')
        await devices(mine, 1)
        for (const page of again) {
          await page.reload()
          await page.waitForSelector('#login-name')
        }
        await mine.goto(demo.url)
        expect(await mine.textContent('#name')).toBe('Ada') // this device stays signed in
      } finally {
        await browser.close()
        await demo.stop()
      }
    })
  },
)
