/**
 * What a session's changes look like to its manager: `'unmodified'` (nothing to save),
 * `'modified'` (saved at the end of the request) or `'destroyed'` (deleted; its cookie is
 * cleared).
 *
 * @example
 * ```ts
 * if (session.status === 'modified') console.log('this response will set the cookie')
 * ```
 */
export type SessionStatus = 'unmodified' | 'modified' | 'destroyed'

/** What a Session asks of its manager. */
export interface SessionBackend {
  now(): number
  lifetime: number
  newToken(): { token: string; key: string }
  deleteKey(key: string): Promise<void>
  check(value: unknown, path: string): void
}

/** The key under which remember-me is kept among the values (SCS's name), hidden from keys(). */
export const REMEMBER_ME = '__rememberMe'

/**
 * One user's session during one request: its values, its status, and the operations that
 * change its identity (`renewToken`, `destroy`). Get it from `req.session` (middleware), the
 * second argument of a fetch handler, or `SessionManager.load`.
 *
 * @example
 * ```ts
 * const visits = (session.get('visits') as number | undefined) ?? 0
 * session.set('visits', visits + 1)
 * ```
 */
export class Session {
  readonly #backend: SessionBackend
  #values: Record<string, unknown>
  #deadline: number
  #status: SessionStatus = 'unmodified'
  #token: string | undefined
  #key: string | undefined

  /**
   * Sessions are made by a SessionManager (`load`, `middleware`, `handler`, `iterate`): get
   * one there. The constructor is declared with what it needs (the manager's backend and the
   * loaded state) so that its published type is honest: `new Session()` does not compile.
   */
  constructor(
    backend: SessionBackend,
    state: {
      token?: string | undefined
      key?: string | undefined
      deadline?: number
      values?: Record<string, unknown>
    } = {},
  ) {
    this.#backend = backend
    this.#token = state.token
    this.#key = state.key
    this.#deadline = state.deadline ?? backend.now() + backend.lifetime
    this.#values = state.values ?? {}
  }

  /**
   * The value under `key`, or undefined.
   *
   * @example
   * ```ts
   * const userId = session.get('userId') as number | undefined
   * ```
   */
  get(key: string): unknown {
    return this.#values[checkKey(key)]
  }

  /**
   * Puts `value` under `key` and marks the session modified. Values must be what the codec
   * can encode (by default JSON values, Dates and Uint8Arrays); others throw a TypeError here.
   *
   * @example
   * ```ts
   * session.set('cart', [{ sku: 'A1', quantity: 2 }])
   * ```
   */
  set(key: string, value: unknown): this {
    checkKey(key)
    this.#backend.check(value, key)
    this.#values[key] = value
    this.#status = 'modified'
    return this
  }

  /**
   * The same as {@link Session.set} (SCS's name).
   *
   * @example
   * ```ts
   * session.put('flash', 'Saved!')
   * ```
   */
  put(key: string, value: unknown): this {
    return this.set(key, value)
  }

