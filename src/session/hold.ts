// How a SessionManager meets a request: the node:http middleware and the fetch handler, and
// the one decision they share, whether and when a response waits for its session to be
// saved. SessionManager's middleware(), get() and handler() are these functions.
import { STATUS_CODES, type IncomingMessage, type ServerResponse } from 'node:http'
import { recordOf, type Session } from './session.js'
import { isPromiseLike } from '../store/store.js'

/**
 * Response headers to add: `[name, value]` pairs, names may repeat.
 *
 * @example
 * ```ts
 * const headers: HeaderList = await sessions.save(session)
 * for (const [name, value] of headers) response.headers.append(name, value)
 * ```
 */
export type HeaderList = Array<[name: string, value: string]>

/**
 * The second argument of {@link SessionManager.load}: where the request comes from, for
 * `deviceInfo`. `middleware()` and `handler()` pass it themselves.
 *
 * @example
 * ```ts
 * import type { LoadOptions } from 'kysely-session-store'
 *
 * const device: LoadOptions = { userAgent: request.headers.get('user-agent') ?? undefined, address: '203.0.113.7' }
 * const session = await sessions.load(request.headers.get('cookie'), device)
 * ```
 */
export interface LoadOptions {
  /** The User-Agent request header. */
  readonly userAgent?: string | undefined
  /** The client's address (behind a proxy, the one the proxy reports). */
  readonly address?: string | undefined
}

/** What the functions of this file ask of a SessionManager: one object per manager. */
export interface Host<Data extends object> {
  /** Whether the manager keeps the device a session is seen from (`deviceInfo`). */
  readonly deviceInfo: boolean
  /**
   * The request's session: at once when the store answered at once, else a promise of it.
   * Throws (rather than rejects) what fails before the store is asked.
   */
  open(
    cookieHeader: string | null | undefined,
    device?: LoadOptions,
  ): Session<Data> | PromiseLike<Session<Data>>
  /** Whether saving would do anything: decided without waiting. */
  needsSave(session: Session<Data>): boolean
  /**
   * Saves the session: its headers at once when the store answered at once, else a promise of
   * them. Throws (rather than rejects) what fails at once.
   */
  save(session: Session<Data>): HeaderList | PromiseLike<HeaderList>
  report(error: unknown): void
}

/** The body of the 500 a failed load or save answers with, in both shapes. */
const FAILED_BODY = 'Internal Server Error'
/**
 * Where middleware() keeps a request's session for {@link sessionOf}. Not a property of the
 * request: Express gives every request and response an object shape of its own (it sets their
 * prototypes), so each property added to one makes a new hidden class, several microseconds
 * each; `req.session` is the one it gets.
 */
const SESSIONS = new WeakMap<object, Session<object>>()

/** SessionManager.middleware(): see its TSDoc. */
export function middleware<Data extends object>(
  host: Host<Data>,
): (req: IncomingMessage, res: ServerResponse, next: (error?: unknown) => void) => void {
  return (req, res, next) => {
    let opened: Session<Data> | PromiseLike<Session<Data>>
    try {
      opened = host.deviceInfo
        ? host.open(req.headers.cookie, { userAgent: req.headers['user-agent'], address: addressOf(req) })
        : host.open(req.headers.cookie)
    } catch (error) {
      call(host, next, error)
      return
    }
    if (!isPromiseLike(opened)) {
      // The store answered at once (or there was no cookie to look up): no promise at all.
      begin(req, res, next, host, opened)
      return
    }
    opened.then(
      (session) => begin(req, res, next, host, session),
      (error: unknown) => call(host, next, error),
    ) // both handlers catch everything: the chain cannot reject
  }
}

/** Gives `req` its session, holds `res` when the session needs it, and calls next. */
function begin<Data extends object>(
  req: IncomingMessage,
  res: ServerResponse,
  next: (error?: unknown) => void,
  host: Host<Data>,
  session: Session<Data>,
): void {
  SESSIONS.set(req, session as unknown as Session<object>)
  ;(req as IncomingMessage & { session: Session<Data> }).session = session
  holdWhenChanged(res, session, host)
  call(host, next)
}

/** SessionManager.get(req): the session middleware() loaded for `req`. */
export function sessionOf<Data extends object>(req: object): Session<Data> {
  // WeakMap.get answers undefined for a key that is not an object, as for an unknown one.
  const session = SESSIONS.get(req) as Session<Data> | undefined
  if (session === undefined) {
    throw new TypeError('req has no session: is sessions.middleware() installed before this handler?')
  }
  return session
}

