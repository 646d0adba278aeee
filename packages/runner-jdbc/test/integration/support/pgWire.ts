/**
 * A TCP relay in front of the test's PostgreSQL that reads what the driver sends (protocol 3.0
 * frontend messages) and forwards every byte unchanged. Options that only change how the driver
 * talks — rows per fetch, rows per batch — show nowhere else: PostgreSQL keeps no count of round
 * trips, and the rows come out the same.
 *
 * - An `Execute` names a portal, bound to a parsed statement, and the most rows the driver wants
 *   back before the portal suspends: 0 for all of them, the fetch size when it reads through a
 *   cursor (each further fetch is one more `Execute` of the same portal).
 * - A `Sync` ends a pipeline: pgjdbc sends the statements of one `executeBatch` and then one
 *   `Sync` (up to a few hundred statements, past which it syncs early).
 */
import * as net from "node:net"

/** One `Execute`: the statement's text and its row limit (0: every row). */
interface Execute {
  readonly sql: string
  readonly limit: number
}

/** What the driver sent through the relay so far, over every connection, in order. */
interface Seen {
  readonly executes: ReadonlyArray<Execute>
  /** The statements executed between one `Sync` and the next, for each `Sync`. */
  readonly pipelines: ReadonlyArray<ReadonlyArray<string>>
}

export interface Relay {
  /** The port it listens on (127.0.0.1). */
  readonly port: number
  readonly seen: () => Seen
  /** Closes the listener and every connection. */
  readonly close: () => Promise<void>
}

// Before the startup message a client may ask for TLS or GSS encryption (8 bytes, no type byte);
// the test's server answers `N` to both, and the client goes on in clear text.
const encryptionRequests = new Set([80877103, 80877104])

/** Splits a client's byte stream into typed messages, however TCP cut it. */
const messages = (onMessage: (type: string, body: Buffer) => void) => {
  let pending = Buffer.alloc(0)
  let started = false
  return (chunk: Buffer) => {
    pending = Buffer.concat([pending, chunk])
    for (;;) {
      if (!started) {
        if (pending.length < 8) return
        const length = pending.readInt32BE(0)
        if (pending.length < length) return
        if (!encryptionRequests.has(pending.readInt32BE(4))) started = true
        pending = pending.subarray(length)
        continue
      }
      if (pending.length < 5) return
      const length = pending.readInt32BE(1)
      if (pending.length < 1 + length) return
      onMessage(String.fromCharCode(pending[0]!), pending.subarray(5, 1 + length))
      pending = pending.subarray(1 + length)
    }
  }
}

/** The C strings at the start of a message body. */
const strings = (body: Buffer, count: number): Array<string> => {
  const out: Array<string> = []
  let at = 0
  for (let i = 0; i < count; i++) {
    const end = body.indexOf(0, at)
    out.push(body.toString("utf8", at, end))
    at = end + 1
  }
  return out
}

/** Listens on a free port of 127.0.0.1 and relays each connection to `target`. */
export const start = (target: { readonly host: string; readonly port: number }): Promise<Relay> =>
  new Promise((resolve, reject) => {
    const executes: Array<Execute> = []
    const pipelines: Array<ReadonlyArray<string>> = []
    const sockets = new Set<net.Socket>()
    // Statement and portal names belong to one connection.
    const connection = () => {
      const statements = new Map<string, string>()
      const portals = new Map<string, string>()
      let pipeline: Array<string> = []
      return (type: string, body: Buffer) => {
        if (type === "P") {
          const [name, sql] = strings(body, 2)
          statements.set(name!, sql!)
        } else if (type === "B") {
          const [portal, statement] = strings(body, 2)
          portals.set(portal!, statements.get(statement!) ?? "")
        } else if (type === "E") {
          const [portal] = strings(body, 1)
          const sql = portals.get(portal!) ?? ""
          executes.push({ sql, limit: body.readInt32BE(Buffer.byteLength(portal!) + 1) })
          pipeline.push(sql)
        } else if (type === "S") {
          pipelines.push(pipeline)
          pipeline = []
        }
      }
    }
    const server = net.createServer((client) => {
      const upstream = net.connect(target.port, target.host)
      for (const s of [client, upstream]) {
        sockets.add(s)
        s.on("close", () => sockets.delete(s))
        s.on("error", () => {
          client.destroy()
          upstream.destroy()
        })
      }
      const read = messages(connection())
      client.on("data", (chunk: Buffer) => {
        read(chunk)
        upstream.write(chunk)
      })
      client.on("end", () => upstream.end())
      upstream.pipe(client)
    })
    server.on("error", reject)
    server.listen(0, "127.0.0.1", () => {
      const address = server.address()
      if (address === null || typeof address === "string") return reject(new Error("no TCP address"))
      resolve({
        port: address.port,
        seen: () => ({ executes: [...executes], pipelines: [...pipelines] }),
        close: () =>
          new Promise<void>((done) => {
            for (const s of sockets) s.destroy()
            server.close(() => done())
          })
      })
    })
  })
