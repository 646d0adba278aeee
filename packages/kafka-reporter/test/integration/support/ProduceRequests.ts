// Counts the produce requests the reporter sends, read off the Kafka protocol on its sockets:
// each request is framed as a 4-byte size, then its 2-byte API key (0 for Produce).
import * as net from "node:net"
import * as tls from "node:tls"
import type { SocketFactory } from "../../../src/KafkaReporter.js"

const produceApiKey = 0

export interface ProduceRequests {
  readonly socketFactory: SocketFactory
  /** Produce requests sent so far, on every connection. */
  readonly count: () => number
}

export const make = (): ProduceRequests => {
  let produced = 0
  const socketFactory: SocketFactory = ({ host, port, tls: tlsOptions, onConnect }) => {
    const socket =
      tlsOptions === undefined
        ? net.connect({ host, port }, onConnect)
        : tls.connect({ host, port, ...tlsOptions }, onConnect)
    // The client's bytes on this connection that do not yet make a whole request.
    let pending = Buffer.alloc(0)
    const write = socket.write.bind(socket) as (...args: Array<unknown>) => boolean
    socket.write = ((chunk: unknown, ...rest: Array<unknown>) => {
      if (Buffer.isBuffer(chunk)) {
        pending = Buffer.concat([pending, chunk])
        while (pending.length >= 6 && pending.length >= 4 + pending.readInt32BE(0)) {
          if (pending.readInt16BE(4) === produceApiKey) produced++
          pending = pending.subarray(4 + pending.readInt32BE(0))
        }
      }
      return write(chunk, ...rest)
    }) as typeof socket.write
    return socket
  }
  return { socketFactory, count: () => produced }
}
