import { create } from "@bufbuild/protobuf"
import { Effect } from "effect"
import * as http2 from "node:http2"
import * as net from "node:net"
import type { AddressInfo } from "node:net"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { ConfigRequestSchema, SparkConnectService } from "../src/generated/spark/connect/base_pb.js"
import * as Classify from "../src/internal/Classify.js"
import * as Connection from "../src/internal/Connection.js"
import * as Rpc from "../src/internal/Rpc.js"

const failure = (code: number, details: string): Rpc.RpcFailure => ({
  code,
  details,
  statusDetails: undefined
})

describe("Rpc.deadlineOrCancel", () => {
  const cancelled = failure(Rpc.Status.CANCELLED, "the server cancelled the call (RST_STREAM CANCEL)")
  const call = { cancelledHere: false, deadline: 10_000, timeoutMs: 1500 }

  it("reads a CANCELLED this client did not cause, at its deadline, as the deadline (the server's timer won the race)", () => {
    const f = Rpc.deadlineOrCancel(cancelled, call, 10_000)
    expect(f.code).toBe(Rpc.Status.DEADLINE_EXCEEDED)
    expect(f.details).toBe(
      "deadline of 1500 ms exceeded (the server ended the call: the server cancelled the call (RST_STREAM CANCEL))"
    )
    expect(Classify.classify(f)).toMatchObject({ _tag: "SparkDeadlineExceeded" })
  })

  it("keeps CANCELLED when this client cancelled, or long before the deadline", () => {
    expect(Rpc.deadlineOrCancel(cancelled, { ...call, cancelledHere: true }, 10_000).code).toBe(
      Rpc.Status.CANCELLED
    )
    expect(Rpc.deadlineOrCancel(cancelled, call, 5_000).code).toBe(Rpc.Status.CANCELLED)
  })

  it("leaves every other status as it is", () => {
    const unavailable = failure(Rpc.Status.UNAVAILABLE, "gone")
    expect(Rpc.deadlineOrCancel(unavailable, call, 20_000)).toBe(unavailable)
  })
})

const framed = (...messages: ReadonlyArray<Uint8Array>): Buffer =>
  Buffer.concat(
    messages.flatMap((m) => {
      const prefix = Buffer.alloc(5)
      prefix.writeUInt32BE(m.length, 1)
      return [prefix, m]
    })
  )

const readAll = (chunks: ReadonlyArray<Uint8Array>) => {
  const messages: Array<Uint8Array> = []
  const failures: Array<Rpc.RpcFailure> = []
  const reader = Rpc.messageReader(
    (m) => messages.push(m),
    (f) => failures.push(f)
  )
  for (const c of chunks) reader.read(c)
  return { messages, failures, unfinished: reader.unfinished() }
}

describe("Rpc.messageReader", () => {
  const a = Buffer.from("first message")
  const b = Buffer.alloc(70_000, 7)
  const empty = Buffer.alloc(0)
  const body = framed(a, empty, b)

  it("reads messages whole from one chunk, as views of it", () => {
    const { messages, failures } = readAll([body])
    expect(failures).toEqual([])
    expect(messages.map((m) => Buffer.from(m))).toEqual([a, empty, b])
    expect(messages[0]?.buffer).toBe(body.buffer)
  })

  it("reads messages split anywhere, down to one byte a chunk, prefixes included", () => {
    for (const size of [1, 2, 3, 5, 6, 4096, 16_384]) {
      const chunks: Array<Uint8Array> = []
      for (let i = 0; i < body.length; i += size) chunks.push(body.subarray(i, i + size))
      const { messages, failures } = readAll(chunks)
      expect(failures).toEqual([])
      expect(
        messages.map((m) => Buffer.from(m)),
        `chunks of ${size}`
      ).toEqual([a, empty, b])
    }
  })

  it("says what a body ended inside of: a message's prefix or its bytes", () => {
    expect(readAll([body]).unfinished).toBeUndefined()
    expect(readAll([body.subarray(0, 3)]).unfinished).toBe("a message's 5-byte prefix, 3 of them received")
    expect(readAll([body.subarray(0, body.length - 1)])).toMatchObject({
      messages: [a, empty],
      unfinished: "a message of 70000 bytes, 69999 of them received"
    })
  })

  it("refuses a compressed message and an oversized one, once, reading nothing after", () => {
    const compressed = framed(a)
    compressed[0] = 1
    expect(readAll([compressed, framed(a)])).toMatchObject({
      messages: [],
      failures: [{ code: Rpc.Status.INTERNAL, details: expect.stringContaining("compressed") }]
    })
    const huge = Buffer.alloc(5)
    huge.writeUInt32BE(0xffff_ffff, 1)
    expect(readAll([huge])).toMatchObject({
      messages: [],
      failures: [
        { code: Rpc.Status.RESOURCE_EXHAUSTED, details: expect.stringContaining("4294967295 bytes") }
      ]
    })
  })
})

