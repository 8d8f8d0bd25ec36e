// The conformance suite inside workerd, on a local D1: test/d1.test.ts has wrangler bundle this
// Worker (its esbuild, its nodejs_compat polyfills, 'vitest' aliased to ./vitest-shim.ts) and
// run it in the real runtime with createTestHarness. A request to / runs the suite through
// kysely-d1 and streams one line per test, then `RESULT <json>` (as test/runtime/entry.ts does
// for Bun and Deno). The package is imported from source: what a bundler makes of it.
import { Kysely } from 'kysely'
import { D1Dialect } from 'kysely-d1'
import { conformance } from '../../test/conformance.js'
import { run } from '../../test/runtime/vitest-shim.js'

/** The bindings the harness gives this Worker. */
interface Env {
  DB: ConstructorParameters<typeof D1Dialect>[0]['database']
  /** JSON: tests that do not apply here (part of the name to the reason). */
  SKIP?: string
}

let env: Env | undefined
let registered = false

/** Registers the suite once per isolate; each request runs it again on the request's D1. */
function register(): void {
  if (registered) return
  registered = true
  conformance({
    name: 'workerd, kysely-d1 on a local D1',
    family: 'sqlite',
    open: () => {
      if (env === undefined) throw new Error('no request has set the D1 binding')
      return new Kysely<any>({ dialect: new D1Dialect({ database: env.DB }) })
    },
    close: (db) => db.destroy(),
  })
}

export default {
  async fetch(_request: Request, bindings: Env, ctx: { waitUntil(promise: Promise<unknown>): void }) {
    env = bindings
    register()
    const { readable, writable } = new TransformStream<Uint8Array, Uint8Array>()
    const writer = writable.getWriter()
    const encoder = new TextEncoder()
    const write = (line: string) => writer.write(encoder.encode(`${line}\n`))
    // The shim reports each test on process.stderr; here it goes down the response as it runs.
    const stderr = { write: (text: string) => void write(text.trimEnd()) }
    Object.defineProperty(process, 'stderr', { value: stderr, configurable: true })
    const done = (async () => {
      try {
        const outcomes = await run(JSON.parse(bindings.SKIP ?? '{}') as Record<string, string>)
        const count = (state: string) => outcomes.filter((o) => o.state === state).length
        const result = {
          runtime: `workerd (${navigator.userAgent})`,
          passed: count('passed'),
          failed: count('failed'),
          skipped: count('skipped'),
          failures: outcomes.filter((o) => o.state === 'failed'),
          skips: outcomes.filter((o) => o.state === 'skipped').map((o) => `${o.name}: ${o.error}`),
        }
        await write(`RESULT ${JSON.stringify(result)}`)
      } catch (error) {
        await write(`CRASH ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`)
      } finally {
        await writer.close()
      }
    })()
    ctx.waitUntil(done)
    return new Response(readable, { headers: { 'content-type': 'text/plain; charset=utf-8' } })
  },
}
