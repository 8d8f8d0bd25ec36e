import { STATUS_CODES, type ServerResponse } from 'node:http'
import type { Session } from './session.js'

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

/** What {@link hold} asks of the manager. */
export interface Saver {
  /** Whether saving would do anything: decided without waiting. */
  needsSave(session: Session): boolean
  save(session: Session): Promise<HeaderList>
  report(error: unknown): void
}

type Method = 'writeHead' | 'write' | 'end' | 'flushHeaders'
type Original = (...args: unknown[]) => unknown

/** One response's hold: the session, and the methods it replaced. One object per response. */
interface HoldState {
  readonly session: Session
  readonly saver: Saver
  readonly writeHead: Original
  readonly write: Original
  readonly end: Original
  readonly flushHeaders: Original
  /** The calls held back while the session is being saved; undefined until then. */
  calls: Array<[Method, IArguments]> | undefined
  /** Set once the first call found nothing to save: every call goes straight through. */
  passing: boolean
}

const STATE = Symbol('kysely-session-store.hold')
/** A response as hold() sees it: methods it may replace, and its state. */
type Held = { [STATE]: HoldState } & Record<Method, Original>

/**
 * Holds back a response's first header-sending call (writeHead, write, end, flushHeaders)
 * until the session is saved, then adds its headers and replays every held call in order:
 * the session is saved before the headers go out, as SCS does at the first write. When the
 * session has nothing to save (the usual read), the first call goes straight through with
 * no promise and no waiting. When the save rejects, the held calls and the handler's
 * headers are dropped and the response becomes a complete 500 of its own.
 *
 * It costs one state object and five property writes per response (each a new hidden class:
 * every ServerResponse has one of its own), so SessionManager.middleware() calls it only once
 * the session has something to save. The replacement methods are shared functions, not
 * closures made per response.
 */
export function hold(res: ServerResponse, session: Session, saver: Saver): void {
  const held = res as unknown as Held
  held[STATE] = {
    session,
    saver,
    writeHead: held.writeHead,
    write: held.write,
    end: held.end,
    flushHeaders: held.flushHeaders,
    calls: undefined,
    passing: false,
  }
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
  const state = res[STATE]
  if (state.passing) return state[method].apply(res, args as unknown as unknown[])
  if (state.calls === undefined) {
    let needed = true // when the check itself fails, save() reports it
    try {
      needed = state.saver.needsSave(state.session)
    } catch {
      // needed stays true
    }
    if (!needed) {
      // Nothing to save after all. The replacements stay (putting the methods back costs
      // four more property writes) and pass every call through.
      state.passing = true
      return state[method].apply(res, args as unknown as unknown[])
    }
    state.calls = []
    state.saver.save(state.session).then(
      (headers) => replay(res, state, headers),
      (error: unknown) => fail(res, state, error),
    )
  }
  state.calls.push([method, args])
  return method === 'write' ? true : method === 'flushHeaders' ? undefined : res
}

function restore(res: Held, state: HoldState): void {
  res.writeHead = state.writeHead
  res.write = state.write
  res.end = state.end
  res.flushHeaders = state.flushHeaders
}

function replay(held: Held, state: HoldState, headers: HeaderList): void {
  restore(held, state)
  const res = held as unknown as ServerResponse
  try {
    if (!res.headersSent) for (const [name, value] of headers) res.appendHeader(name, value)
    for (const [method, args] of state.calls!) state[method].apply(res, args as unknown as unknown[])
  } catch (error) {
    state.saver.report(error) // a replayed write that throws must not become an unhandled rejection
  }
}

const FAILED_BODY = 'Internal Server Error'

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
  state.saver.report(error)
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
