// The store's diagnostics_channel events as OpenTelemetry spans and metrics, and a log line
// for slow calls. Call instrumentSessionStore() once at startup, after your OpenTelemetry SDK
// is set up; it returns a function that stops it. (README: "Watching the store".)
import { tracingChannel } from 'node:diagnostics_channel'
import { metrics, SpanStatusCode, trace, type Span } from '@opentelemetry/api'
import type { StoreCall } from 'kysely-session-store'

export function instrumentSessionStore({ slowMs = 100 } = {}): () => void {
  const tracer = trace.getTracer('kysely-session-store')
  const calls = metrics.getMeter('kysely-session-store').createHistogram('session_store.call.duration', {
    unit: 'ms',
    description: 'Duration of session store calls, retries included',
  })
  const spans = new WeakMap<StoreCall, Span>()
  const handlers = {
    start(call: StoreCall) {
      spans.set(
        call,
        tracer.startSpan(`session_store.${call.operation}`, {
          attributes: { 'db.system.name': call.family, 'db.collection.name': call.table },
        }),
      )
    },
    end() {},
    asyncStart() {},
    error(call: StoreCall) {
      spans.get(call)?.setStatus({ code: SpanStatusCode.ERROR, message: (call.error as Error).message })
    },
    asyncEnd(call: StoreCall) {
      const span = spans.get(call)
      span?.setAttributes({
        'session_store.rows': call.rows ?? 0,
        'session_store.attempts': call.attempts ?? 1,
      })
      span?.end()
      const outcome = call.error === undefined ? 'ok' : 'error'
      calls.record(call.duration ?? 0, { operation: call.operation, 'db.system.name': call.family, outcome })
      if ((call.duration ?? 0) > slowMs) {
        console.warn(
          `slow session store call: ${call.operation} on ${call.table} took ${Math.round(call.duration!)} ms`,
        )
      }
    },
  }
  const channel = tracingChannel<object, StoreCall>('kysely-session-store:call')
  channel.subscribe(handlers)
  return () => channel.unsubscribe(handlers)
}
