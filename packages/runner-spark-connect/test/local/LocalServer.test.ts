// A local server that cannot start says so in one line an operator can act on: what happened,
// where the server's log is, and how that log ends.
import { NodeServices } from "@effect/platform-node"
import { Effect, Exit } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { describe, expect, it, vi } from "vitest"
import * as LocalServer from "../../src/local/LocalServer.js"

// A heap size the JVM refuses: it exits before Spark starts.
const failedStart = async (dataDir: string, heap: string) => {
  const exit = await Effect.runPromiseExit(
    Effect.scoped(LocalServer.start({ dataDir, heap, startTimeout: "60 seconds" })).pipe(
      Effect.provide(NodeServices.layer)
    )
  )
  if (Exit.isSuccess(exit)) throw new Error(`a server started with heap ${heap}`)
  const error = exit.cause.reasons.find((r) => r._tag === "Fail")?.error
  if (error?._tag !== "LocalServerError") throw new Error(`not a LocalServerError: ${String(exit.cause)}`)
  return error
}

describe("LocalServer.start fails", () => {
  it("SPARK_ETL_CLASS_ARCHIVE neither on nor off: no JVM started, the message names the variable", async () => {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "local-server-"))
    vi.stubEnv("SPARK_ETL_CLASS_ARCHIVE", "no")
    const error = await failedStart(dataDir, "1g")
    vi.unstubAllEnvs()
    expect(error.message).toBe('SPARK_ETL_CLASS_ARCHIVE: "no" is neither on nor off')
    expect(fs.existsSync(path.join(dataDir, "spark-connect.log"))).toBe(false)
    fs.rmSync(dataDir, { recursive: true, force: true })
  }, 120_000)

  it("a JVM that exits during start-up: the message names the log and ends with this start's last words", async () => {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "local-server-"))
    const logFile = path.join(dataDir, "spark-connect.log")
    const first = await failedStart(dataDir, "lots")
    expect(first.message.startsWith(`Spark Connect server exited during start-up (log ${logFile}): `)).toBe(
      true
    )
    expect(first.message).toContain("Invalid maximum heap size: -Xmxlots")
    expect(first.message).not.toContain("\n")
    expect(first.logFile).toBe(logFile)
    expect(first.logTail).toContain("Could not create the Java Virtual Machine")

    // The log is appended to; the second start's message holds only what that start wrote.
    const second = await failedStart(dataDir, "much")
    expect(second.message).toContain("Invalid maximum heap size: -Xmxmuch")
    expect(second.message).not.toContain("-Xmxlots")
    expect(fs.readFileSync(logFile, "utf8")).toContain("-Xmxlots")
    fs.rmSync(dataDir, { recursive: true, force: true })
  }, 120_000)
})
