import { Redacted, Result } from "effect"
import { describe, expect, it } from "vitest"
import * as ConnectionString from "../src/ConnectionString.js"
import * as SparkError from "../src/SparkError.js"

const ok = (input: string, options?: ConnectionString.ParseOptions) => {
  const result = ConnectionString.parse(input, options)
  if (Result.isFailure(result)) throw new Error(`expected ${input} to parse: ${result.failure.message}`)
  return result.success
}
const error = (input: string, options?: ConnectionString.ParseOptions) => {
  const result = ConnectionString.parse(input, options)
  if (Result.isSuccess(result)) throw new Error(`expected ${input} to be refused`)
  return result.failure
}

describe("ConnectionString", () => {
  it("defaults the port to 15002 and TLS to off", () => {
    expect(ok("sc://spark-host")).toMatchObject({
      _tag: "Endpoint",
      host: "spark-host",
      port: 15002,
      useSsl: false
    })
  })

  it("reads every known parameter, case-sensitively, and keeps unknown ones as metadata", () => {
    const id = "6a1f1c1e-0b1a-4a55-9d7e-6f1d2f9b8a10"
    const remote = ok(
      `sc://h:1234/;use_ssl=true;token=s3cret;user_id=etl;session_id=${id};user_agent=batch;x-tenant=t1;Token=other`
    )
    expect(remote).toMatchObject({
      _tag: "Endpoint",
      host: "h",
      port: 1234,
      useSsl: true,
      userId: "etl",
      sessionId: id,
      userAgent: "batch",
      metadata: { "x-tenant": "t1", Token: "other" }
    })
    if (remote._tag !== "Endpoint" || remote.token === undefined) throw new Error("token expected")
    expect(Redacted.value(remote.token)).toBe("s3cret")
  })

  it("lets a token imply TLS and never shows it", () => {
    const remote = ok("sc://h/;token=s3cret")
    expect(remote).toMatchObject({ useSsl: true })
    expect(ConnectionString.describe(remote)).toBe("sc://h:15002 (tls) (token)")
    expect(JSON.stringify(remote)).not.toContain("s3cret")
    expect(String(remote._tag === "Endpoint" ? remote.token : "")).not.toContain("s3cret")
  })

  it("refuses a token over plaintext unless allowed for a loopback host", () => {
    expect(error("sc://h/;token=t;use_ssl=false").field).toBe("token")
    expect(error("sc://h/;token=t;use_ssl=false", { allowTokenOverLoopbackPlaintext: true }).field).toBe(
      "token"
    )
    expect(
      ok("sc://127.0.0.1/;token=t;use_ssl=false", { allowTokenOverLoopbackPlaintext: true })
    ).toMatchObject({
      useSsl: false
    })
  })

  it("accepts bracketed IPv6 hosts", () => {
    const remote = ok("sc://[::1]:15003")
    expect(remote).toMatchObject({ host: "[::1]", port: 15003 })
    if (remote._tag === "Endpoint") expect(ConnectionString.address(remote)).toBe("[::1]:15003")
  })

  it("parses local, local[N] and local[*]", () => {
    expect(ok("local")).toEqual({ _tag: "Local", master: "local[*]" })
    expect(ok("local[2]")).toEqual({ _tag: "Local", master: "local[2]" })
    expect(ok("local[*]")).toEqual({ _tag: "Local", master: "local[*]" })
    expect(error("local[0]").field).toBe("master")
  })

  it.each([
    ["http://h:15002", "scheme"],
    ["sc://", "host"],
    ["sc://h:99999", "port"],
    ["sc://h:", "port"],
    ["sc://h/path", "path"],
    ["sc://h/;use_ssl=yes", "use_ssl"],
    ["sc://h/;session_id=not-a-uuid", "session_id"],
    ["sc://h/;token", "token"]
  ])("refuses %s, naming %s", (input, field) => {
    const e = error(input)
    expect(e._tag).toBe("ConnectionStringError")
    expect(e.field).toBe(field)
    expect(e.message).toMatch(/^connection string: /)
    expect(e).toBeInstanceOf(SparkError.ConnectionStringError)
  })
})

describe("ConnectionString.withSessionId", () => {
  const id = "6a1f1c1e-0b1a-4a55-9d7e-6f1d2f9b8a10"

  it("pins the session of an sc:// remote, keeping its other parameters in order", () => {
    expect(ConnectionString.withSessionId("sc://h:15002", "U")).toBe("sc://h:15002/;session_id=U")
    expect(ConnectionString.withSessionId("sc://h:15002/", "U")).toBe("sc://h:15002/;session_id=U")
    expect(ConnectionString.withSessionId("sc://h:15002/;token=t;use_ssl=true", "U")).toBe(
      "sc://h:15002/;token=t;use_ssl=true;session_id=U"
    )
    expect(ConnectionString.withSessionId("sc://h:15002/;session_id=OLD;user_id=etl;", "U")).toBe(
      "sc://h:15002/;user_id=etl;session_id=U"
    )
  })

  it("gives a string that parses to the same endpoint with that session", () => {
    const remote = "sc://[::1]:15003/;user_id=etl;x-tenant=t1"
    expect(ok(ConnectionString.withSessionId(remote, id))).toEqual({ ...ok(remote), sessionId: id })
  })

  it("leaves an embedded local remote alone: its server ends with the process", () => {
    expect(ConnectionString.withSessionId("local[2]", "U")).toBe("local[2]")
    expect(ConnectionString.isShared("local")).toBe(false)
    expect(ConnectionString.isShared("local[*]")).toBe(false)
    expect(ConnectionString.isShared("sc://h:1")).toBe(true)
    expect(ConnectionString.isShared(" sc://h:1 ")).toBe(true)
  })
})