describe("Rpc.statusOf, httpFailure, resetFailure", () => {
  it("reads grpc-status, the percent-encoded grpc-message and the base64 details (unpadded too)", () => {
    expect(Rpc.statusOf({ "grpc-status": "0" })).toBe("ok")
    expect(Rpc.statusOf({})).toBeUndefined()
    expect(
      Rpc.statusOf({
        "grpc-status": "13",
        "grpc-message": "caf%C3%A9%3A bad%0Aline",
        "grpc-status-details-bin": Buffer.from([1, 2, 3, 4]).toString("base64").replace(/=+$/, "")
      })
    ).toEqual({ code: 13, details: "café: bad\nline", statusDetails: Buffer.from([1, 2, 3, 4]) })
    expect(Rpc.statusOf({ "grpc-status": "2", "grpc-message": "100%" })).toMatchObject({ details: "100%" })
  })

  it("maps a non-gRPC HTTP answer and a stream reset as gRPC does", () => {
    expect(Rpc.httpFailure(503).code).toBe(Rpc.Status.UNAVAILABLE)
    expect(Rpc.httpFailure(401).code).toBe(Rpc.Status.UNAUTHENTICATED)
    expect(Rpc.httpFailure(404).code).toBe(Rpc.Status.UNIMPLEMENTED)
    expect(Rpc.httpFailure(500)).toMatchObject({
      code: Rpc.Status.UNKNOWN,
      details: expect.stringContaining("500")
    })
    expect(Rpc.resetFailure(http2.constants.NGHTTP2_REFUSED_STREAM).code).toBe(Rpc.Status.UNAVAILABLE)
    expect(Rpc.resetFailure(http2.constants.NGHTTP2_CANCEL).code).toBe(Rpc.Status.CANCELLED)
    expect(Rpc.resetFailure(http2.constants.NGHTTP2_INTERNAL_ERROR)).toMatchObject({
      code: Rpc.Status.INTERNAL,
      details: "the stream ended without a status (RST_STREAM code 2)"
    })
  })
})

