// The documentation site (docs/), as a reader meets it: built with `npm run docs:build`'s own
// script into a directory of this test, served on 127.0.0.1, and every page opened in a real
// headless Chromium (Debian's, driven by playwright-core from legs/browser). A page fails on a
// console error, a request that fails, an empty body, or a link to a page or heading of the
// site that does not exist; the site's search must find the pages on PgBouncer and on vitest.
// Needs legs/docs and legs/browser (npm run legs:install -- docs browser) and a browser at
// /usr/bin/chromium (or CHROMIUM_PATH); without them it is skipped with the reason printed,
// and under CI=true it fails.
import { spawn } from 'node:child_process'
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { extname, join, relative, sep } from 'node:path'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import type { Browser } from '../legs/browser/index.js'
import { legMissing, missingLeg } from './leg-packages.js'

const root = join(import.meta.dirname, '..')
const chromiumPath = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium'
const BUILD_TIMEOUT = 600_000

// The site's toolchain is legs/docs'; playwright-core is legs/browser's; the browser Debian's.
const missing =
  legMissing('docs') ??
  legMissing('browser') ??
  (existsSync(chromiumPath)
    ? undefined
    : `no browser at ${chromiumPath} (apt-get install chromium, or set CHROMIUM_PATH)`)

/** Runs a command of the repository; rejects with its output when it fails. */
function run(command: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] })
    let output = ''
    child.stdout.on('data', (chunk: Buffer) => (output += chunk))
    child.stderr.on('data', (chunk: Buffer) => (output += chunk))
    child.once('error', reject)
    child.once('exit', (code) =>
      code === 0
        ? resolve(output)
        : reject(new Error(`${command} ${args.join(' ')} exited ${code}:\n${output}`)),
    )
  })
}

function htmlFiles(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .filter((file) => file.endsWith('.html'))
    .map((file) => file.split(sep).join('/'))
    .sort()
}

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript',
  '.css': 'text/css',
  '.svg': 'image/svg+xml',
  '.json': 'application/json',
  '.woff2': 'font/woff2',
}

/** The file a URL path names on the built site, as a static host serves VitePress's clean URLs. */
function fileFor(dir: string, path: string): string | undefined {
  const clean = decodeURIComponent(path).replace(/^\/+/, '')
  const candidates =
    clean === '' || clean.endsWith('/')
      ? [`${clean}index.html`]
      : [clean, `${clean}.html`, `${clean}/index.html`]
  for (const candidate of candidates) {
    const file = join(dir, candidate)
    if (!relative(dir, file).startsWith('..') && existsSync(file) && statSync(file).isFile()) return file
  }
  return undefined
}

