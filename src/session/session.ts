import { checkSubject } from '../validate.js'

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
  /** Throws when `value` cannot be kept under `path` (the codec's check). */
  check(value: unknown, path: string): void
  /** Throws when the session, as it now is, with `value` just set under `key`, is larger than the manager accepts. */
  checkSize(session: Session, key: string, value: unknown): void
}

/** What a session loaded from the store, or made by the manager, starts with. */
export interface SessionState {
  token?: string | undefined
  key?: string | undefined
  deadline?: number
  values?: Readonly<Record<string, unknown>>
  subject?: string | null
  /** The expiry the store holds for this session (when the store tells it). */
  expiry?: number | undefined
  /** The size of the data it was decoded from, in bytes. */
  size?: number | undefined
}

/**
 * Keys `set` refuses and decoding drops: on an ordinary object they reach its prototype,
 * so code that copies session values into one could be made to change it.
 */
export const RESERVED_KEYS: ReadonlySet<string> = new Set(['__proto__', 'constructor', 'prototype'])

/** The key under which remember-me is kept among the values (SCS's name), hidden from keys(). */
export const REMEMBER_ME = '__rememberMe'

/**
 * The key under which the device a signed-in session was last seen from is kept among the
 * values (the manager's `deviceInfo`), hidden from keys().
 */
export const DEVICE = '__device'

