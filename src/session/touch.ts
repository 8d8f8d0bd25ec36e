// Touch throttling: when moving a session's expiry is worth a write. SessionManager (its
// `touchAfter`, in ms) and the express-session and Fastify adapter (its `touchAfter`, in
// seconds) both ask here.

/** Without a `touchAfter` of its own, a touch writes once the stored expiry lags by a tenth of the lifetime. */
export function defaultTouchAfter(lifetime: number): number {
  return lifetime / 10
}

/**
 * Whether moving a session's expiry from `stored` to `next` (ms since the epoch) is worth a
 * write: when that moves it by more than `touchAfter` ms (SessionManager's rule), or with
 * `'at least'` by `touchAfter` ms or more (the adapters' rule, connect-mongo's: there a
 * `touchAfter` of 0 writes on every touch, even one that does not move the expiry).
 */
export function touchDue(stored: number, next: number, touchAfter: number, rule?: 'at least'): boolean {
  const lag = next - stored
  return rule === 'at least' ? lag >= touchAfter : lag > touchAfter
}