/** Serves `dir` on 127.0.0.1 at a free port. */
async function serve(dir: string): Promise<{ server: Server; url: string }> {
  const server = createServer((request, response) => {
    const file = fileFor(dir, new URL(request.url ?? '/', 'http://127.0.0.1').pathname)
    if (file === undefined) {
      response.writeHead(404, { 'content-type': TYPES['.html']! })
      response.end(readFileSync(join(dir, '404.html')))
      return
    }
    response.writeHead(200, { 'content-type': TYPES[extname(file)] ?? 'application/octet-stream' })
    response.end(readFileSync(file))
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` }
}

if (missing !== undefined) {
  missingLeg('the documentation site in Chromium', missing)
} else {
  describe('the documentation site in Chromium', () => {
    let out = ''
    let site: { server: Server; url: string } | undefined
    let browser: Browser | undefined

    beforeAll(async () => {
      out = mkdtempSync(join(tmpdir(), 'kss-docs-'))
      // The build's own script (TypeDoc, then VitePress), into this test's directory, so that a
      // build of the reader's docs/.vitepress/dist is left alone.
      await run(process.execPath, ['scripts/docs.mjs', 'build', '--outDir', out])
      site = await serve(out)
      const { chromium } = await import('../legs/browser/index.js')
      browser = await chromium.launch({ executablePath: chromiumPath, headless: true })
    }, BUILD_TIMEOUT)

    afterAll(async () => {
      await browser?.close()
      await new Promise((resolve) => site?.server.close(resolve))
      if (out !== '') rmSync(out, { recursive: true, force: true })
    })

    test(
      'every page renders with content, without a console error or a failed request, and every link of the site resolves',
      async () => {
        const pages = htmlFiles(out).filter((file) => file !== '404.html')
        expect(pages.length).toBeGreaterThan(20)
        const problems: string[] = []
        /** Element ids of each page, by its path on the site. */
        const ids = new Map<string, Set<string>>()
        const links: { from: string; href: string }[] = []
        const page = await browser!.newPage()
        let current = ''
        page.on('console', (message) => {
          if (message.type() === 'error') problems.push(`${current}: console error: ${message.text()}`)
        })
        page.on('pageerror', (error) => problems.push(`${current}: uncaught: ${error.message}`))
        page.on('requestfailed', (request) => {
          // Leaving a page aborts the prefetches of the pages it links to: not a failure.
          const reason = request.failure()?.errorText ?? ''
          if (reason !== 'net::ERR_ABORTED')
            problems.push(`${current}: request failed (${reason}): ${request.url()}`)
        })
        page.on('response', (response) => {
          if (response.status() >= 400)
            problems.push(`${current}: ${response.status()} for ${response.url()}`)
        })
        for (const file of pages) {
          current = `/${file.replace(/(^|\/)index\.html$/, '$1').replace(/\.html$/, '')}`
          await page.goto(`${site!.url}${current}`, { waitUntil: 'load' })
          // A string, run in the page: the suite is type-checked without the DOM's types.
          const seen = await page.evaluate<{ text: string; ids: string[]; hrefs: string[] }>(`({
            text: document.querySelector('.vp-doc, .VPHome')?.innerText ?? '',
            ids: [...document.querySelectorAll('[id]')].map((element) => element.id),
            hrefs: [...document.querySelectorAll('a[href]')].map((a) => a.href),
          })`)
          if (seen.text.trim().length < 40) problems.push(`${current}: the page is empty`)
          ids.set(current, new Set(seen.ids))
          for (const href of seen.hrefs) links.push({ from: current, href })
        }
        await page.close()
        for (const { from, href } of links) {
          const url = new URL(href)
          if (url.origin !== site!.url) continue
          const path = url.pathname.replace(/\.html$/, '').replace(/\/index$/, '/')
          const target = ids.get(path) ?? ids.get(path.replace(/\/$/, '')) ?? ids.get(`${path}/`)
          if (target === undefined) {
            if (fileFor(out, url.pathname) === undefined)
              problems.push(`${from}: a link to a missing page: ${href}`)
          } else if (url.hash !== '' && !target.has(decodeURIComponent(url.hash.slice(1)))) {
            problems.push(`${from}: a link to a missing heading: ${href}`)
          }
        }
        expect(problems).toEqual([])
      },
      BUILD_TIMEOUT,
    )

    test.each([
      ['PgBouncer', '/engines/postgres'],
      ['vitest', '/testing'],
    ])(
      'the site search finds a page for "%s" (%s)',
      async (query, expected) => {
        const page = await browser!.newPage()
        const errors: string[] = []
        page.on('pageerror', (error) => errors.push(error.message))
        await page.goto(`${site!.url}/`, { waitUntil: 'load' })
        await page.click('.VPNavBarSearch button')
        await page.fill('#localsearch-input', query)
        await page.waitForSelector(`.VPLocalSearchBox a.result[href*="${expected}"]`, { timeout: 15_000 })
        const results = await page.evaluate<string[]>(
          `[...document.querySelectorAll('.VPLocalSearchBox a.result')].map((a) => a.pathname)`,
        )
        expect(results.some((path) => path.startsWith(expected))).toBe(true)
        expect(errors).toEqual([])
        await page.close()
      },
      60_000,
    )
  })
}
