#!/usr/bin/env node
// Installs the test legs' own packages: each folder legs/<name>/ with a package-lock.json
// gets `npm ci` there, apart from the root install (runtimes, browsers, other drivers, the
// benchmark peers, Postgres servers: hundreds of MB that the demo and the core tests do not
// need). A leg whose node_modules already matches its lockfile is left as it is.
//
//   npm run legs:install                  every leg
//   npm run legs:install -- drivers peers  the named legs
//   npm run legs:install -- --force       reinstall even when up to date
import { spawn } from 'node:child_process'
import { existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, rmSync, symlinkSync } from 'node:fs'
import { join, relative, resolve } from 'node:path'

const root = resolve(import.meta.dirname, '..')
const legsRoot = join(root, 'legs')
const args = process.argv.slice(2)
const force = args.includes('--force')
const named = args.filter((arg) => !arg.startsWith('--'))

const all = readdirSync(legsRoot, { withFileTypes: true })
  .filter((entry) => entry.isDirectory() && existsSync(join(legsRoot, entry.name, 'package-lock.json')))
  .map((entry) => entry.name)
  .sort()
const unknown = named.filter((name) => !all.includes(name))
if (unknown.length > 0) {
  console.error(
    `no leg ${unknown.join(', ')} (a folder of legs/ with a package-lock.json): the legs are ${all.join(', ')}`,
  )
  process.exit(2)
}
const chosen = named.length > 0 ? named : all

/**
 * Whether legs/<name>/node_modules holds what its lockfile says: npm writes the tree it
 * installed to node_modules/.package-lock.json, so the two name the same packages at the
 * same versions.
 */
function upToDate(name) {
  const read = (file) => JSON.parse(readFileSync(join(legsRoot, name, file), 'utf8')).packages ?? {}
  let installed
  try {
    installed = read(join('node_modules', '.package-lock.json'))
  } catch {
    return false
  }
  const wanted = Object.entries(read('package-lock.json')).filter(
    ([path, entry]) => path !== '' && !entry.optional,
  )
  return wanted.every(([path, entry]) => installed[path]?.version === entry.version)
}

function npmCi(name) {
  return new Promise((done) => {
    const started = Date.now()
    const child = spawn('npm', ['ci', '--no-audit', '--no-fund', '--loglevel=error'], {
      cwd: join(legsRoot, name),
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let output = ''
    child.stdout.on('data', (chunk) => (output += chunk))
    child.stderr.on('data', (chunk) => (output += chunk))
    child.on('error', (error) => done({ name, ok: false, output: String(error) }))
    child.on('close', (code) =>
      done({ name, ok: code === 0, seconds: (Date.now() - started) / 1000, output }),
    )
  })
}

const pending = chosen.filter((name) => force || !upToDate(name))
for (const name of chosen.filter((leg) => !pending.includes(leg))) console.log(`legs/${name}: up to date`)

// Two at a time: most of an install is waiting on the registry or on the disk.
let failed = 0
const queue = [...pending]
async function worker() {
  for (let name = queue.shift(); name !== undefined; name = queue.shift()) {
    const result = await npmCi(name)
    if (result.ok) console.log(`legs/${name}: installed in ${result.seconds.toFixed(1)} s`)
    else {
      failed++
      console.error(`legs/${name}: npm ci failed\n${result.output.trim()}`)
    }
  }
}
await Promise.all([worker(), worker()])

/**
 * Links the packages a leg lists in its package.json's `linkIntoRoot` into the root
 * node_modules (a relative symlink), so that they resolve from the package's own files as
 * they do in a user's app where they are installed: better-sqlite3, which `sqlite(path)`
 * prefers. A package the root install holds itself is left alone; the root `npm ci` removes
 * the links, and this puts them back.
 */
function linkIntoRoot(name) {
  const manifest = JSON.parse(readFileSync(join(legsRoot, name, 'package.json'), 'utf8'))
  for (const pkg of manifest.linkIntoRoot ?? []) {
    const link = join(root, 'node_modules', pkg)
    const target = join(legsRoot, name, 'node_modules', pkg)
    let existing
    try {
      existing = lstatSync(link)
    } catch {}
    if (existing !== undefined && !existing.isSymbolicLink()) {
      console.log(`legs/${name}: node_modules/${pkg} is the root install's own: left as it is`)
      continue
    }
    if (existing !== undefined) rmSync(link)
    mkdirSync(join(link, '..'), { recursive: true })
    symlinkSync(relative(join(link, '..'), target), link, 'dir')
    console.log(`legs/${name}: linked node_modules/${pkg} to legs/${name}/node_modules/${pkg}`)
  }
}
for (const name of chosen) if (existsSync(join(legsRoot, name, 'node_modules'))) linkIntoRoot(name)
process.exit(failed > 0 ? 1 : 0)
