// Two misbehaving endpoints, in this process: a TCP server that accepts connections and never
// says a word (a host behind a dead load balancer, a firewall that swallows packets after the
// handshake), and a TCP proxy to a real server that can freeze (forward nothing more, close
// nothing) once connections are open, as a server hung in I/O or a network partition would.
import { createServer, connect, type Server, type Socket } from 'node:net'
import { requireFreePorts } from './common.js'

export interface SilentServer {
  readonly port: number
  /** Connections accepted so far. */
  readonly accepted: number
  stop(): Promise<void>
}

export async function startSilentServer(port: number): Promise<SilentServer> {
  await requireFreePorts(port)
  const sockets = new Set<Socket>()
  let accepted = 0
  const server: Server = createServer((socket) => {
    accepted++
    sockets.add(socket)
    socket.on('error', () => undefined)
    socket.on('close', () => sockets.delete(socket))
    // Read and drop whatever the client sends; never answer.
    socket.resume()
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(port, '127.0.0.1', resolve)
  })
  return {
    port,
    get accepted() {
      return accepted
    },
    async stop() {
      for (const socket of sockets) socket.destroy()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    },
  }
}

export interface FreezingProxy {
  readonly port: number
  /** From now on nothing is forwarded either way and nothing is closed; new connections hang too. */
  freeze(): void
  stop(): Promise<void>
}

/** A TCP proxy from `port` to 127.0.0.1:`target` that can {@link FreezingProxy.freeze}. */
export async function startFreezingProxy(port: number, target: number): Promise<FreezingProxy> {
  await requireFreePorts(port)
  const sockets = new Set<Socket>()
  let frozen = false
  const track = (socket: Socket) => {
    sockets.add(socket)
    socket.on('error', () => undefined)
    socket.on('close', () => sockets.delete(socket))
  }
  const server = createServer((client) => {
    track(client)
    if (frozen) return client.pause()
    const upstream = connect({ host: '127.0.0.1', port: target })
    track(upstream)
    const forward = (from: Socket, to: Socket) => {
      from.on('data', (chunk) => {
        if (!frozen) to.write(chunk)
      })
      from.on('end', () => {
        if (!frozen) to.end()
      })
      from.on('close', () => {
        if (!frozen) to.destroy()
      })
    }
    forward(client, upstream)
    forward(upstream, client)
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(port, '127.0.0.1', resolve)
  })
  return {
    port,
    freeze() {
      frozen = true
    },
    async stop() {
      for (const socket of sockets) socket.destroy()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    },
  }
}
