/**
 * What went wrong, in a form a program can branch on.
 *
 * @example
 * ```ts
 * if (error instanceof SessionStoreError && error.code === 'missing_table') await migrate(db)
 * ```
 */
export type SessionStoreErrorCode = 'missing_table' | 'engine'

/**
 * The error every store operation rejects with when the database fails.
 *
 * Its message names the table, the operation and what to do; it never contains a session
 * token or session data. The driver's error is kept as `cause` (read it deliberately: a
 * driver's own message may quote a token or data).
 *
 * @example
 * ```ts
 * try {
 *   await store.find(token)
 * } catch (error) {
 *   if (error instanceof SessionStoreError && error.code === 'missing_table') {
 *     await migrate(db)
 *   }
 * }
 * ```
 */
export class SessionStoreError extends Error {
  override readonly name = 'SessionStoreError'
  /** `'missing_table'` when the sessions table does not exist, else `'engine'`. */
  readonly code: SessionStoreErrorCode

  constructor(message: string, code: SessionStoreErrorCode, cause: unknown) {
    super(message, { cause })
    this.code = code
  }
}

const SAFE_ERRORS = new Set(['MissingPeerDependencyError', 'DataDirectoryInUseError'])

/**
 * A short, safe description of a driver error: its code (`42P01`, `ECONNREFUSED`,
 * `SQLITE_BUSY`) when it has one. Never the driver's message, which may quote data.
 */
export function describeCause(cause: unknown): string {
  // The factories' own errors name packages and directories, never data: pass them on.
  if (cause instanceof Error && SAFE_ERRORS.has(cause.name)) return cause.message
  const code = typeof cause === 'object' && cause !== null ? (cause as { code?: unknown }).code : undefined
  if (typeof code === 'string' && /^[A-Za-z0-9_]{1,40}$/.test(code)) return `the database reported ${code}`
  const name = cause instanceof Error ? cause.name : typeof cause
  return `the database driver threw ${/^[A-Za-z0-9_]{1,40}$/.test(name) ? name : 'an error'}`
}
