// What only some legs need (runtimes, a browser driver, other drivers, the benchmark peers,
// Postgres servers) is installed in legs/<name>/, each with its own package.json and lockfile,
// by `npm run legs:install` (scripts/install-legs.mjs), not by the root `npm ci`. A test file
// reaches a leg's packages through the leg's index.js (its imports resolve from that folder)
// and asks here first: when the leg is not installed its tests are skipped with the command
// that installs it printed, and under CI=true that is a failing test instead.
import { existsSync } from 'node:fs'
import type Database from 'better-sqlite3'
import { join, resolve } from 'node:path'
import { describe, test } from 'vitest'

export const legsRoot = resolve(import.meta.dirname, '..', 'legs')

/** The command that installs `leg`. */
export function installCommand(leg: string): string {
  return `npm run legs:install -- ${leg}`
}

/** Where `leg`'s packages are installed: a folder to resolve them from, or to find a binary in. */
export function legModules(leg: string): string {
  return join(legsRoot, leg, 'node_modules')
}

/** Why `leg` cannot be used here, naming the command that installs it; undefined when it can. */
export function legMissing(leg: string): string | undefined {
  // npm ci writes the hidden lockfile once it has installed the whole tree.
  if (existsSync(join(legModules(leg), '.package-lock.json'))) return undefined
  return `legs/${leg} is not installed: run ${installCommand(leg)} (or npm run legs:install for every leg)`
}

/**
 * Registers, for a missing leg, what a missing server gets (test/servers.ts): under CI=true a
 * failing test that says so; elsewhere a skipped suite named by the reason, which is printed.
 */
export function missingLeg(what: string, reason: string): void {
  if (process.env.CI === 'true') {
    test(`${what}: its leg is installed (required under CI=true)`, () => {
      throw new Error(reason)
    })
    return
  }
  console.warn(`skipping ${what}: ${reason}`)
  describe.skip(`${what} (skipped: ${reason})`, () => test('the suite', () => undefined))
}

/**
 * Loads `leg`'s packages with `load` (an import of the leg's index.js) when the leg is
 * installed; otherwise registers the skip (or, under CI=true, the failure) that
 * {@link missingLeg} describes and resolves to undefined. A leg that is installed but does not
 * load (its lockfile changed since) rejects with the command that brings it up to date.
 *
 * @example
 * ```ts
 * const drivers = await fromLeg('drivers', 'the libSQL legs', () => import('../legs/drivers/index.js'))
 * if (drivers !== undefined) conformance(libsqlLeg(drivers.LibsqlDialect))
 * ```
 */
export async function fromLeg<T>(leg: string, what: string, load: () => Promise<T>): Promise<T | undefined> {
  const reason = legMissing(leg)
  if (reason !== undefined) {
    missingLeg(what, reason)
    return undefined
  }
  try {
    return await load()
  } catch (error) {
    throw new Error(`legs/${leg} is installed but does not load: run ${installCommand(leg)}`, {
      cause: error,
    })
  }
}

/** {@link fromLeg}, registering `suite` with the loaded packages when the leg is installed. */
export async function withLeg<T>(
  leg: string,
  what: string,
  load: () => Promise<T>,
  suite: (loaded: T) => void | Promise<void>,
): Promise<void> {
  const loaded = await fromLeg(leg, what, load)
  if (loaded !== undefined) await suite(loaded)
}

/**
 * better-sqlite3 as the package finds it: legs/better-sqlite3, which `npm run legs:install`
 * links into node_modules (a native addon that takes a minute to build, so not in the root
 * install). Undefined when it is not there: `sqlite(path)` then opens `node:sqlite`.
 */
export const BetterSqlite3: typeof Database | undefined = await import('better-sqlite3').then(
  (module) => module.default,
  () => undefined,
)

/** better-sqlite3, or a thrown Error naming the command that installs it. */
export function betterSqlite3(): typeof Database {
  if (BetterSqlite3 === undefined) throw new Error(betterSqlite3Missing())
  return BetterSqlite3
}

function betterSqlite3Missing(): string {
  return (
    legMissing('better-sqlite3') ??
    `node_modules/better-sqlite3 does not resolve: run ${installCommand('better-sqlite3')}, which links it there`
  )
}

/**
 * Registers `suite` when better-sqlite3 is installed (see {@link BetterSqlite3}); otherwise
 * what {@link missingLeg} registers: a printed skip, or under CI=true a failing test.
 */
export function withBetterSqlite3(what: string, suite: (database: typeof Database) => void): void {
  if (BetterSqlite3 === undefined) missingLeg(what, betterSqlite3Missing())
  else suite(BetterSqlite3)
}
