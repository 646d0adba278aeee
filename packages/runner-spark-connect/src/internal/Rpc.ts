/**
 * gRPC over the session's HTTP/2 connection (Connection.ts): typed unary and server-streaming
 * calls, each with a deadline, as Effects and Streams. Messages are protobuf-es's; error
 * decoding lives in Classify.ts.
 */
import { fromBinary, toBinary } from "@bufbuild/protobuf"
import type {
  DescMessage,
  DescMethodServerStreaming,
  DescMethodUnary,
  MessageShape
} from "@bufbuild/protobuf"
import * as Arr from "effect/Array"
import * as Cause from "effect/Cause"
import * as Channel from "effect/Channel"
import * as Effect from "effect/Effect"
import type * as Pull from "effect/Pull"
import * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import * as http2 from "node:http2"
import type { Connection } from "./Connection.js"

/** gRPC's status codes, fixed by the protocol. */
export const Status = {
  OK: 0,
  CANCELLED: 1,
  UNKNOWN: 2,
  INVALID_ARGUMENT: 3,
  DEADLINE_EXCEEDED: 4,
  NOT_FOUND: 5,
  ALREADY_EXISTS: 6,
  PERMISSION_DENIED: 7,
  RESOURCE_EXHAUSTED: 8,
  FAILED_PRECONDITION: 9,
  ABORTED: 10,
  OUT_OF_RANGE: 11,
  UNIMPLEMENTED: 12,
  INTERNAL: 13,
  UNAVAILABLE: 14,
  DATA_LOSS: 15,
  UNAUTHENTICATED: 16
} as const

/** A failed gRPC call: the status and the server's `grpc-status-details-bin`, still undecoded. */
export interface RpcFailure {
  readonly code: number
  readonly details: string
  readonly statusDetails: Uint8Array | undefined
}

const failure = (code: number, details: string): RpcFailure => ({ code, details, statusDetails: undefined })
// How early a server may end a call at its deadline, against the client's clock: the deadline
// travels as a relative timeout, and the server's timer is its own.
const serverDeadlineSlackMs = 250

/**
 * A call this client did not cancel that ends CANCELLED at (or just before) its deadline was ended
 * by the server's deadline timer: grpc-java resets the stream (RST_STREAM CANCEL), racing the
 * client's own timer. It is the deadline.
 */
export const deadlineOrCancel = (
  failure: RpcFailure,
  call: { readonly cancelledHere: boolean; readonly deadline: number; readonly timeoutMs: number },
  now: number
): RpcFailure =>
  failure.code === Status.CANCELLED && !call.cancelledHere && now >= call.deadline - serverDeadlineSlackMs
    ? {
        ...failure,
        code: Status.DEADLINE_EXCEEDED,
        details: `deadline of ${call.timeoutMs} ms exceeded (the server ended the call: ${failure.details})`
      }
    : failure

const path = (method: { readonly name: string; readonly parent: { readonly typeName: string } }) =>
  `/${method.parent.typeName}/${method.name}`

export interface CallOptions {
  /** Sent with every call: the connection string's own parameters, the token. Lower-case names. */
  readonly metadata: Readonly<Record<string, string>>
  readonly timeoutMs: number
}

// The largest message accepted: Spark sends Arrow batches of up to 4 MiB plus framing.
const maxMessageBytes = 256 * 1024 * 1024

export interface MessageReader {
  readonly read: (chunk: Uint8Array) => void
  /** What the body ended inside of, if it did not end between messages: a truncated response. */
  readonly unfinished: () => string | undefined
}

/**
 * Splits a response body into gRPC messages (a 1-byte compressed flag and a 4-byte length before
 * each). A message inside one chunk is handed over as a view of it; one spread over chunks is
 * copied once into a buffer of its own size.
 */