  /**
   * Whether a value is stored under `key`.
   *
   * @example
   * ```ts
   * if (!session.has('userId')) return redirect('/login')
   * ```
   */
  has(key: string): boolean {
    return Object.hasOwn(this.#values, checkKey(key))
  }

  /**
   * Removes and returns the value under `key` (a flash message); modifies the session only
   * when there was a value.
   *
   * @example
   * ```ts
   * const flash = session.pop('flash') as string | undefined
   * ```
   */
  pop(key: string): unknown {
    const value = this.#values[checkKey(key)]
    this.remove(key)
    return value
  }

  /**
   * Removes the value under `key`; modifies the session only when there was a value.
   *
   * @example
   * ```ts
   * session.remove('cart')
   * ```
   */
  remove(key: string): void {
    if (!this.has(key)) return
    delete this.#values[key]
    this.#status = 'modified'
  }

  /**
   * Removes every value but keeps the session and its token; modifies it when it had values.
   *
   * @example
   * ```ts
   * session.clear()
   * ```
   */
  clear(): void {
    if (Object.keys(this.#values).length === 0) return
    this.#values = {}
    this.#status = 'modified'
  }

  /**
   * The keys of the stored values, sorted.
   *
   * @example
   * ```ts
   * for (const key of session.keys()) console.log(key, session.get(key))
   * ```
   */
  keys(): string[] {
    return Object.keys(this.#values)
      .filter((key) => key !== REMEMBER_ME)
      .sort()
  }

  /**
   * Whether the session changed in this request; see {@link SessionStatus}.
   *
   * @example
   * ```ts
   * session.status // 'unmodified' | 'modified' | 'destroyed'
   * ```
   */
  get status(): SessionStatus {
    return this.#status
  }

  /**
   * The absolute deadline: the session ends then, however active it is (the `lifetime`
   * after it was created or its token renewed).
   *
   * @example
   * ```ts
   * const left = session.deadline.getTime() - Date.now()
   * ```
   */
  get deadline(): Date {
    return new Date(this.#deadline)
  }

  /**
   * Moves the absolute deadline and marks the session modified.
   *
   * @example
   * ```ts
   * session.setDeadline(new Date(Date.now() + 7 * 24 * 3600_000))
   * ```
   */
  setDeadline(deadline: Date): void {
    if (!(deadline instanceof Date) || Number.isNaN(deadline.getTime())) {
      throw new TypeError('deadline must be a valid Date')
    }
    this.#deadline = deadline.getTime()
    this.#status = 'modified'
  }

  /**
   * Keeps the cookie after the browser closes (Expires and Max-Age) even when the manager's
   * `cookie.persist` is false, or stops doing so. Marks the session modified.
   *
   * @example
   * ```ts
   * session.rememberMe(form.get('remember') === 'on')
   * ```
   */
  rememberMe(remember: boolean): void {
    if (typeof remember !== 'boolean') throw new TypeError('remember must be a boolean')
    this.#values[REMEMBER_ME] = remember
    this.#status = 'modified'
  }

  /**
   * Whether `rememberMe(true)` was called for this session.
   *
   * @example
   * ```ts
   * if (session.remembered) console.log('persistent cookie')
   * ```
   */
  get remembered(): boolean {
    return this.#values[REMEMBER_ME] === true
  }

  /**
   * Session-fixation defence: deletes the session under its old token, keeps its values,
   * and gives it a new token (and a fresh deadline) that this response's cookie carries.
   * Call it whenever privileges change: at login, at logout, on a role change.
   *
   * @example
   * ```ts
   * await session.renewToken()
   * session.set('userId', user.id)
   * ```
   */
  async renewToken(): Promise<void> {
    const old = this.#key
    const fresh = this.#backend.newToken() // throws for sessions that have no request
    if (old !== undefined) await this.#backend.deleteKey(old)
    this.#token = fresh.token
    this.#key = fresh.key
    this.#deadline = this.#backend.now() + this.#backend.lifetime
    this.#status = 'modified'
  }

  /**
   * Ends the session: deletes it from the store, clears its values, and clears the cookie
   * in this response. Values set afterwards start a new session with a new token.
   *
   * @example
   * ```ts
   * await session.destroy() // logout
   * ```
   */
  async destroy(): Promise<void> {
    if (this.#key !== undefined) await this.#backend.deleteKey(this.#key)
    this.#values = {}
    this.#token = undefined
    this.#key = undefined
    this.#deadline = this.#backend.now() + this.#backend.lifetime
    this.#status = 'destroyed'
  }

  /** @internal The token the cookie carries (undefined until first committed). */
  get token(): string | undefined {
    return this.#token
  }

  /** @internal The key the store keeps (the token's hash with hashTokens). */
  get key(): string | undefined {
    return this.#key
  }

  /** @internal The values, for the codec. */
  get values(): Readonly<Record<string, unknown>> {
    return this.#values
  }

  /** @internal Gives a session its first token, just before its first commit. */
  assign(identity: { token: string | undefined; key: string }): void {
    this.#token = identity.token
    this.#key = identity.key
  }

  /** @internal After a save: nothing is pending any more. */
  saved(): void {
    this.#status = 'unmodified'
  }
}

function checkKey(key: unknown): string {
  if (typeof key !== 'string' || key.length === 0) throw new TypeError('key must be a non-empty string')
  return key
}
