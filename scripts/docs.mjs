#!/usr/bin/env node
// The documentation site: `npm run docs:build` and `npm run docs:dev`.
//
//   node scripts/docs.mjs build   # docs/api from the TSDoc (TypeDoc), then the site into docs/.vitepress/dist
//   node scripts/docs.mjs dev     # docs/api, then VitePress's dev server with live reload
//   node scripts/docs.mjs api     # docs/api only
//
// The toolchain (VitePress, TypeDoc and its markdown plugins) lives in legs/docs/, apart from the root install: when legs/docs/node_modules is
// missing, this installs it first (scripts/install-legs.mjs docs when that script exists,
// otherwise npm ci in legs/docs). docs/api is generated, not committed.
import { spawnSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..')
const LEG = join(ROOT, 'legs', 'docs')
const BIN = join(LEG, 'node_modules', '.bin')

function run(command, args, options = {}) {
  const result = spawnSync(command, args, { cwd: ROOT, stdio: 'inherit', ...options })
  if (result.error) throw result.error
  if (result.status !== 0) {
    console.error(`docs: ${command} ${args.join(' ')} failed (exit ${result.status ?? result.signal})`)
    process.exit(result.status ?? 1)
  }
}

function install() {
  if (existsSync(join(BIN, 'vitepress')) && existsSync(join(BIN, 'typedoc'))) return
  console.log('docs: legs/docs is not installed; installing it')
  const legs = join(ROOT, 'scripts', 'install-legs.mjs')
  if (existsSync(legs)) run(process.execPath, [legs, 'docs'])
  else run('npm', ['ci', '--no-audit', '--no-fund'], { cwd: LEG })
}

function api() {
  run(join(BIN, 'typedoc'), ['--options', join(LEG, 'typedoc.json')])
}

const command = process.argv[2]
if (!['build', 'dev', 'api'].includes(command)) {
  console.error('usage: node scripts/docs.mjs build|dev|api [vitepress options]')
  process.exit(2)
}
install()
api()
if (command === 'build') run(join(BIN, 'vitepress'), ['build', 'docs', ...process.argv.slice(3)])
if (command === 'dev') run(join(BIN, 'vitepress'), ['dev', 'docs', ...process.argv.slice(3)])