export const messageReader = (
  onMessage: (bytes: Uint8Array) => void,
  onError: (failure: RpcFailure) => void
): MessageReader => {
  const prefix = new Uint8Array(5)
  let prefixRead = 0
  let body: Uint8Array | undefined
  let bodyRead = 0
  let broken = false
  const unfinished = () =>
    body !== undefined
      ? `a message of ${body.length} bytes, ${bodyRead} of them received`
      : prefixRead > 0
        ? `a message's 5-byte prefix, ${prefixRead} of them received`
        : undefined
  const read = (chunk: Uint8Array) => {
    let offset = 0
    while (!broken && offset < chunk.length) {
      if (body === undefined) {
        const take = Math.min(5 - prefixRead, chunk.length - offset)
        prefix.set(chunk.subarray(offset, offset + take), prefixRead)
        prefixRead += take
        offset += take
        if (prefixRead < 5) return
        prefixRead = 0
        const length = ((prefix[1]! << 24) >>> 0) + (prefix[2]! << 16) + (prefix[3]! << 8) + prefix[4]!
        if (prefix[0] !== 0) {
          broken = true
          return onError(
            failure(
              Status.INTERNAL,
              "the server sent a compressed message, which this client did not ask for"
            )
          )
        }
        if (length > maxMessageBytes) {
          broken = true
          return onError(
            failure(
              Status.RESOURCE_EXHAUSTED,
              `the server sent a message of ${length} bytes (at most ${maxMessageBytes})`
            )
          )
        }
        if (chunk.length - offset >= length) {
          onMessage(chunk.subarray(offset, offset + length))
          offset += length
          continue
        }
        body = Buffer.allocUnsafe(length)
        bodyRead = 0
      }
      const take = Math.min(body.length - bodyRead, chunk.length - offset)
      body.set(chunk.subarray(offset, offset + take), bodyRead)
      bodyRead += take
      offset += take
      if (bodyRead === body.length) {
        const message = body
        body = undefined
        onMessage(message)
      }
    }
  }
  return { read, unfinished }
}

// grpc-message is percent-encoded (RFC 3986 style, UTF-8).
const percentDecoded = (text: string): string => {
  try {
    return decodeURIComponent(text)
  } catch {
    return text
  }
}

const header = (headers: http2.IncomingHttpHeaders, name: string): string | undefined => {
  const value = headers[name]
  return Array.isArray(value) ? value[0] : value
}

/** The status a response's trailers (or a trailers-only response's headers) carry, if any. */
export const statusOf = (headers: http2.IncomingHttpHeaders): RpcFailure | "ok" | undefined => {
  const code = header(headers, "grpc-status")
  if (code === undefined) return undefined
  const number = Number(code)
  if (number === Status.OK) return "ok"
  const details = header(headers, "grpc-status-details-bin")
  return {
    code: Number.isInteger(number) ? number : Status.UNKNOWN,
    details: percentDecoded(header(headers, "grpc-message") ?? ""),
    statusDetails: details === undefined ? undefined : Buffer.from(details, "base64")
  }
}

/** A response that is not gRPC (a proxy's answer): its HTTP status as gRPC maps it. */
export const httpFailure = (status: number): RpcFailure => {
  const code =
    status === 400
      ? Status.INTERNAL
      : status === 401
        ? Status.UNAUTHENTICATED
        : status === 403
          ? Status.PERMISSION_DENIED
          : status === 404
            ? Status.UNIMPLEMENTED
            : status === 429 || status === 502 || status === 503 || status === 504
              ? Status.UNAVAILABLE
              : Status.UNKNOWN
  return failure(code, `the server answered HTTP status ${status}, not gRPC`)
}

/** A 200 answer of another content type than gRPC's (a proxy's or web server's page). */
const contentTypeFailure = (type: string | undefined): RpcFailure =>
  failure(Status.UNKNOWN, `the server answered with content-type ${type ?? "(none)"}, not gRPC`)

/** A stream reset without a status, by its RST_STREAM code (as gRPC maps them). */
export const resetFailure = (rstCode: number): RpcFailure =>
  rstCode === http2.constants.NGHTTP2_REFUSED_STREAM
    ? failure(Status.UNAVAILABLE, "the server refused the stream (RST_STREAM REFUSED_STREAM)")
    : rstCode === http2.constants.NGHTTP2_CANCEL
      ? failure(Status.CANCELLED, "the server cancelled the call (RST_STREAM CANCEL)")
      : rstCode === http2.constants.NGHTTP2_ENHANCE_YOUR_CALM
        ? failure(Status.RESOURCE_EXHAUSTED, "the server reset the stream (RST_STREAM ENHANCE_YOUR_CALM)")
        : rstCode === http2.constants.NGHTTP2_INADEQUATE_SECURITY
          ? failure(Status.PERMISSION_DENIED, "the server reset the stream (RST_STREAM INADEQUATE_SECURITY)")
          : rstCode === http2.constants.NGHTTP2_NO_ERROR
            ? failure(Status.INTERNAL, "the server ended the response without a gRPC status (no trailers)")
            : failure(Status.INTERNAL, `the stream ended without a status (RST_STREAM code ${rstCode})`)

// grpc-timeout: at most 8 digits and a unit.
const timeoutHeader = (ms: number): string =>
  ms < 1e8 ? `${Math.max(0, Math.ceil(ms))}m` : `${Math.ceil(ms / 1000)}S`

