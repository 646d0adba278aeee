/**
 * The HTTP/2 connection to a Spark Connect server, on Node's own `node:http2`: opened on first
 * use, kept alive with pings, opened again by the first call after it drops. The gRPC calls on
 * it are Rpc.ts's.
 *
 * Why not grpc-js: its layers (resolver, load balancer, subchannel, filters, call objects)
 * allocated about 100 KB a call and kept some 13 KB of it through V8's scavenges, growing the
 * young generation, and so a long-lived process's peak RSS, with the number of calls; a call
 * here is one HTTP/2 stream and its frames (see the README's benchmark).
 */
import * as fs from "node:fs"
import * as http2 from "node:http2"

export interface Options {
  /** `host:port`. */
  readonly address: string
  readonly useSsl: boolean
  /** How often a ping checks the link (30 s), and how long its answer may take (10 s). */
  readonly keepaliveMs?: number
  readonly keepaliveTimeoutMs?: number
  /** HTTP/2 flow-control window of the connection and of each stream (32 MiB). */
  readonly windowBytes?: number
}

type ReadyOutcome = "ready" | "timeout" | { readonly failed: string }

/** One connection; `request` opens a stream on it, opening the connection first when needed. */
export interface Connection {
  /** A new stream: throws when no stream can be opened (the caller makes that UNAVAILABLE). */
  readonly request: (headers: http2.OutgoingHttpHeaders) => http2.ClientHttp2Stream
  /** Whether the connection is up now: the server's SETTINGS arrived and it has not dropped. */
  readonly isReady: () => boolean
  /** Opens the connection when needed; calls back once it is up, failed, or `timeoutMs` passed. */
  readonly whenReady: (timeoutMs: number, callback: (outcome: ReadyOutcome) => void) => void
  /**
   * Why the connection under `stream` dropped or failed to open, when it did: the cause of a
   * stream cut off by it. `streamError` is the stream's own error, which carries the
   * connection's when that came first (a refused connection).
   */
  readonly dropCause: (stream: http2.ClientHttp2Stream, streamError: Error | undefined) => string | undefined
  readonly close: () => void
}

// Spark's trailers carry its error (class, parameters, a message of up to some KB): room to spare.
const maxHeaderListBytes = 1024 * 1024

// Why a connection that closed without an error (no GOAWAY, no socket error) did.
const closedCause = (l: Live): string =>
  l.ready
    ? "the connection to the server dropped"
    : "the connection closed before the server spoke HTTP/2 (a TLS port, without use_ssl=true?)"

// OpenSSL's verdicts on a certificate whose issuer is not trusted. Node adds its own hint to
// their message (run Node with --use-system-ca), which is not how a job is given a CA.
const untrustedIssuer = new Set([
  "DEPTH_ZERO_SELF_SIGNED_CERT",
  "SELF_SIGNED_CERT_IN_CHAIN",
  "UNABLE_TO_GET_ISSUER_CERT",
  "UNABLE_TO_GET_ISSUER_CERT_LOCALLY",
  "UNABLE_TO_VERIFY_LEAF_SIGNATURE"
])

const describe = (error: unknown): string => {
  if (!(error instanceof Error)) return String(error)
  const code: unknown = "code" in error ? error.code : undefined
  if (typeof code !== "string" || !untrustedIssuer.has(code)) return error.message
  const verdict = error.message.split(";")[0]!
  return `${verdict} (the server's certificate is not trusted: give its CA in GRPC_DEFAULT_SSL_ROOTS_FILE_PATH or NODE_EXTRA_CA_CERTS)`
}

// The CAs a TLS connection trusts: those of GRPC_DEFAULT_SSL_ROOTS_FILE_PATH instead of Node's
// own when it is set (as with gRPC's other clients); NODE_EXTRA_CA_CERTS adds to Node's own.
const trustedCas = (): Buffer | undefined => {
  const file = process.env["GRPC_DEFAULT_SSL_ROOTS_FILE_PATH"]
  if (file === undefined || file === "") return undefined
  try {
    return fs.readFileSync(file)
  } catch (error) {
    throw new Error(`GRPC_DEFAULT_SSL_ROOTS_FILE_PATH: ${describe(error)}`, { cause: error })
  }
}

interface Live {
  readonly session: http2.ClientHttp2Session
  ready: boolean
  dropped: string | undefined
  waiting: Array<(outcome: ReadyOutcome) => void>
  pingTimer: NodeJS.Timeout | undefined
  pingDeadline: NodeJS.Timeout | undefined
  streams: number
}

// HTTP/2 starts with a 64 KiB window: a 4 MiB Arrow batch would wait on dozens of WINDOW_UPDATE
// round trips. A large window lets the server stream at full speed.
const defaultWindowBytes = 32 * 1024 * 1024

