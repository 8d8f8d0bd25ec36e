import type { ServerResponse } from 'node:http'
import type { HeaderList } from './manager.js'

type Method = 'writeHead' | 'write' | 'end' | 'flushHeaders'
const METHODS: Method[] = ['writeHead', 'write', 'end', 'flushHeaders']

/**
 * Holds back a response's first header-sending call (writeHead, write, end, flushHeaders)
 * until `save` resolves, then adds its headers and replays every held call in order: the
 * session is saved before the headers go out, as SCS does at the first write. When `save`
 * rejects, the held calls are dropped and the response becomes a 500.
 */
export function hold(
  res: ServerResponse,
  save: () => Promise<HeaderList>,
  onError: (error: unknown) => void,
): void {
  const originals = new Map<Method, (...args: unknown[]) => unknown>()
  const held: Array<[Method, unknown[]]> = []
  const restore = () => {
    for (const [method, original] of originals) (res as unknown as Record<Method, unknown>)[method] = original
  }
  const start = () => {
    save().then(
      (headers) => {
        restore()
        try {
          if (!res.headersSent) for (const [name, value] of headers) res.appendHeader(name, value)
          for (const [method, args] of held) originals.get(method)!.apply(res, args)
        } catch (error) {
          onError(error) // a replayed write that throws must not become an unhandled rejection
        }
      },
      (error: unknown) => {
        restore()
        onError(error)
        if (!res.headersSent) {
          res.statusCode = 500
          res.setHeader('Content-Type', 'text/plain')
          res.end('Internal Server Error')
        }
      },
    )
  }
  for (const method of METHODS) {
    const original = res[method] as (...args: unknown[]) => unknown
    originals.set(method, original)
    ;(res as unknown as Record<Method, unknown>)[method] = (...args: unknown[]) => {
      if (held.length === 0) start()
      held.push([method, args])
      return method === 'write' ? true : method === 'flushHeaders' ? undefined : res
    }
  }
}
