/**
 * A TCP proxy on node:net that can be frozen or cut. Frozen, it is a network black hole on
 * loopback: it keeps every socket open and accepts new ones, but drops the bytes of both
 * directions — no RST, no FIN, so only keepalives and deadlines can tell the peers that nothing
 * gets through. Cut, it is a link that is down and says so: every open socket is reset in both
 * directions and new connections are reset as soon as they are accepted, so the client sees
 * resets and refusals at once; restored, it forwards new connections again.
 */
import * as net from "node:net"

/** A running proxy. */
export interface Proxy {
  /** The port it listens on (127.0.0.1). */
  readonly port: number
  /** Stops forwarding in both directions; sockets stay open. */
  readonly freeze: () => void
  /** Resets every open socket (both sides) and every new connection until {@link restore}. */
  readonly cut: () => void
  /** Ends a cut: new connections are forwarded again. */
  readonly restore: () => void
  /** Closes the listener and every socket. */
  readonly close: () => Promise<void>
}

// An RST rather than a FIN: the peer learns at once that the connection is gone.
const reset = (s: net.Socket) => {
  try {
    s.resetAndDestroy()
  } catch {
    s.destroy()
  }
}

/** Listens on a free port of 127.0.0.1 and forwards each connection to `target`. */
export const start = (target: { readonly host: string; readonly port: number }): Promise<Proxy> =>
  new Promise((resolve, reject) => {
    let frozen = false
    let down = false
    const sockets = new Set<net.Socket>()
    const track = (s: net.Socket) => {
      sockets.add(s)
      s.on("close", () => sockets.delete(s))
      s.on("error", () => s.destroy())
    }
    // Bytes are still read (so no back-pressure reaches the peers' kernels) but dropped when frozen.
    const pipe = (from: net.Socket, to: net.Socket) => {
      from.on("data", (chunk: Buffer) => {
        if (!frozen) to.write(chunk)
      })
      from.on("end", () => {
        if (!frozen) to.end()
      })
    }
    const server = net.createServer((client) => {
      if (down) {
        client.on("error", () => client.destroy())
        reset(client)
        return
      }
      track(client)
      const upstream = net.connect(target.port, target.host)
      track(upstream)
      pipe(client, upstream)
      pipe(upstream, client)
      upstream.on("close", () => {
        if (!frozen) client.destroy()
      })
      client.on("close", () => {
        if (!frozen) upstream.destroy()
      })
    })
    server.once("error", reject)
    server.listen(0, "127.0.0.1", () => {
      const address = server.address()
      if (address === null || typeof address === "string") {
        reject(new Error("proxy has no TCP address"))
        return
      }
      resolve({
        port: address.port,
        freeze: () => {
          frozen = true
        },
        cut: () => {
          down = true
          for (const s of [...sockets]) reset(s)
        },
        restore: () => {
          down = false
        },
        close: () =>
          new Promise<void>((done) => {
            for (const s of sockets) s.destroy()
            server.close(() => done())
          })
      })
    })
  })