interface Handlers {
  readonly message: (bytes: Uint8Array) => void
  /** Called once: `undefined` for an OK status. */
  readonly end: (failure: RpcFailure | undefined) => void
}

interface Call {
  readonly cancel: () => void
  readonly pause: () => void
  readonly resume: () => void
}

/**
 * One call: its request sent whole, its messages and its end handed to `handlers`. The deadline
 * is the client's own timer (the server gets it too, as grpc-timeout).
 */
const start = (
  connection: Connection,
  method: { readonly name: string; readonly parent: { readonly typeName: string } },
  request: Uint8Array,
  options: CallOptions,
  handlers: Handlers
): Call => {
  const state = {
    cancelledHere: false,
    deadline: Date.now() + options.timeoutMs,
    timeoutMs: options.timeoutMs
  }
  let ended = false
  // Called only once the deadline's timer below exists.
  const end = (f: RpcFailure | undefined) => {
    if (ended) return
    ended = true
    clearTimeout(timer)
    handlers.end(f === undefined ? undefined : deadlineOrCancel(f, state, Date.now()))
  }
  let stream: http2.ClientHttp2Stream
  try {
    stream = connection.request({
      ":method": "POST",
      ":path": path(method),
      "content-type": "application/grpc",
      te: "trailers",
      "grpc-timeout": timeoutHeader(options.timeoutMs),
      ...options.metadata
    })
  } catch (error) {
    ended = true
    handlers.end(failure(Status.UNAVAILABLE, error instanceof Error ? error.message : String(error)))
    return { cancel: () => {}, pause: () => {}, resume: () => {} }
  }
  const timer = setTimeout(() => {
    end(failure(Status.DEADLINE_EXCEEDED, `deadline of ${options.timeoutMs} ms exceeded`))
    stream.close(http2.constants.NGHTTP2_CANCEL)
  }, options.timeoutMs)
  let status: RpcFailure | "ok" | undefined
  let notGrpc: RpcFailure | undefined
  const reader = messageReader(
    (bytes) => {
      if (!ended) handlers.message(bytes)
    },
    (f) => {
      end(f)
      stream.close(http2.constants.NGHTTP2_CANCEL)
    }
  )
  stream.on("response", (headers) => {
    const http = headers[":status"]
    const type = headers["content-type"]
    if (http !== undefined && http !== 200) notGrpc = httpFailure(http)
    else if (!type?.startsWith("application/grpc")) notGrpc = contentTypeFailure(type)
    status = statusOf(headers)
  })
  stream.on("trailers", (trailers) => {
    status = statusOf(trailers)
  })
  // The body of an answer that is not gRPC (an error page) is no gRPC messages: not read as such.
  stream.on("data", (chunk: Buffer) => {
    if (notGrpc === undefined) reader.read(chunk)
  })
  // Always listened to: an unheard "error" would crash the process. Read at "close".
  let streamError: Error | undefined
  stream.on("error", (error) => {
    streamError = error
  })
  stream.on("close", () => {
    if (ended) return
    if (status === "ok") {
      // An OK status after part of a message (a faulty server or proxy): the data is not whole.
      const cut = reader.unfinished()
      return end(
        cut === undefined ? undefined : failure(Status.INTERNAL, `the call ended with OK inside ${cut}`)
      )
    }
    if (status !== undefined) return end(status)
    if (notGrpc !== undefined) return end(notGrpc)
    const dropped = connection.dropCause(stream, streamError)
    if (dropped !== undefined) return end(failure(Status.UNAVAILABLE, dropped))
    end(resetFailure(stream.rstCode ?? http2.constants.NGHTTP2_INTERNAL_ERROR))
  })
  const frame = Buffer.allocUnsafe(5 + request.length)
  frame[0] = 0
  frame.writeUInt32BE(request.length, 1)
  frame.set(request, 5)
  stream.end(frame)
  return {
    cancel: () => {
      if (ended) return
      state.cancelledHere = true
      end(failure(Status.CANCELLED, "cancelled by the client"))
      stream.close(http2.constants.NGHTTP2_CANCEL)
    },
    pause: () => void stream.pause(),
    resume: () => void stream.resume()
  }
}

/**
 * Waits until the connection is up (the server's SETTINGS received), at most `timeoutMs`. A call
 * on a connection still opening waits for it until the call's own deadline; for a result stream
 * that is many minutes, and a black hole (packets dropped, no RST) would hold the connection
 * attempt that long. Checked before each stream attempt, it bounds the attempt by the short
 * deadline instead.
 */
