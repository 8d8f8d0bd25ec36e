// The published types (dist/*.d.ts, as a user's compiler sees them through the package's
// exports) say what works. `npm test` builds dist/ first (pretest).
import { execFile } from 'node:child_process'
import { mkdirSync, mkdtempSync, rmdirSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { afterAll, expect, test } from 'vitest'

const root = join(import.meta.dirname, '..')
const exec = promisify(execFile)
// Under the project, so that 'kysely-session-store' resolves to this package's dist/.
mkdirSync(join(root, '.examples'), { recursive: true })
const dir = mkdtempSync(join(root, '.examples', 'types-'))
afterAll(() => {
  rmSync(dir, { recursive: true, force: true })
  try {
    rmdirSync(join(root, '.examples')) // only when empty: the examples check may be using it
  } catch {
    // not empty
  }
})

/** The compiler's diagnostics for `source`, compiled as a user's strict ES module. */
async function compile(source: string): Promise<string> {
  writeFileSync(join(dir, 'user.ts'), source)
  const tsc = join(root, 'node_modules', '.bin', 'tsc')
  const args = ['--ignoreConfig', '--strict', '--noEmit', '--module', 'nodenext', '--target', 'es2022']
  args.push('--types', 'node', '--skipLibCheck')
  try {
    await exec(tsc, [...args, '--pretty', 'false', join(dir, 'user.ts')], { cwd: root, timeout: 60_000 })
    return ''
  } catch (error) {
    return String((error as { stdout?: string }).stdout ?? error)
  }
}

test('new Session() does not compile: a Session comes from a SessionManager', async () => {
  const made = await compile(`
    import { KyselyStore, SessionManager, Session } from 'kysely-session-store'
    import { sqlite } from 'kysely-session-store/sqlite'
    const session: Session = await new SessionManager({ store: new KyselyStore(sqlite(':memory:'), 0) }).load(undefined)
    session.set('visits', 1)
  `)
  expect(made).toBe('')
  expect(await compile(`import { Session } from 'kysely-session-store'\nnew Session()\n`)).toMatch(
    /user\.ts\(2,1\): error TS2673: Constructor of class 'Session<Data>' is private/,
  )
})

test("a Session's published type is its public API, typed by the manager's Data", async () => {
  const typed = `
    import { KyselyStore, SessionManager } from 'kysely-session-store'
    import { sqlite } from 'kysely-session-store/sqlite'
    const sessions = new SessionManager<{ userId: string }>({ store: new KyselyStore(sqlite(':memory:'), 0) })
    const session = await sessions.load(undefined)
    const userId: string | undefined = session.get('userId')
  `
  expect(await compile(typed)).toBe('')
  const errors = await compile(`${typed}
    session.set('userId', 1)
    session.key
    session.stored
    session.onChange
  `)
  expect(errors).toMatch(/user\.ts\(8,\d+\): error TS2345: Argument of type 'number'/)
  expect(errors).toMatch(/user\.ts\(9,\d+\): error TS\d+: Property 'key' does not exist/)
  expect(errors).toMatch(/user\.ts\(10,\d+\): error TS2339: Property 'stored' does not exist/)
  expect(errors).toMatch(/user\.ts\(11,\d+\): error TS2339: Property 'onChange' does not exist/)
})
