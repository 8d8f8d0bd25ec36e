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
  checkSize(record: SessionRecord, key: string, value: unknown): void
}

/**
 * A session's bookkeeping: its values and identity, and what its manager needs to know to
 * save it. The manager owns it (`recordOf(session)`); the public {@link Session} is a view
 * of it. Not exported from the package.
 */
export interface SessionRecord {
  readonly backend: SessionBackend
  values: Record<string, unknown>
  deadline: number
  status: SessionStatus
  /** The token the cookie carries (undefined until first committed). */
  token: string | undefined
  /** The key the store keeps (the token's hash with hashTokens). */
  key: string | undefined
  subject: string | null
  /** Whether the subject changed in this request. */
  subjectChanged: boolean
  /** Whether the key's row is in the store as far as this request knows (loaded or saved). */
  stored: boolean
  /** Whether the key was made in this request and not saved yet: only such a key is inserted. */
  created: boolean
  /** The expiry the store holds, when known. */
  storedExpiry: number | undefined
  /** The deletions of renewToken and destroy that have not been waited for yet. */
  pending: Array<Promise<void>> | undefined
  /** At least the size of the session's encoding, in bytes, when known; see {@link SessionBackend.checkSize}. */
  size: number | undefined
  /**
   * Called once, the first time the session is modified or destroyed (and so has something
   * to save), then forgotten: see hold.ts.
   */
  onChange: (() => void) | undefined
  /**
   * The device this request comes from, as the manager's `deviceInfo` keeps it; undefined
   * when it is off, or for a session without a request.
   */
  seenFrom: SeenDevice | undefined
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

/** The bookkeeping of `session`, which its manager owns (set by Session's static block). */
export let recordOf: <Data extends object>(session: Session<Data>) => SessionRecord
/** How a SessionManager makes a session. */
export let newSession: <Data extends object>(backend: SessionBackend, state?: SessionState) => Session<Data>

/**
 * One user's session during one request: its values, its status, and the operations that
 * change its identity (`renewToken`, `destroy`). Get it from `req.session` (middleware), the
 * second argument of a fetch handler, or `SessionManager.load`.
 *
 * `Data` declares the values: their keys and the type of each (see
 * {@link SessionManager}'s own `Data`, which its sessions take). `get` then returns that type
 * (or undefined), and `set` refuses, at compile time, a key not declared or a value of
 * another type. Without it, any key takes any value the codec can encode and `get` returns
 * `unknown`. The type is a declaration, not a check: data that an earlier version of the app
 * stored under another type comes back as it was stored.
 *
 * @typeParam Data - the session's values, as the app declares them; by default any.
 *
 * @example
 * ```ts
 * const visits = (session.get('visits') as number | undefined) ?? 0
 * session.set('visits', visits + 1)
 *
 * const typed = await new SessionManager<{ visits: number }>({ store }).load(undefined)
 * typed.set('visits', (typed.get('visits') ?? 0) + 1) // get: number | undefined
 * ```
 */
export class Session<Data extends object = Record<string, unknown>> {
  readonly #record: SessionRecord

  static {
    recordOf = (session) => session.#record
    newSession = <Data extends object>(backend: SessionBackend, state: SessionState = {}) =>
      new Session<Data>(backend, state)
  }

  /**
   * Sessions are made by a SessionManager (`load`, `middleware`, `handler`, `iterate`): get
   * one there. The constructor is private, so that the published type is honest:
   * `new Session()` does not compile.
   */
  private constructor(backend: SessionBackend, state: SessionState) {
    this.#record = {
      backend,
      token: state.token,
      key: state.key,
      stored: state.key !== undefined,
      deadline: state.deadline ?? backend.now() + backend.lifetime,
      values: ownValues(state.values),
      subject: state.subject ?? null,
      storedExpiry: state.expiry,
      size: state.size,
      status: 'unmodified',
      subjectChanged: false,
      created: false,
      pending: undefined,
      onChange: undefined,
      seenFrom: undefined,
    }
  }

