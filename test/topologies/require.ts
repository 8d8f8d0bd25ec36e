// Topology legs need software beyond the machine's databases (PgBouncer, HAProxy, Galera,
// Postgres 15's binaries) and root. Where something is missing, a leg is skipped with the
// reason printed; under CI=true it fails instead.
import { describe, test } from 'vitest'

/**
 * Registers `suite` under `name` when `missing` is undefined. Otherwise: under CI=true, a
 * failing test that says what is missing; elsewhere, the suite registered as skipped, with the
 * reason printed.
 */
export function whenAvailable(name: string, missing: string | undefined, suite: () => void): void {
  if (missing !== undefined && process.env.CI === 'true') {
    test(`${name}: its tools are installed (required under CI=true)`, () => {
      throw new Error(`${name} cannot run: ${missing}`)
    })
    return
  }
  if (missing !== undefined) console.warn(`skipping ${name}: ${missing}`)
  describe.skipIf(missing !== undefined)(
    missing === undefined ? name : `${name} (skipped: ${missing})`,
    suite,
  )
}

/** Prints one scenario's figures on one line, for CI's log. */
export function printFigures(label: string, figures: Record<string, unknown>): void {
  const shown = Object.entries(figures)
    .filter(([, value]) => typeof value !== 'object' || value === null || Object.keys(value).length > 0)
    .map(([key, value]) => `${key}=${typeof value === 'object' ? JSON.stringify(value) : String(value)}`)
  console.log(`[topologies] ${label}: ${shown.join(' ')}`)
}