// A real HTTP/2 server (Node's own) that answers the way a test asks, to see the calls' ends
// that a Spark server makes rarely or never on purpose.
describe("Rpc calls against an HTTP/2 server", () => {
  type Behaviour = (stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders) => void
  let behave: Behaviour = () => {}
  let server: http2.Http2Server
  let address = ""
  beforeAll(async () => {
    server = http2.createServer()
    server.on("stream", (stream, headers) => {
      stream.on("error", () => {})
      behave(stream, headers)
    })
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
    address = `127.0.0.1:${(server.address() as AddressInfo).port}`
  })
  afterAll(async () => {
    await new Promise<void>((resolve) => server.close(() => resolve()))
  })

  // A Config call's failure (it must fail), on a connection of its own to `to`, closed after.
  const failedCall = (
    to = address,
    o: { readonly timeoutMs?: number; readonly connection?: Partial<Connection.Options> } = {}
  ) =>
    Effect.runPromise(
      Effect.acquireUseRelease(
        Effect.sync(() => Connection.make({ address: to, useSsl: false, ...o.connection })),
        (c) =>
          Effect.flip(
            Rpc.unary(c, SparkConnectService.method.config, create(ConfigRequestSchema, { sessionId: "s" }), {
              metadata: { "x-test": "1" },
              timeoutMs: o.timeoutMs ?? 5_000
            })
          ),
        (c) => Effect.sync(() => c.close())
      )
    )

  // A TCP relay to the server: it can go silent both ways (a black hole: nothing closed) or cut
  // every connection at once (a process killed: the kernel closes its sockets).
  const relay = async () => {
    let silent = false
    const sockets = new Set<net.Socket>()
    const server = net.createServer((client) => {
      const upstream = net.connect(Number(address.split(":")[1]), "127.0.0.1")
      for (const s of [client, upstream]) {
        sockets.add(s)
        s.on("error", () => {})
      }
      client.on("data", (d) => void (silent || upstream.write(d)))
      upstream.on("data", (d) => void (silent || client.write(d)))
    })
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
    const cut = () => {
      for (const s of sockets) s.destroy()
    }
    return {
      address: `127.0.0.1:${(server.address() as AddressInfo).port}`,
      silence: () => void (silent = true),
      cut,
      close: () => {
        cut()
        server.close()
      }
    }
  }

  it("sends gRPC's headers and the metadata, and reads a trailers-only error", async () => {
    const seen: Array<http2.IncomingHttpHeaders> = []
    behave = (stream, headers) => {
      seen.push(headers)
      stream.respond(
        {
          ":status": 200,
          "content-type": "application/grpc",
          "grpc-status": "9",
          "grpc-message": "no%20way"
        },
        { endStream: true }
      )
    }
    expect(await failedCall()).toEqual({ code: 9, details: "no way", statusDetails: undefined })
    expect(seen[0]).toMatchObject({
      ":method": "POST",
      ":path": "/spark.connect.SparkConnectService/Config",
      "content-type": "application/grpc",
      te: "trailers",
      "x-test": "1",
      "grpc-timeout": expect.stringMatching(/^\d+m$/)
    })
  })

  it("a connection the server ends mid-call (GOAWAY) is UNAVAILABLE naming it, not a cancel", async () => {
    behave = (stream) => {
      stream.respond({ ":status": 200, "content-type": "application/grpc" })
      stream.write(Buffer.from([0, 0, 0, 0, 9, 1]), () => stream.session?.destroy())
    }
    expect(await failedCall()).toEqual({
      code: Rpc.Status.UNAVAILABLE,
      details: "the server closed the connection (HTTP/2 GOAWAY, code 0)",
      statusDetails: undefined
    })
  })

  it("a connection cut mid-call (the server's process gone, no GOAWAY) is UNAVAILABLE: dropped", async () => {
    const link = await relay()
    behave = (stream) => {
      stream.respond({ ":status": 200, "content-type": "application/grpc" })
      stream.write(Buffer.from([0, 0, 0, 0, 9, 1]), () => link.cut())
    }
    const f = await failedCall(link.address)
    link.close()
    expect(f).toEqual({
      code: Rpc.Status.UNAVAILABLE,
      details: "the connection to the server dropped",
      statusDetails: undefined
    })
  })

  it("an OK status after part of a message is INTERNAL: the response is not whole", async () => {
    behave = (stream) => {
      stream.respond({ ":status": 200, "content-type": "application/grpc" }, { waitForTrailers: true })
      stream.on("wantTrailers", () => stream.sendTrailers({ "grpc-status": "0" }))
      stream.end(Buffer.from([0, 0, 0, 0, 9, 1, 2]))
    }
    expect(await failedCall()).toEqual({
      code: Rpc.Status.INTERNAL,
      details: "the call ended with OK inside a message of 9 bytes, 2 of them received",
      statusDetails: undefined
    })
  })

  it("a stream the server resets is read by its reset code", async () => {
    behave = (stream) => stream.close(http2.constants.NGHTTP2_REFUSED_STREAM)
    expect(await failedCall()).toMatchObject({
      code: Rpc.Status.UNAVAILABLE,
      details: expect.stringContaining("REFUSED_STREAM")
    })
  })

  it("an HTTP answer that is not gRPC is mapped by its status, its page not read as messages", async () => {
    behave = (stream) => stream.respond({ ":status": 503 }, { endStream: true })
    expect(await failedCall()).toMatchObject({
      code: Rpc.Status.UNAVAILABLE,
      details: expect.stringContaining("503")
    })
    // A page's first byte ('<') would read as a compressed message's flag.
    const pages = [
      [502, Rpc.Status.UNAVAILABLE, "the server answered HTTP status 502, not gRPC"],
      [200, Rpc.Status.UNKNOWN, "the server answered with content-type text/html, not gRPC"]
    ] as const
    for (const [http, code, details] of pages) {
      behave = (stream) => {
        stream.respond({ ":status": http, "content-type": "text/html" })
        stream.end("<html><body>a page</body></html>")
      }
      expect(await failedCall()).toEqual({ code, details, statusDetails: undefined })
    }
  })

  it("a gRPC answer that ends without a status (no trailers) says so", async () => {
    behave = (stream) => {
      stream.respond({ ":status": 200, "content-type": "application/grpc" })
      stream.end()
    }
    expect(await failedCall()).toEqual({
      code: Rpc.Status.INTERNAL,
      details: "the server ended the response without a gRPC status (no trailers)",
      statusDetails: undefined
    })
  })

  it("a call the server never answers ends at the client's deadline: DEADLINE_EXCEEDED", async () => {
    behave = () => {}
    expect(await failedCall(address, { timeoutMs: 300 })).toMatchObject({
      code: Rpc.Status.DEADLINE_EXCEEDED,
      details: "deadline of 300 ms exceeded"
    })
  })

  it("a link that goes silent mid-call (nothing reset): the unanswered keepalive ping fails it UNAVAILABLE", async () => {
    const link = await relay()
    behave = (stream) => {
      stream.respond({ ":status": 200, "content-type": "application/grpc" })
      link.silence()
    }
    const started = Date.now()
    const f = await failedCall(link.address, {
      timeoutMs: 60_000,
      connection: { keepaliveMs: 200, keepaliveTimeoutMs: 300 }
    })
    link.close()
    expect(f).toEqual({
      code: Rpc.Status.UNAVAILABLE,
      details: "keepalive ping not answered within 300 ms",
      statusDetails: undefined
    })
    expect(Date.now() - started).toBeLessThan(30_000)
  })

  it("GRPC_DEFAULT_SSL_ROOTS_FILE_PATH naming no file: UNAVAILABLE naming the setting and the file", async () => {
    const before = process.env["GRPC_DEFAULT_SSL_ROOTS_FILE_PATH"]
    process.env["GRPC_DEFAULT_SSL_ROOTS_FILE_PATH"] = "/nonexistent/ca.pem"
    try {
      const f = await failedCall(address, { connection: { useSsl: true } })
      expect(f).toMatchObject({
        code: Rpc.Status.UNAVAILABLE,
        details: expect.stringMatching(/^GRPC_DEFAULT_SSL_ROOTS_FILE_PATH: ENOENT.*\/nonexistent\/ca\.pem/)
      })
    } finally {
      if (before === undefined) delete process.env["GRPC_DEFAULT_SSL_ROOTS_FILE_PATH"]
      else process.env["GRPC_DEFAULT_SSL_ROOTS_FILE_PATH"] = before
    }
  })

  it("a port that closes the connection without speaking HTTP/2 (a TLS port, plaintext): UNAVAILABLE saying so", async () => {
    const closing = net.createServer((socket) => socket.destroy())
    await new Promise<void>((resolve) => closing.listen(0, "127.0.0.1", resolve))
    const f = await failedCall(`127.0.0.1:${(closing.address() as AddressInfo).port}`)
    closing.close()
    expect(f).toMatchObject({
      code: Rpc.Status.UNAVAILABLE,
      details: "the connection closed before the server spoke HTTP/2 (a TLS port, without use_ssl=true?)"
    })
  })

  it("nothing listening: UNAVAILABLE naming the refused connection", async () => {
    const closed = http2.createServer()
    await new Promise<void>((resolve) => closed.listen(0, "127.0.0.1", resolve))
    const port = (closed.address() as AddressInfo).port
    await new Promise<void>((resolve) => closed.close(() => resolve()))
    const f = await failedCall(`127.0.0.1:${port}`)
    expect(f).toMatchObject({
      code: Rpc.Status.UNAVAILABLE,
      details: `connect ECONNREFUSED 127.0.0.1:${port}`
    })
  })
})
