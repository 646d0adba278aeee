import { Effect } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { PassThrough } from "node:stream"
import { describe, expect, it } from "vitest"
import * as Logging from "../src/Logging.js"

const capture = () => {
  const stream = new PassThrough()
  const chunks: Array<string> = []
  stream.on("data", (c: Buffer) => chunks.push(c.toString()))
  return { stream, text: () => chunks.join("") }
}

describe("Logging", () => {
  it("writes annotated JSON lines to the file and readable lines to stderr, without secrets", async () => {
    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "log-")), "run.jsonl")
    const stderr = capture()
    await Effect.runPromise(
      Effect.gen(function* () {
        yield* Effect.logInfo("connecting to sc://spark:15002/;token=s3cr3t;user_id=etl")
        yield* Effect.logDebug("detail only for the file")
        yield* Effect.logError("rule failed").pipe(
          Effect.annotateLogs({ rule: "daily_totals", password: "hunter2" })
        )
      }).pipe(
        Effect.annotateLogs({ runId: "r-1", batch: "orders" }),
        Effect.provide(Logging.layer({ file, stderr: stderr.stream }))
      )
    )
    const lines = fs
      .readFileSync(file, "utf8")
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as Record<string, unknown>)
    expect(lines).toHaveLength(3)
    expect(lines[0]).toMatchObject({ level: "info", runId: "r-1", batch: "orders" })
    expect(lines[0]?.["msg"]).toBe("connecting to sc://spark:15002/;token=***;user_id=etl")
    expect(lines[2]).toMatchObject({ level: "error", rule: "daily_totals", password: "***" })
    const out = stderr.text()
    expect(out).toContain("INFO  connecting to sc://spark:15002/;token=***")
    expect(out).toContain("ERROR [daily_totals] rule failed")
    expect(out).not.toContain("detail only for the file")
    expect(fs.readFileSync(file, "utf8") + out).not.toMatch(/s3cr3t|hunter2/)
  })

  it("masks secrets in free text", () => {
    expect(Logging.scrub("password: abc token=xyz; user=bob")).toBe("password: *** token=***; user=bob")
  })
})