  /**
   * The value under `key`, or undefined.
   *
   * @example
   * ```ts
   * const userId = session.get('userId') as number | undefined
   * ```
   */
  get<K extends keyof Data & string>(key: K): Data[K] | undefined {
    // A null-prototype object: own values only. Typed as the app declares (not checked).
    return this.#record.values[checkKey(key)] as Data[K] | undefined
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
  set<K extends keyof Data & string>(key: K, value: Exclude<Data[K], undefined>): this {
    const record = this.#record
    checkKey(key)
    if (RESERVED_KEYS.has(key)) {
      throw new TypeError(`key must not be "${key}": __proto__, constructor and prototype are reserved`)
    }
    record.backend.check(value, key)
    const had = Object.hasOwn(record.values, key)
    const previous = record.values[key]
    record.values[key] = value
    try {
      record.backend.checkSize(record, key, value)
    } catch (error) {
      if (had) record.values[key] = previous
      else delete record.values[key]
      throw error
    }
    mark(record, 'modified')
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
  put<K extends keyof Data & string>(key: K, value: Exclude<Data[K], undefined>): this {
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
  has(key: keyof Data & string): boolean {
    return Object.hasOwn(this.#record.values, checkKey(key))
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
  pop<K extends keyof Data & string>(key: K): Data[K] | undefined {
    const value = this.#record.values[checkKey(key)] as Data[K] | undefined
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
  remove(key: keyof Data & string): void {
    if (!this.has(key)) return
    delete this.#record.values[key]
    mark(this.#record, 'modified')
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
    if (Object.keys(this.#record.values).length === 0) return
    this.#record.values = Object.create(null)
    mark(this.#record, 'modified')
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
    return Object.keys(this.#record.values)
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
    return this.#record.status
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
    return new Date(this.#record.deadline)
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
    this.#record.deadline = deadline.getTime()
    mark(this.#record, 'modified')
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
    this.#record.values[REMEMBER_ME] = remember
    mark(this.#record, 'modified')
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
    return this.#record.values[REMEMBER_ME] === true
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
    return this.#record.subject
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
    if (subject === this.#record.subject) return
    this.#record.subject = subject
    this.#record.subjectChanged = true
    mark(this.#record, 'modified')
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
    const record = this.#record
    let fresh: { token: string; key: string }
    try {
      fresh = record.backend.newToken() // throws for sessions that have no request
    } catch (error) {
      return Promise.reject(error)
    }
    return restart(record, fresh, 'modified')
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
    const record = this.#record
    record.values = Object.create(null)
    record.subject = null
    record.subjectChanged = false
    return restart(record, undefined, 'destroyed')
  }
}

/**
 * renewToken()'s and destroy()'s one path: the record becomes a session not stored yet, under
 * `fresh` (a new token) or under none, with a new deadline and its change marked; the row of
 * the token it had, if stored, is deleted.
 */
function restart(
  record: SessionRecord,
  fresh: { token: string; key: string } | undefined,
  status: 'modified' | 'destroyed',
): Promise<void> {
  const old = record.stored ? record.key : undefined
  record.token = fresh?.token
  record.key = fresh?.key
  record.stored = false
  record.created = fresh !== undefined
  record.storedExpiry = undefined
  record.deadline = record.backend.now() + record.backend.lifetime
  mark(record, status)
  return old === undefined ? Promise.resolve() : deleteKey(record, old)
}

/** Sets the status of a change, and calls the {@link SessionRecord.onChange} hook the first time. */
export function mark(record: SessionRecord, status: 'modified' | 'destroyed'): void {
  record.status = status
  const onChange = record.onChange
  if (onChange !== undefined) {
    record.onChange = undefined
    onChange()
  }
}

function deleteKey(record: SessionRecord, key: string): Promise<void> {
  let deletion: Promise<void>
  try {
    deletion = record.backend.deleteKey(key)
  } catch (error) {
    deletion = Promise.reject(error)
  }
  deletion.catch(() => undefined) // handled: save() reports it
  ;(record.pending ??= []).push(deletion)
  return deletion
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
