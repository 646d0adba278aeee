// A network between the reporter and the real broker that a test can cut: `refused` answers
// every new connection with a TCP reset (broker down), `dropped` accepts connections and
// swallows every byte both ways (packets dropped: a firewall, a dead host). Plugged in through
// the reporter's socket factory, so it also covers the connections to the advertised broker address.
import * as net from "node:net"
import * as tls from "node:tls"
import type { SocketFactory } from "../../../src/KafkaReporter.js"

export type Mode = "up" | "refused" | "dropped"

export interface FaultyNetwork {
  readonly socketFactory: SocketFactory
  readonly setMode: (mode: Mode) => void
  readonly close: () => Promise<void>
}

const listen = (server: net.Server): Promise<number> =>
  new Promise((resolve) =>
    server.listen(0, "127.0.0.1", () => resolve((server.address() as net.AddressInfo).port))
  )

/** Starts the black hole and the refusing port it needs; close it at the end of the test. */
export const make = async (): Promise<FaultyNetwork> => {
  let mode: Mode = "up"
  const live = new Set<net.Socket>()
  const held = new Set<net.Socket>()
  // A port that accepts and never answers: the far side of dropped packets.
  const blackHole = net.createServer((socket) => {
    held.add(socket)
    socket.on("close", () => held.delete(socket))
    socket.on("error", () => socket.destroy())
    socket.pause()
  })
  const blackHolePort = await listen(blackHole)
  // A port bound then closed: connecting to it is refused by the kernel.
  const closed = net.createServer()
  const refusedPort = await listen(closed)
  await new Promise<void>((resolve) => closed.close(() => resolve()))

  const socketFactory: SocketFactory = ({ host, port, tls: tlsOptions, onConnect }) => {
    const target =
      mode === "up"
        ? { host, port }
        : mode === "refused"
          ? { host: "127.0.0.1", port: refusedPort }
          : { host: "127.0.0.1", port: blackHolePort }
    const socket =
      tlsOptions === undefined
        ? net.connect(target, onConnect)
        : tls.connect({ ...target, ...tlsOptions }, onConnect)
    live.add(socket)
    socket.on("close", () => live.delete(socket))
    return socket
  }

  const setMode = (next: Mode) => {
    mode = next
    if (next === "refused") {
      for (const socket of live) socket.resetAndDestroy()
    } else if (next === "dropped") {
      // Established connections go silent: nothing more comes back from the broker.
      for (const socket of live) socket.pause()
    } else {
      for (const socket of held) socket.destroy()
      for (const socket of live) if (socket.isPaused()) socket.destroy()
    }
  }

  const close = async () => {
    for (const socket of [...live, ...held]) socket.destroy()
    await new Promise<void>((resolve) => blackHole.close(() => resolve()))
  }

  return { socketFactory, setMode, close }
}
