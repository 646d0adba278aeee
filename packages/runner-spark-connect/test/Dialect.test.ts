import { describe, expect, it } from "vitest"
import * as Dialect from "../src/internal/Dialect.js"
import * as SparkError from "../src/SparkError.js"

describe("Dialect.of", () => {
  it.each([
    ["3.5.7", true, false, false],
    ["4.0.1", false, true, true],
    ["4.2.0", false, true, true],
    // A version the client cannot read is taken as the newest: the generated protocol's.
    ["", false, true, true],
    ["abc", false, true, true]
  ] as const)(
    "reads %o as inlineSqlCommand %s, releaseSession %s, errorDetails %s",
    (version, inlineSqlCommand, releaseSession, errorDetails) => {
      expect(Dialect.of(version)).toEqual({
        sparkVersion: version,
        inlineSqlCommand,
        releaseSession,
        errorDetails
      })
    }
  )
})

describe("Dialect.unsupported", () => {
  it("names the call, the version needed and the server's version, as a system failure", () => {
    const e = Dialect.unsupported(Dialect.of("3.5.7"), "ReleaseSession", "4.0")
    expect(e._tag).toBe("SparkUnsupported")
    expect(e).toBeInstanceOf(SparkError.SparkUnsupported)
    expect(e.message).toBe(
      "ReleaseSession needs a Spark Connect server 4.0 or newer; this server runs Spark 3.5.7"
    )
    expect(SparkError.isSparkError(e)).toBe(true)
    expect(SparkError.isRetryable(e)).toBe(false)
    expect(SparkError.category[e._tag]).toBe("system")
  })
})