/** SessionManager.handler(fn): see its TSDoc. */
export function handler<Data extends object>(
  host: Host<Data>,
  fn: (request: Request, session: Session<Data>) => Response | Promise<Response>,
): (request: Request) => Promise<Response> {
  if (typeof fn !== 'function') throw new TypeError('handler(fn): fn must be a function')
  return async (request) => {
    let session: Session<Data>
    try {
      session = host.deviceInfo
        ? await host.open(request.headers.get('cookie'), {
            userAgent: request.headers.get('user-agent') ?? undefined,
          })
        : await host.open(request.headers.get('cookie'))
    } catch (error) {
      return failed(host, error)
    }
    const response = await fn(request, session)
    if (!host.needsSave(session)) return response
    let headers: HeaderList
    try {
      headers = await host.save(session)
    } catch (error) {
      await response.body?.cancel().catch(() => undefined)
      return failed(host, error)
    }
    if (headers.length === 0) return response
    const out = new Response(response.body, response)
    for (const [name, value] of headers) out.headers.append(name, value)
    return out
  }
}

function failed<Data extends object>(host: Host<Data>, error: unknown): Response {
  host.report(error)
  return new Response(FAILED_BODY, { status: 500, headers: { 'Content-Type': 'text/plain' } })
}

function call<Data extends object>(host: Host<Data>, next: (error?: unknown) => void, error?: unknown): void {
  try {
    if (error === undefined) next()
    else next(error)
  } catch (thrown) {
    host.report(thrown)
  }
}

/** The client address of a node:http request: Express's `req.ip` (which honours `trust proxy`) when set. */
function addressOf(req: IncomingMessage): string | undefined {
  const ip = (req as { ip?: unknown }).ip
  return typeof ip === 'string' ? ip : req.socket?.remoteAddress
}

/**
 * Holds `res` until `session` is saved, from the moment it has something to save: at once
 * when a touch is due, else at its first change, unless the headers have gone out by then.
 * A response whose session never changes (the usual read) is left untouched: holding adds
 * four properties to the ServerResponse, each a new hidden class (every ServerResponse has
 * its own), several microseconds of CPU each in an Express app.
 */
function holdWhenChanged<Data extends object>(
  res: ServerResponse,
  session: Session<Data>,
  host: Host<Data>,
): void {
  let due = true // when the check itself fails (a `now` that throws), save() reports it
  try {
    due = host.needsSave(session)
  } catch {
    // due stays true
  }
  if (due) return hold(res, session, host)
  recordOf(session).onChange = () => {
    if (!res.headersSent) hold(res, session, host)
  }
}

type Method = 'writeHead' | 'write' | 'end' | 'flushHeaders'
type Original = (...args: unknown[]) => unknown

/**
 * One response's hold: the session, and the methods it replaced. One object per response.
 * The shared functions below see every hold as `HoldState<object>`: a hold's session and
 * host always share one `Data`, so that is safe.
 */
interface HoldState<Data extends object = object> {
  readonly session: Session<Data>
  readonly host: Host<Data>
  readonly writeHead: Original
  readonly write: Original
  readonly end: Original
  readonly flushHeaders: Original
  /** The calls held back while the session is being saved; undefined until then. */
  calls: Array<[Method, IArguments]> | undefined
  /** Set once the first call found nothing to save: every call goes straight through. */
  passing: boolean
}

/** Each held response's state: kept beside it rather than in a property of it (see SESSIONS). */
const HOLDS = new WeakMap<object, HoldState>()
/** A response as hold() sees it: methods it may replace. */
type Held = Record<Method, Original>

/**
 * Holds back a response's first header-sending call (writeHead, write, end, flushHeaders)
 * until the session is saved, then adds its headers and replays every held call in order:
 * the session is saved before the headers go out, as SCS does at the first write. When the
 * session has nothing to save (the usual read), the first call goes straight through with
 * no promise and no waiting. When the save rejects, the held calls and the handler's
 * headers are dropped and the response becomes a complete 500 of its own.
 *
 * It costs one state object (kept in a WeakMap) and four property writes per response (each
 * a new hidden class: every ServerResponse has one of its own), so {@link holdWhenChanged} calls it only once the
 * session has something to save. The replacement methods are shared functions, not closures
 * made per response.
 */
