import { closeSync, mkdirSync, openSync, readFileSync, unlinkSync, writeSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { FactoryError } from '../src/errors.js'

/** The lock file `pglite()` keeps in a data directory while it has it open. */
export const LOCK_FILE = '.kysely-session-store.lock'

/**
 * Thrown when a data directory is already open, in this process or in another live one.
 * PGlite does not lock its directory itself, and two instances on one directory corrupt it.
 *
 * @example
 * ```ts
 * try {
 *   await migrate(pglite('./data')) // while another process has ./data open
 * } catch (error) {
 *   if (error instanceof SessionStoreError && error.cause instanceof DataDirectoryInUseError) {
 *     console.error('./data is in use: share one pglite instance instead')
 *   }
 * }
 * ```
 */
export class DataDirectoryInUseError extends FactoryError {
  override readonly name = 'DataDirectoryInUseError'
}

const held = new Set<string>()
process.once('exit', () => {
  for (const path of held) release(path)
})

function release(path: string): void {
  held.delete(path)
  try {
    unlinkSync(path)
  } catch {
    // already gone
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM' // exists, but is not ours to signal
  }
}

/**
 * Takes the lock of `dir` for this process, or throws a {@link DataDirectoryInUseError}. A
 * lock left by a process that no longer runs (killed with SIGKILL, say) is taken over.
 * Returns the function that releases it.
 */
export function lockDirectory(dir: string, factory: string): () => void {
  mkdirSync(dir, { recursive: true })
  const path = join(resolve(dir), LOCK_FILE)
  if (held.has(path)) {
    throw new DataDirectoryInUseError(
      `${factory}(dataDir): the data directory is already open in this process; ` +
        `share that instance (pass it to ${factory}(instance)) instead of opening the directory twice`,
    )
  }
  for (let attempt = 0; ; attempt++) {
    try {
      const fd = openSync(path, 'wx')
      writeSync(fd, String(process.pid))
      closeSync(fd)
      held.add(path)
      return () => release(path)
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST' || attempt > 0) throw error
      const owner = Number(readFileSync(path, 'utf8').trim())
      if (Number.isInteger(owner) && owner > 0 && owner !== process.pid && alive(owner)) {
        throw new DataDirectoryInUseError(
          `${factory}(dataDir): the data directory is in use by process ${owner}; PGlite does not ` +
            `lock it and two instances would corrupt it: stop that process first`,
        )
      }
      unlinkSync(path) // stale: its process is gone
    }
  }
}
