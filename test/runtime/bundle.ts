// A fresh project in a temporary directory, as a user's would be: the built package copied
// into its node_modules, the Kysely it should see (0.29, or 0.28 through legs/drivers'
// kysely-028 alias), the drivers it needs linked from ours, and test/runtime/entry.ts
// bundled with the real test/conformance.ts, 'vitest' mapped to the shim. Bun, Deno or Node
// run it there.
import { execFile } from 'node:child_process'
import { cpSync, existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, isAbsolute, join, relative, resolve } from 'node:path'
import { promisify } from 'node:util'
import { build, type Plugin } from 'esbuild'

export const root = resolve(import.meta.dirname, '..', '..')

export interface Fixture {
  /** The project directory. */
  readonly dir: string
  /** The bundled entry, in `dir`. */
  readonly entry: string
  remove(): void
}

/**
 * The package's own modules, as the tests import them from source, become imports of the
 * built package, so the bundle tests what users install.
 */
const toPackage: Plugin = {
  name: 'to-package',
  setup(b) {
    b.onResolve({ filter: /(\/src\/index|\/dialects\/[a-z-]+)\.js$/ }, (args) => {
      const file = resolve(args.resolveDir, args.path)
      const local = relative(root, file).replace(/\.js$/, '')
      if (local === join('src', 'index')) return { path: 'kysely-session-store', external: true }
      if (local.startsWith('dialects/')) {
        return { path: `kysely-session-store/${local.slice('dialects/'.length)}`, external: true }
      }
      return undefined
    })
  },
}

/**
 * Makes the project. `kysely` is the package under our node_modules (or the folder of a leg's
 * package) that becomes its `kysely`; `links` are driver packages linked from our
 * node_modules; `entry` the module to bundle (the conformance entry unless told).
 */
export async function fixture(options: {
  kysely?: string
  links: readonly string[]
  /** The module to bundle; test/runtime/entry.ts unless told. */
  entry?: string
}): Promise<Fixture> {
  if (!existsSync(join(root, 'dist', 'src', 'index.js'))) {
    throw new Error('dist/ is missing: run npm run build first (npm test does)')
  }
  const dir = mkdtempSync(join(tmpdir(), 'kss-fixture-'))
  const modules = join(dir, 'node_modules')
  const ours = join(modules, 'kysely-session-store')
  mkdirSync(ours, { recursive: true })
  for (const part of ['package.json', 'dist', 'schema'])
    cpSync(join(root, part), join(ours, part), { recursive: true })
  // A target is a package under our node_modules, or a folder (a leg's package).
  const link = (name: string, target: string) => {
    mkdirSync(dirname(join(modules, name)), { recursive: true })
    symlinkSync(isAbsolute(target) ? target : join(root, 'node_modules', target), join(modules, name), 'dir')
  }
  link('kysely', options.kysely ?? 'kysely')
  for (const name of options.links) link(name, name)
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'fixture', private: true, type: 'module' }))
  const entry = join(dir, 'entry.mjs')
  await build({
    entryPoints: [options.entry ?? join(root, 'test', 'runtime', 'entry.ts')],
    outfile: entry,
    bundle: true,
    format: 'esm',
    platform: 'node',
    target: 'es2022',
    logLevel: 'error',
    alias: { vitest: join(root, 'test', 'runtime', 'vitest-shim.ts') },
    external: [
      'bun:sqlite',
      'kysely',
      'kysely/*',
      'kysely-session-store',
      'kysely-session-store/*',
      ...options.links,
    ],
    plugins: [toPackage],
    banner: {
      js: "import { createRequire } from 'node:module'; const require = createRequire(import.meta.url);",
    },
  })
  return { dir, entry, remove: () => rmSync(dir, { recursive: true, force: true }) }
}

export interface RunResult {
  runtime: string
  passed: number
  failed: number
  skipped: number
  failures: Array<{ name: string; error?: string }>
  skips: string[]
}

/**
 * Runs `command` in the fixture (with a timeout) and reads the entry's RESULT line. Rejects
 * with the output when there is none.
 */
export async function runEntry(
  command: string,
  args: readonly string[],
  options: { cwd: string; env: Record<string, string>; timeout: number },
): Promise<RunResult> {
  const outcome = await promisify(execFile)(command, [...args], {
    cwd: options.cwd,
    env: { ...process.env, ...options.env },
    timeout: options.timeout,
    killSignal: 'SIGKILL',
    maxBuffer: 64 * 1024 * 1024,
  }).catch((error: { stdout?: string; stderr?: string; message: string }) => error)
  const stdout = outcome.stdout ?? ''
  const line = stdout.split('\n').find((l) => l.startsWith('RESULT '))
  if (line === undefined) {
    const detail = 'message' in outcome ? outcome.message : ''
    throw new Error(
      `${command} printed no result: ${detail}\n${stdout.slice(-3000)}\n${(outcome.stderr ?? '').slice(-3000)}`,
    )
  }
  return JSON.parse(line.slice('RESULT '.length)) as RunResult
}