function hold<Data extends object>(res: ServerResponse, session: Session<Data>, host: Host<Data>): void {
  const held = res as unknown as Held
  const state: HoldState<Data> = {
    session,
    host,
    writeHead: held.writeHead,
    write: held.write,
    end: held.end,
    flushHeaders: held.flushHeaders,
    calls: undefined,
    passing: false,
  }
  HOLDS.set(held, state as unknown as HoldState)
  held.writeHead = heldWriteHead
  held.write = heldWrite
  held.end = heldEnd
  held.flushHeaders = heldFlushHeaders
}

function heldWriteHead(this: Held): unknown {
  return intercept(this, 'writeHead', arguments)
}

function heldWrite(this: Held): unknown {
  return intercept(this, 'write', arguments)
}

function heldEnd(this: Held): unknown {
  return intercept(this, 'end', arguments)
}

function heldFlushHeaders(this: Held): unknown {
  return intercept(this, 'flushHeaders', arguments)
}

function intercept(res: Held, method: Method, args: IArguments): unknown {
  const state = HOLDS.get(res)!
  if (state.passing) return state[method].apply(res, args as unknown as unknown[])
  if (state.calls === undefined) {
    let needed = true // when the check itself fails, save() reports it
    try {
      needed = state.host.needsSave(state.session)
    } catch {
      // needed stays true
    }
    if (!needed) {
      // Nothing to save after all. The replacements stay (putting the methods back costs
      // four more property writes) and pass every call through.
      state.passing = true
      return state[method].apply(res, args as unknown as unknown[])
    }
    let saving: HeaderList | PromiseLike<HeaderList>
    try {
      saving = state.host.save(state.session)
    } catch (error) {
      saving = Promise.reject(error) // answered as a rejection is: the 500 after this call is held
    }
    if (!isPromiseLike(saving)) {
      // Saved at once (sqlite()): the headers go on, and this call goes straight through.
      state.passing = true
      if (addHeaders(res as unknown as ServerResponse, state, saving)) {
        return state[method].apply(res, args as unknown as unknown[])
      }
      return heldResult(res, method) // dropped, as replay() drops the held calls then
    }
    state.calls = []
    saving.then(
      (headers) => replay(res, state, headers),
      (error: unknown) => fail(res, state, error),
    )
  }
  state.calls.push([method, args])
  return heldResult(res, method)
}

/** What a held call answers: what the call itself would (write: true, flushHeaders: nothing, else res). */
function heldResult(res: Held, method: Method): unknown {
  return method === 'write' ? true : method === 'flushHeaders' ? undefined : res
}

function restore(res: Held, state: HoldState): void {
  res.writeHead = state.writeHead
  res.write = state.write
  res.end = state.end
  res.flushHeaders = state.flushHeaders
}

function replay(held: Held, state: HoldState, headers: HeaderList): void {
  // The replacements stay and pass every call through from now on: putting the methods back
  // would cost four more property writes, and would undo a replacement made after ours.
  state.passing = true
  const res = held as unknown as ServerResponse
  if (!addHeaders(res, state, headers)) return
  try {
    for (const [method, args] of state.calls!) state[method].apply(res, args as unknown as unknown[])
  } catch (error) {
    state.host.report(error) // a replayed write that throws must not become an unhandled rejection
  }
}

/** Adds the session's headers unless the head went out already; false (reported) when that threw. */
function addHeaders(res: ServerResponse, state: HoldState, headers: HeaderList): boolean {
  try {
    if (!res.headersSent) for (const [name, value] of headers) res.appendHeader(name, value)
    return true
  } catch (error) {
    state.host.report(error)
    return false
  }
}

/**
 * Answers 500 instead of the held response. Every header the handler set goes: they describe
 * its body (Content-Length, ETag, Content-Encoding...), and a 500 sent with the handler's
 * Content-Length and another body leaves the client waiting for bytes that never come, or
 * garbles the next response on the connection. The held calls (and their headers, when they
 * are writeHead's) are dropped. A response whose head went out some other way cannot become
 * a 500: it is cut off, so that the client sees an error instead of waiting.
 */
function fail(held: Held, state: HoldState, error: unknown): void {
  restore(held, state)
  const res = held as unknown as ServerResponse
  state.host.report(error)
  if (res.headersSent) {
    res.destroy()
    return
  }
  for (const name of res.getHeaderNames()) res.removeHeader(name)
  res.writeHead(500, STATUS_CODES[500], {
    'Content-Type': 'text/plain; charset=utf-8',
    'Content-Length': Buffer.byteLength(FAILED_BODY),
    'Cache-Control': 'no-store',
  })
  res.end(FAILED_BODY)
}