export const ready = (connection: Connection, timeoutMs: number): Effect.Effect<void, RpcFailure> =>
  Effect.suspend(() =>
    connection.isReady()
      ? Effect.void
      : Effect.callback<void, RpcFailure>((resume) => {
          connection.whenReady(timeoutMs, (outcome) =>
            resume(
              outcome === "ready"
                ? Effect.void
                : Effect.fail(
                    failure(
                      Status.UNAVAILABLE,
                      outcome === "timeout"
                        ? `no connection to the server within ${timeoutMs} ms`
                        : `no connection to the server: ${outcome.failed}`
                    )
                  )
            )
          )
        })
  )

/** A unary call; interrupting the Effect cancels the call on the wire. */
export const unary = <I extends DescMessage, O extends DescMessage>(
  connection: Connection,
  method: DescMethodUnary<I, O>,
  request: MessageShape<I>,
  options: CallOptions
): Effect.Effect<MessageShape<O>, RpcFailure> =>
  Effect.callback<MessageShape<O>, RpcFailure>((resume) => {
    let response: MessageShape<O> | undefined
    let undecodable: RpcFailure | undefined
    const call = start(connection, method, toBinary(method.input, request), options, {
      message: (bytes) => {
        try {
          response = fromBinary(method.output, bytes)
        } catch (error) {
          undecodable = failure(
            Status.INTERNAL,
            `an undecodable response: ${error instanceof Error ? error.message : String(error)}`
          )
        }
      },
      end: (f) => {
        if (f !== undefined) resume(Effect.fail(f))
        else if (undecodable !== undefined) resume(Effect.fail(undecodable))
        else if (response === undefined)
          resume(Effect.fail(failure(Status.UNIMPLEMENTED, "the server ended the call without a response")))
        else resume(Effect.succeed(response))
      }
    })
    return Effect.sync(() => call.cancel())
  })

// Messages held before the call stops reading from the connection (HTTP/2 flow control then
// holds the server).
const highWaterMark = 16

/**
 * A server-streaming call as a Stream. The deadline bounds the whole stream; a consumer that
 * stops early (or is interrupted) cancels the call. `decode` replaces the plain protobuf
 * decoding of each message (it gets the message's bytes).
 *
 * Each pull takes every message that has arrived since the last one, as one chunk: a response
 * stream's messages often come in one read (a query's schema, batch, metrics and end).
 */
export const serverStream = <I extends DescMessage, O extends DescMessage>(
  connection: Connection,
  method: DescMethodServerStreaming<I, O>,
  request: MessageShape<I>,
  options: CallOptions,
  decode: (bytes: Uint8Array) => MessageShape<O> = (bytes) => fromBinary(method.output, bytes)
): Stream.Stream<MessageShape<O>, RpcFailure> =>
  Stream.fromChannel(
    Channel.fromTransform((_, scope) =>
      Effect.suspend(() => {
        let buffer: Array<MessageShape<O>> = []
        let paused = false
        let ended = false
        let failed: RpcFailure | undefined
        let wake: (() => void) | undefined
        const call = start(connection, method, toBinary(method.input, request), options, {
          message: (bytes) => {
            try {
              buffer.push(decode(bytes))
            } catch (error) {
              failed = failure(
                Status.INTERNAL,
                `an undecodable response: ${error instanceof Error ? error.message : String(error)}`
              )
              call.cancel()
            }
            if (buffer.length >= highWaterMark && !paused) {
              paused = true
              call.pause()
            }
            wake?.()
          },
          end: (f) => {
            if (f === undefined) ended = true
            else failed ??= f
            wake?.()
          }
        })
        const pull: Pull.Pull<Arr.NonEmptyReadonlyArray<MessageShape<O>>, RpcFailure> = Effect.suspend(() => {
          if (Arr.isArrayNonEmpty(buffer)) {
            const chunk = buffer
            buffer = []
            if (paused) {
              paused = false
              call.resume()
            }
            return Effect.succeed(chunk)
          }
          if (failed !== undefined) return Effect.fail(failed)
          if (ended) return Cause.done()
          return Effect.callback<Arr.NonEmptyReadonlyArray<MessageShape<O>>, RpcFailure | Cause.Done>(
            (resume) => {
              wake = () => {
                wake = undefined
                resume(pull)
              }
              return Effect.sync(() => void (wake = undefined))
            }
          )
        })
        return Scope.addFinalizer(
          scope,
          Effect.sync(() => call.cancel())
        ).pipe(Effect.as(pull))
      })
    )
  )
