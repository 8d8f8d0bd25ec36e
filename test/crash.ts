// Crash safety of the embedded engines: a child commits in a loop and is killed with SIGKILL
// at random moments; each reopening must find every commit that had resolved, and open
// cleanly. Runs the built package (npm test builds it first), as an application would.
import { spawn } from 'node:child_process'
import { appendFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, onTestFinished, test } from 'vitest'
import { preparePGliteDirectory } from './legs.js'

const root = join(import.meta.dirname, '..')
const KILLS = 10

/** Runs the child until it acknowledged a few commits, kills it, and returns what it printed. */
function runAndKill(env: Record<string, string>, delay: number) {
  return new Promise<{ verified: string; acked: string[] }>((resolve, reject) => {
    const child = spawn(process.execPath, ['test/fixtures/commit-loop.mjs'], {
      cwd: root,
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let out = ''
    let err = ''
    let timer: NodeJS.Timeout | undefined
    child.stdout.on('data', (chunk: Buffer) => {
      out += chunk
      if (timer === undefined && out.includes('\nok ')) timer = setTimeout(() => child.kill('SIGKILL'), delay)
    })
    child.stderr.on('data', (chunk: Buffer) => (err += chunk))
    child.once('exit', (code, signal) => {
      clearTimeout(timer)
      if (signal !== 'SIGKILL') return reject(new Error(`child exited with ${code}: ${err}`))
      const lines = out.split('\n')
      const complete = out.endsWith('\n') ? lines : lines.slice(0, -1) // a cut last line never counts
      resolve({
        verified: complete.find((line) => line.startsWith('verified')) ?? '',
        acked: complete.filter((line) => line.startsWith('ok ')).map((line) => line.slice(3)),
      })
    })
  })
}

/** Kills a child committing to `engine` {@link KILLS} times; each reopening checks every resolved commit. */
export function crashSuite(engine: 'sqlite' | 'pglite') {
  const label = engine === 'sqlite' ? 'SQLite file (WAL)' : 'PGlite data directory'
  const target = (dir: string) => join(dir, engine === 'sqlite' ? 'sessions.db' : 'data')
  describe(`${label} killed with SIGKILL while committing`, () => {
    test(
      `${KILLS} kills: every resolved commit survives and the database reopens cleanly`,
      { timeout: 180_000 },
      async () => {
        const dir = mkdtempSync(join(tmpdir(), `kss-crash-${engine}-`))
        onTestFinished(() => rmSync(dir, { recursive: true, force: true }))
        if (engine === 'pglite') await preparePGliteDirectory(target(dir)) // cloned, not initdb
        const expectFile = join(dir, 'acked.txt')
        writeFileSync(expectFile, '')
        let acked = 0
        for (let kill = 0; kill < KILLS; kill++) {
          const delay = Math.floor(Math.random() * 150)
          const run = await runAndKill(
            { ENGINE: engine, TARGET: target(dir), EXPECT: expectFile, PREFIX: `run${kill}` },
            delay,
          )
          expect(run.verified).toBe(`verified ${acked} missing 0`)
          expect(run.acked.length).toBeGreaterThan(0)
          appendFileSync(expectFile, run.acked.map((token) => `${token}\n`).join(''))
          acked += run.acked.length
        }
        // One more reopening checks the last kill's commits.
        const last = await runAndKill(
          { ENGINE: engine, TARGET: target(dir), EXPECT: expectFile, PREFIX: 'final' },
          0,
        )
        expect(last.verified).toBe(`verified ${acked} missing 0`)
      },
    )
  })
}