/** What the manager's `deviceInfo` keeps of the device a session was last seen from. */
export interface SeenDevice {
  readonly browser: string | null
  readonly os: string | null
  readonly address: string | null
}

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
  #subject: string | null
  #subjectChanged = false
  /** Whether the key's row is in the store as far as this request knows (loaded or saved). */
  #stored: boolean
  /** Whether the key was made in this request and not saved yet: only such a key is inserted. */
  #created = false
  #storedExpiry: number | undefined
  #pending: Array<Promise<void>> | undefined
  /** At least the size of the session's encoding, in bytes, when known; see {@link SessionBackend.checkSize}. */
  #size: number | undefined
  /** Called once, at the first change: see {@link Session.onChange}. */
  #onChange: (() => void) | undefined

  /**
   * Sessions are made by a SessionManager (`load`, `middleware`, `handler`, `iterate`): get
   * one there. The constructor is private, so that the published type is honest:
   * `new Session()` does not compile.
   */
  private constructor(backend: SessionBackend, state: SessionState) {
    this.#backend = backend
    this.#token = state.token
    this.#key = state.key
    this.#stored = state.key !== undefined
    this.#deadline = state.deadline ?? backend.now() + backend.lifetime
    this.#values = ownValues(state.values)
    this.#subject = state.subject ?? null
    this.#storedExpiry = state.expiry
    this.#size = state.size
  }

  /** @internal How a SessionManager makes a session (stripped from the published types). */
  static create(backend: SessionBackend, state: SessionState = {}): Session {
    return new Session(backend, state)
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
    return this.#values[checkKey(key)] // a null-prototype object: own values only
  }

  /**
   * Puts `value` under `key` and marks the session modified. Values must be what the codec
   * can encode (by default JSON values, Dates and Uint8Arrays, nested at most
   * {@link JSON_CODEC_MAX_DEPTH} deep); others throw here, and so do the keys `__proto__`,
   * `constructor` and `prototype` (a TypeError naming the key) and a value that would make
   * the session larger than the manager's `maxDataSize` (a RangeError). A refused value
   * leaves the session as it was.
   *
   * @example
   * ```ts
   * session.set('cart', [{ sku: 'A1', quantity: 2 }])
   * ```
   */
  set(key: string, value: unknown): this {
    checkKey(key)
    if (RESERVED_KEYS.has(key)) {
      throw new TypeError(`key must not be "${key}": __proto__, constructor and prototype are reserved`)
    }
    this.#backend.check(value, key)
    const had = Object.hasOwn(this.#values, key)
    const previous = this.#values[key]
    this.#values[key] = value
    try {
      this.#backend.checkSize(this, key, value)
    } catch (error) {
      if (had) this.#values[key] = previous
      else delete this.#values[key]
      throw error
    }
    this.#mark('modified')
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
   * if (!session.has('userId')) console.log('not signed in')
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
    this.#mark('modified')
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
    this.#values = Object.create(null)
    this.#mark('modified')
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
      .filter((key) => key !== REMEMBER_ME && key !== DEVICE)
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
    this.#mark('modified')
  }

  /**
   * Keeps the cookie after the browser closes (Expires and Max-Age) even when the manager's
   * `cookie.persist` is false, or stops doing so. Marks the session modified.
   *
   * @example
   * ```ts
   * session.rememberMe(true) // the user ticked "remember me"
   * ```
   */
  rememberMe(remember: boolean): void {
    if (typeof remember !== 'boolean') throw new TypeError('remember must be a boolean')
    this.#values[REMEMBER_ME] = remember
    this.#mark('modified')
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
   * The subject (a user id) this session belongs to, or null: what
   * {@link SessionManager.listSubject} and {@link SessionManager.revokeSubject} find it by.
   *
   * @example
   * ```ts
   * const userId = session.subject // null when anonymous
   * ```
   */
  get subject(): string | null {
    return this.#subject
  }

  /**
   * Makes the session belong to `subject` (a user id: a string of 1 to 255 characters), or
   * to no one with `null`, and marks it modified when that changes it. Call it at login,
   * right after {@link Session.renewToken}. Needs a store with subjects (a
   * {@link KyselyStore}).
   *
   * @example
   * ```ts
   * await session.renewToken()
   * session.setSubject('user-42')
   * ```
   */
  setSubject(subject: string | null): void {
    if (subject !== null) {
      if (typeof subject !== 'string') throw new TypeError('subject must be a string or null')
      checkSubject(subject) // what the store's subject column holds: 1 to 255 characters
    }
    if (subject === this.#subject) return
    this.#subject = subject
    this.#subjectChanged = true
    this.#mark('modified')
  }

  /**
   * Session-fixation defence: gives the session a new token (and a fresh deadline) that
   * this response's cookie carries, keeps its values, and deletes the session under its old
   * token. Call it whenever privileges change: at login, at logout, on a role change.
   *
   * The token changes at once, before this method returns: values set afterwards are saved
   * under the new token whether or not the returned promise was awaited. The promise
   * settles when the old token's deletion has; a failed deletion also fails this request's
   * save (its response becomes a 500), so the promise never needs a handler of its own.
   *
   * @example
   * ```ts
   * await session.renewToken()
   * session.set('userId', 42)
   * ```
   */
  renewToken(): Promise<void> {
    let fresh: { token: string; key: string }
    try {
      fresh = this.#backend.newToken() // throws for sessions that have no request
    } catch (error) {
      return Promise.reject(error)
    }
    const old = this.#stored ? this.#key : undefined
    this.#token = fresh.token
    this.#key = fresh.key
    this.#stored = false
    this.#created = true
    this.#storedExpiry = undefined
    this.#deadline = this.#backend.now() + this.#backend.lifetime
    this.#mark('modified')
    return old === undefined ? Promise.resolve() : this.#delete(old)
  }

  /**
   * Ends the session: clears its values and subject, clears the cookie in this response,
   * and deletes it from the store. Values set afterwards start a new session with a new
   * token.
   *
   * The session is ended at once, before this method returns; the promise settles when the
   * deletion has. A failed deletion also fails this request's save (its response becomes a
   * 500), so the promise never needs a handler of its own.
   *
   * @example
   * ```ts
   * await session.destroy() // logout
   * ```
   */
  destroy(): Promise<void> {
    const old = this.#stored ? this.#key : undefined
    this.#values = Object.create(null)
    this.#token = undefined
    this.#key = undefined
    this.#stored = false
    this.#created = false
    this.#storedExpiry = undefined
    this.#subject = null
    this.#subjectChanged = false
    this.#deadline = this.#backend.now() + this.#backend.lifetime
    this.#mark('destroyed')
    return old === undefined ? Promise.resolve() : this.#delete(old)
  }

  /** Sets the status of a change, and calls the {@link Session.onChange} hook the first time. */
  #mark(status: 'modified' | 'destroyed'): void {
    this.#status = status
    const onChange = this.#onChange
    if (onChange !== undefined) {
      this.#onChange = undefined
      onChange()
    }
  }

  #delete(key: string): Promise<void> {
    let deletion: Promise<void>
    try {
      deletion = this.#backend.deleteKey(key)
    } catch (error) {
      deletion = Promise.reject(error)
    }
    deletion.catch(() => undefined) // handled: save() reports it
    ;(this.#pending ??= []).push(deletion)
    return deletion
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

  /** @internal Whether the key's row is in the store, as far as this request knows. */
  get stored(): boolean {
    return this.#stored
  }

  /** @internal Whether the subject changed in this request. */
  get subjectChanged(): boolean {
    return this.#subjectChanged
  }

  /** @internal Whether the key was made in this request and not saved yet (so it may be inserted). */
  get created(): boolean {
    return this.#created
  }

  /** @internal The expiry the store holds, when known. */
  get storedExpiry(): number | undefined {
    return this.#storedExpiry
  }

  /** @internal At least the size of the session's encoding, in bytes, when known. */
  get size(): number | undefined {
    return this.#size
  }

  /** @internal See {@link Session.size}. */
  set size(size: number | undefined) {
    this.#size = size
  }

  /**
   * @internal Called once, the first time the session is modified or destroyed (and so has
   * something to save), then forgotten. middleware() holds the response from then on only,
   * so that a response whose session does not change is left as it is.
   */
  set onChange(onChange: (() => void) | undefined) {
    this.#onChange = onChange
  }

  /**
   * @internal The device this request comes from, as the manager's `deviceInfo` keeps it;
   * undefined when it is off, or for a session without a request.
   */
  seenFrom: SeenDevice | undefined

  /** @internal Keeps `device` under {@link DEVICE} (undefined removes it), marking nothing. */
  keepDevice(device: SeenDevice | undefined): void {
    if (device === undefined) delete this.#values[DEVICE]
    else this.#values[DEVICE] = device
  }

  /** @internal Marks the session modified: the device it is seen from changed. */
  deviceChanged(): void {
    this.#mark('modified')
  }

  /** @internal Whether a deletion (of renewToken or destroy) has not been waited for yet. */
  get hasPending(): boolean {
    return this.#pending !== undefined
  }

  /** @internal Waits for the pending deletions; rejects with the first that failed. */
  async settle(): Promise<void> {
    const pending = this.#pending
    if (pending === undefined) return
    this.#pending = undefined
    for (const result of await Promise.allSettled(pending)) {
      if (result.status === 'rejected') throw result.reason
    }
  }

  /** @internal Gives a session its first token, just before its first commit. */
  assign(identity: { token: string | undefined; key: string }): void {
    this.#token = identity.token
    this.#key = identity.key
    this.#created = true
    this.#stored = false
  }

  /** @internal After a write: the store holds this session until `expiry`. */
  saved(expiry: number): void {
    this.#status = 'unmodified'
    this.#created = false
    this.#stored = true
    this.#subjectChanged = false
    this.#storedExpiry = expiry
  }

  /**
   * @internal After a save found nothing to do, or found the session ended elsewhere
   * (`ended`): nothing is pending any more.
   */
  settled(ended = false): void {
    this.#status = 'unmodified'
    this.#subjectChanged = false
    if (ended) this.#stored = false
  }
}

function checkKey(key: unknown): string {
  if (typeof key !== 'string' || key.length === 0) throw new TypeError('key must be a non-empty string')
  return key
}

/**
 * The values in a null-prototype object, without the reserved keys: `values` itself when it
 * already is one (a codec's fresh output, as jsonCodec's), else a copy.
 */
function ownValues(values: Readonly<Record<string, unknown>> | undefined): Record<string, unknown> {
  if (values === undefined) return Object.create(null)
  if (
    Object.getPrototypeOf(values) === null &&
    !('__proto__' in values || 'constructor' in values || 'prototype' in values)
  ) {
    return values as Record<string, unknown>
  }
  const out: Record<string, unknown> = Object.create(null)
  for (const key of Object.keys(values)) {
    if (!RESERVED_KEYS.has(key)) out[key] = values[key]
  }
  return out
}