export const make = (given: Options): Connection => {
  const options = {
    keepaliveMs: 30_000,
    keepaliveTimeoutMs: 10_000,
    windowBytes: defaultWindowBytes,
    ...given
  }
  let live: Live | undefined
  let closed = false
  // Each stream's connection: Node forgets a stream's session once the stream is closed.
  const sessionOf = new WeakMap<http2.ClientHttp2Stream, Live>()

  const drop = (l: Live, cause: string) => {
    if (l.dropped === undefined) l.dropped = cause
    if (live === l) live = undefined
    clearInterval(l.pingTimer)
    clearTimeout(l.pingDeadline)
    const waiting = l.waiting
    l.waiting = []
    for (const w of waiting) w({ failed: l.dropped })
  }

  const open = (): Live => {
    const url = `${options.useSsl ? "https" : "http"}://${options.address}`
    const session = http2.connect(url, {
      settings: {
        initialWindowSize: options.windowBytes,
        enablePush: false,
        maxHeaderListSize: maxHeaderListBytes
      },
      maxHeaderListPairs: 1024,
      // In MB: what nghttp2 may hold of streams not yet read (a paused result stream's window).
      maxSessionMemory: 1024,
      ...(options.useSsl ? { ALPNProtocols: ["h2"], ...withCa() } : {})
    })
    const l: Live = {
      session,
      ready: false,
      dropped: undefined,
      waiting: [],
      pingTimer: undefined,
      pingDeadline: undefined,
      streams: 0
    }
    session.once("remoteSettings", () => {
      l.ready = true
      // The default window is 64 KiB: a 4 MiB Arrow batch would wait on dozens of round trips.
      session.setLocalWindowSize(options.windowBytes)
      const waiting = l.waiting
      l.waiting = []
      for (const w of waiting) w("ready")
    })
    session.on("error", (error) => drop(l, describe(error)))
    // A GOAWAY ends the connection for new streams; those under way may finish on it.
    session.on("goaway", (code) => drop(l, `the server closed the connection (HTTP/2 GOAWAY, code ${code})`))
    session.on("close", () => drop(l, closedCause(l)))
    l.pingTimer = setInterval(() => ping(l), options.keepaliveMs).unref()
    // Idle, the connection does not keep the process alive; a stream in flight does (Rpc.ts).
    session.unref()
    return l
  }

  const withCa = () => {
    const ca = trustedCas()
    return ca === undefined ? {} : { ca }
  }

  const ping = (l: Live) => {
    if (!l.ready || l.pingDeadline !== undefined) return
    l.pingDeadline = setTimeout(() => {
      const cause = `keepalive ping not answered within ${options.keepaliveTimeoutMs} ms`
      drop(l, cause)
      l.session.destroy(new Error(cause))
    }, options.keepaliveTimeoutMs).unref()
    const sent = l.session.ping((error) => {
      clearTimeout(l.pingDeadline)
      l.pingDeadline = undefined
      if (error !== null && !l.session.destroyed) l.session.destroy(error)
    })
    if (!sent) {
      clearTimeout(l.pingDeadline)
      l.pingDeadline = undefined
    }
  }

  const current = (): Live => {
    if (closed) throw new Error("the connection is closed")
    if (live === undefined || live.session.closed || live.session.destroyed) live = open()
    return live
  }

  return {
    request: (headers) => {
      const l = current()
      const stream = l.session.request(headers, { endStream: false })
      sessionOf.set(stream, l)
      // A stream in flight keeps the process alive; the last one to end lets it go.
      if (l.streams++ === 0) l.session.ref()
      stream.once("close", () => {
        if (--l.streams === 0 && !l.session.destroyed) l.session.unref()
      })
      return stream
    },
    isReady: () => live !== undefined && live.ready && !live.session.closed && !live.session.destroyed,
    whenReady: (timeoutMs, callback) => {
      let l: Live
      try {
        l = current()
      } catch (error) {
        return callback({ failed: describe(error) })
      }
      if (l.ready) return callback("ready")
      const once = (outcome: ReadyOutcome) => {
        clearTimeout(timer)
        l.waiting = l.waiting.filter((w) => w !== once)
        callback(outcome)
      }
      const timer = setTimeout(() => once("timeout"), timeoutMs)
      l.waiting.push(once)
    },
    dropCause: (stream, streamError) => {
      const l = sessionOf.get(stream)
      if (l === undefined) return undefined
      if (l.dropped !== undefined) return l.dropped
      if (!l.session.closed && !l.session.destroyed) return undefined
      // A stream still pending when the connection failed: Node's error names the cause.
      const cause: unknown = streamError?.cause
      return cause instanceof Error ? describe(cause) : closedCause(l)
    },
    close: () => {
      closed = true
      if (live === undefined) return
      const l = live
      drop(l, "the connection is closed")
      l.session.close()
    }
  }
}
