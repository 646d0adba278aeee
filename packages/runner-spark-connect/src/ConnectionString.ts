/**
 * Spark Connect connection strings, parsed in one place:
 * `sc://host[:port][/;param=value;…]` (default port 15002; parameter names are case-sensitive;
 * `token`, `use_ssl`, `user_id`, `session_id`, `user_agent` are understood, any other
 * parameter is sent as gRPC metadata), or `local` / `local[N]` / `local[*]` for an embedded
 * server. The token is kept Redacted and never printed. A string that does not parse fails
 * with `SparkError.ConnectionStringError`.
 *
 * @example
 * import * as ConnectionString from "@spark-etl/runner-spark-connect/ConnectionString"
 * const remote = ConnectionString.parse("sc://spark:15002/;use_ssl=true;token=abc")
 */
import * as Redacted from "effect/Redacted"
import * as Result from "effect/Result"
import { ConnectionStringError } from "./SparkError.js"

/** Spark Connect's default gRPC port. */
export const defaultPort = 15002

/** A remote server. */
export interface Endpoint {
  readonly _tag: "Endpoint"
  readonly host: string
  readonly port: number
  readonly useSsl: boolean
  readonly token: Redacted.Redacted<string> | undefined
  readonly userId: string | undefined
  readonly sessionId: string | undefined
  readonly userAgent: string | undefined
  /** Unknown parameters, sent as gRPC metadata on every call. */
  readonly metadata: Readonly<Record<string, string>>
}

/** An embedded server started for the session, with this Spark master (`local[2]`…). */
export interface Local {
  readonly _tag: "Local"
  readonly master: string
}

/** A parsed connection string. */
export type Remote = Endpoint | Local

/** Options of {@link parse}. */
export interface ParseOptions {
  /**
   * Allow a token over plaintext when the host is a loopback address (tests, a local proxy).
   * Default false: a token always implies TLS, as in the official clients.
   */
  readonly allowTokenOverLoopbackPlaintext?: boolean
}

const uuid = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i
const loopback = new Set(["localhost", "127.0.0.1", "::1", "[::1]"])
const known = new Set(["token", "use_ssl", "user_id", "session_id", "user_agent"])

const fail = (field: string, message: string) =>
  Result.fail(new ConnectionStringError({ field, message: `connection string: ${message}` }))

/** Parses a connection string, or says which part is wrong. */
export const parse = (
  input: string,
  options: ParseOptions = {}
): Result.Result<Remote, ConnectionStringError> => {
  const text = input.trim()
  const local = /^local(?:\[(\d+|\*)\])?$/.exec(text)
  if (local) {
    if (local[1] === "0") return fail("master", "local[0] has no cores; use local[N] with N ≥ 1")
    return Result.succeed({ _tag: "Local", master: local[1] ? `local[${local[1]}]` : "local[*]" })
  }
  if (!text.startsWith("sc://"))
    return fail("scheme", `expected sc://host:port or local[N], got "${text.split(";")[0]}"`)
  const rest = text.slice("sc://".length)
  const slash = rest.indexOf("/")
  const authority = slash < 0 ? rest : rest.slice(0, slash)
  const tail = slash < 0 ? "" : rest.slice(slash + 1)
  const hostPort = /^(\[[0-9a-fA-F:]+\]|[^:/;[\]]+)(?::(\d*))?$/.exec(authority)
  if (!hostPort) return fail("host", `no host in "sc://${authority}"`)
  const host = hostPort[1]!
  let port = defaultPort
  if (hostPort[2] !== undefined) {
    port = Number(hostPort[2])
    if (hostPort[2] === "" || !Number.isInteger(port) || port < 1 || port > 65535)
      return fail("port", `port must be 1..65535, got "${hostPort[2]}"`)
  }
  if (tail !== "" && !tail.startsWith(";"))
    return fail("path", `unexpected path "/${tail}"; parameters follow "/;"`)
  const params: Record<string, string> = {}
  for (const part of tail.split(";").filter((p) => p !== "")) {
    const eq = part.indexOf("=")
    if (eq <= 0) return fail(part, `parameter "${part.replace(/=.*/, "")}" has no value; expected name=value`)
    const name = part.slice(0, eq)
    params[name] = decodeURIComponent(part.slice(eq + 1))
  }
  let useSsl: boolean | undefined
  if (params["use_ssl"] !== undefined) {
    if (params["use_ssl"] !== "true" && params["use_ssl"] !== "false")
      return fail("use_ssl", `use_ssl must be true or false, got "${params["use_ssl"]}"`)
    useSsl = params["use_ssl"] === "true"
  }
  const token = params["token"]
  if (token !== undefined && useSsl === false) {
    const allowed = options.allowTokenOverLoopbackPlaintext === true && loopback.has(host)
    if (!allowed)
      return fail("token", "a token is never sent over plaintext; remove use_ssl=false or the token")
  }
  const sessionId = params["session_id"]
  if (sessionId !== undefined && !uuid.test(sessionId)) return fail("session_id", "session_id must be a UUID")
  const metadata: Record<string, string> = {}
  for (const [k, v] of Object.entries(params)) if (!known.has(k)) metadata[k] = v
  return Result.succeed({
    _tag: "Endpoint",
    host,
    port,
    useSsl: useSsl ?? token !== undefined,
    token: token === undefined ? undefined : Redacted.make(token),
    userId: params["user_id"],
    sessionId,
    userAgent: params["user_agent"],
    metadata
  })
}

/** `host:port` for gRPC (IPv6 kept in brackets). */
export const address = (endpoint: Endpoint): string => `${endpoint.host}:${endpoint.port}`

/** The connection string without secrets, for logs. */
export const describe = (remote: Remote): string =>
  remote._tag === "Local"
    ? remote.master
    : `sc://${address(remote)}${remote.useSsl ? " (tls)" : ""}${remote.token ? " (token)" : ""}`

/**
 * Whether sessions on this remote outlive the process that opened them: true for `sc://`, false
 * for an embedded `local[N]` server, which ends with its process.
 */
export const isShared = (remote: string): boolean => remote.trim().startsWith("sc://")

/**
 * `remote` with its session pinned to `sessionId` (replacing any `session_id`, keeping the other
 * parameters in order), so a later process can attach to that session. A `local[N]` remote is
 * returned as is: its server, and so its sessions, end with the process.
 *
 * @example
 * ConnectionString.withSessionId("sc://h:15002/;token=t", id) // "sc://h:15002/;token=t;session_id=<id>"
 */
export const withSessionId = (remote: string, sessionId: string): string => {
  if (!isShared(remote)) return remote
  const text = remote.trim()
  const at = text.indexOf("/;")
  const base = (at >= 0 ? text.slice(0, at) : text).replace(/\/$/, "")
  const params = (at >= 0 ? text.slice(at + 2) : "")
    .split(";")
    .filter((p) => p !== "" && !p.startsWith("session_id="))
  return `${base}/;${[...params, `session_id=${sessionId}`].join(";")}`
}
