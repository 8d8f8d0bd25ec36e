// A minimal stand-in for 'vitest', so that the real test/conformance.ts runs where vitest does
// not (Bun, Deno) or against another copy of Kysely (0.28): test/runtime/bundle.ts maps the
// 'vitest' import here. Vitest's own `expect` (@vitest/expect on chai) does the asserting, so
// every matcher means what it means under vitest; this file only registers and runs tests,
// in order, one at a time, with timeouts.
import * as chai from 'chai'
import {
  ASYMMETRIC_MATCHERS_OBJECT,
  JestAsymmetricMatchers,
  JestChaiExpect,
  JestExtend,
  setState,
} from '@vitest/expect'

chai.use(JestExtend)
chai.use(JestChaiExpect)
chai.use(JestAsymmetricMatchers)

type Fn = () => unknown

/** Vitest's `expect`, without snapshots, `poll` or `soft`. */
export const expect = ((value: unknown, message?: string) => chai.expect(value, message)) as unknown as (
  value: unknown,
  message?: string,
) => any
Object.assign(expect, chai.expect)
Object.assign(expect, (globalThis as Record<symbol, unknown>)[ASYMMETRIC_MATCHERS_OBJECT])
setState({ assertionCalls: 0, isExpectingAssertions: false, expectedAssertionsNumber: null }, expect as never)

const TEST_TIMEOUT = Number(process.env.SHIM_TEST_TIMEOUT ?? 30_000)
const HOOK_TIMEOUT = Number(process.env.SHIM_HOOK_TIMEOUT ?? 60_000)

interface Suite {
  name: string
  skip: boolean
  beforeAll: Fn[]
  afterAll: Fn[]
  beforeEach: Fn[]
  afterEach: Fn[]
  children: Array<Suite | Test>
}
interface Test {
  name: string
  fn: Fn
  skip: boolean
  timeout: number
}

const root: Suite = {
  name: '',
  skip: false,
  beforeAll: [],
  afterAll: [],
  beforeEach: [],
  afterEach: [],
  children: [],
}
let current = root

function addSuite(name: string, fn: Fn, skip: boolean): void {
  const suite: Suite = {
    name,
    skip,
    beforeAll: [],
    afterAll: [],
    beforeEach: [],
    afterEach: [],
    children: [],
  }
  current.children.push(suite)
  const parent = current
  current = suite
  try {
    const result = fn()
    if (result instanceof Promise) throw new Error(`describe('${name}') must not be async here`)
  } finally {
    current = parent
  }
}

function addTest(name: string, fn: Fn, skip: boolean, timeout = TEST_TIMEOUT): void {
  current.children.push({ name, fn, skip, timeout })
}

/** `%s`, `%d`, `%i`, `%j`, `%o` in a test.each name, as vitest formats them. */
function format(name: string, args: unknown[]): string {
  let i = 0
  return name.replace(/%[sdijo]/g, () => String(args[i++]))
}

type Each = <T extends unknown[]>(cases: readonly T[]) => (name: string, fn: (...args: T) => unknown) => void
function each(register: (name: string, fn: Fn) => void): Each {
  return (cases) => (name, fn) => {
    for (const item of cases) {
      const args = (Array.isArray(item) ? item : [item]) as never[]
      register(format(name, args), () => (fn as (...a: unknown[]) => unknown)(...args))
    }
  }
}

function makeTest(skip: boolean) {
  const t = (name: string, fn: Fn, timeout?: number) => addTest(name, fn, skip, timeout)
  return Object.assign(t, {
    each: each((name, fn) => addTest(name, fn, skip)),
    skipIf: (condition: unknown) => makeTest(skip || Boolean(condition)),
    runIf: (condition: unknown) => makeTest(skip || !condition),
  })
}

const base = makeTest(false)
export const test = Object.assign(base, {
  skip: makeTest(true),
  todo: (name: string) => addTest(name, () => undefined, true),
  concurrent: base,
  sequential: base,
})
export const it = test

