/** express-session stores (callback API) seen as promises. */

type Callback = (error?: unknown, value?: unknown) => void

/** The part of an express-session `Store` the benchmark calls. */
export interface CallbackStore {
  get(sid: string, callback: Callback): unknown
  set(sid: string, session: unknown, callback: Callback): unknown
}

/** Calls a callback-style method; a promise it may also return is settled so it never goes unhandled. */
function call(method: (callback: Callback) => unknown): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const returned = method((error, value) => (error ? reject(error) : resolve(value)))
    if (typeof (returned as Promise<unknown> | undefined)?.then === 'function') {
      ;(returned as Promise<unknown>).then(undefined, () => undefined)
    }
  })
}

export function peerGet(store: CallbackStore, sid: string): Promise<unknown> {
  return call((callback) => store.get(sid, callback))
}

export function peerSet(store: CallbackStore, sid: string, session: unknown): Promise<unknown> {
  return call((callback) => store.set(sid, session, callback))
}