function makeDescribe(skip: boolean) {
  const d = (name: string, fn: Fn) => addSuite(name, fn, skip)
  return Object.assign(d, {
    each: each((name, fn) => addSuite(name, fn, skip)),
    skipIf: (condition: unknown) => makeDescribe(skip || Boolean(condition)),
    runIf: (condition: unknown) => makeDescribe(skip || !condition),
  })
}
export const describe = Object.assign(makeDescribe(false), {
  skip: makeDescribe(true),
  concurrent: makeDescribe(false),
  sequential: makeDescribe(false),
})

export const beforeAll = (fn: Fn) => void current.beforeAll.push(fn)
export const afterAll = (fn: Fn) => void current.afterAll.push(fn)
export const beforeEach = (fn: Fn) => void current.beforeEach.push(fn)
export const afterEach = (fn: Fn) => void current.afterEach.push(fn)

export function inject(key: string): never {
  throw new Error(`inject('${key}') is vitest's global setup, which this runner does not have`)
}

async function within(fn: Fn, ms: number, what: string): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined
  try {
    await Promise.race([
      Promise.resolve().then(fn),
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error(`${what} timed out after ${ms} ms`)), ms)
      }),
    ])
  } finally {
    clearTimeout(timer)
  }
}

export interface Outcome {
  name: string
  state: 'passed' | 'failed' | 'skipped'
  error?: string
}

/**
 * Runs what was registered, in order. `skipped` maps a test's full name (or a part of it) to
 * the reason it does not apply in this runtime; those are reported, not run.
 */
export async function run(skipped: Record<string, string> = {}): Promise<Outcome[]> {
  const outcomes: Outcome[] = []
  const message = (error: unknown) =>
    error instanceof Error ? `${error.message}\n${error.stack ?? ''}`.slice(0, 4000) : String(error)

  async function runSuite(suite: Suite, path: string[], eachHooks: Suite[], skip: boolean): Promise<void> {
    const tests = (s: Suite): Test[] => s.children.flatMap((c) => ('fn' in c ? [c] : tests(c)))
    const hooks = [...eachHooks, suite]
    skip ||= suite.skip
    let setupError: string | undefined
    if (!skip) {
      for (const hook of suite.beforeAll) {
        try {
          await within(hook, HOOK_TIMEOUT, `beforeAll of ${path.join(' > ')}`)
        } catch (error) {
          setupError = message(error)
          break
        }
      }
    }
    for (const child of suite.children) {
      const name = [...path, child.name].join(' > ')
      if (!('fn' in child)) {
        if (setupError !== undefined) {
          for (const t of tests(child))
            outcomes.push({ name: `${name} > ${t.name}`, state: 'failed', error: setupError })
        } else {
          await runSuite(child, [...path, child.name], hooks, skip)
        }
        continue
      }
      const reason = Object.entries(skipped).find(([part]) => name.includes(part))?.[1]
      if (skip || child.skip || reason !== undefined) {
        outcomes.push({ name, state: 'skipped', error: reason })
        continue
      }
      if (setupError !== undefined) {
        outcomes.push({ name, state: 'failed', error: setupError })
        continue
      }
      let error: string | undefined
      try {
        for (const s of hooks) for (const hook of s.beforeEach) await within(hook, HOOK_TIMEOUT, 'beforeEach')
        await within(child.fn, child.timeout, name)
      } catch (caught) {
        error = message(caught)
      }
      for (const s of [...hooks].reverse()) {
        for (const hook of s.afterEach) {
          try {
            await within(hook, HOOK_TIMEOUT, 'afterEach')
          } catch (caught) {
            error ??= message(caught)
          }
        }
      }
      outcomes.push({ name, state: error === undefined ? 'passed' : 'failed', error })
      process.stderr.write(`${error === undefined ? 'ok  ' : 'FAIL'} ${name}\n`)
    }
    if (!skip) {
      for (const hook of suite.afterAll) {
        try {
          await within(hook, HOOK_TIMEOUT, `afterAll of ${path.join(' > ')}`)
        } catch (error) {
          outcomes.push({ name: `${path.join(' > ')} (afterAll)`, state: 'failed', error: message(error) })
        }
      }
    }
  }

  await runSuite(root, [], [], false)
  return outcomes
}
