// `--local-spark-version` takes effect: the built CLI, with `--remote local[1]`, starts its own
// Spark Connect server at that version (not the default 4.2.0), and the batch runs on it.
import { execFile } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { describe, expect, it } from "vitest"
import { batchFile, cliMain, logLines, type Result } from "./harness.js"

const version = "4.0.1"

// Spark's own word for its version, checked by the rule itself: the run succeeds only when the
// server that ran the SQL is the one asked for.
const batch = `batch: local_version
targets:
  roots: [output]
rules:
  - id: version
    kind: sql
    options:
      sql: SELECT v FROM (SELECT version() AS v) WHERE v LIKE '${version} %'
      expect:
        row_count: { min: 1, max: 1 }
`

/**
 * `spark-etl ARGS` in `cwd`, as the harness runs it: the embedded server keeps its data under
 * the working directory (`.spark-etl/local`), so the test's own folder holds it.
 */
const cliIn = (cwd: string, args: ReadonlyArray<string>): Promise<Result> =>
  new Promise((resolve) => {
    const started = Date.now()
    execFile(
      process.execPath,
      [cliMain, ...args],
      {
        cwd,
        env: { PATH: process.env["PATH"] ?? "", HOME: process.env["HOME"] ?? "" },
        maxBuffer: 64 * 1024 * 1024
      },
      (error, stdout, stderr) => {
        const code = error === null ? 0 : typeof error.code === "number" ? error.code : -1
        resolve({ code, stdout, stderr, ms: Date.now() - started })
      }
    )
  })

describe("--local-spark-version", () => {
  it(`--remote local[1] --local-spark-version ${version}: the run's own server is Spark ${version}`, async () => {
    const b = batchFile(batch)
    const r = await cliIn(b.dir, [
      "run",
      b.batch,
      "--remote",
      "local[1]",
      "--local-spark-version",
      version,
      "--state-dir",
      b.stateDir
    ])
    expect(r.code, `${r.stdout}\n${r.stderr}`).toBe(0)
    const opened = logLines(r.stdout).filter((l) => String(l["msg"]).startsWith("engine session open"))
    // The version the server reported when the session opened.
    expect(opened.map((l) => l["msg"])).toEqual([
      expect.stringMatching(/^engine session open: Spark 4\.0\.1 at sc:\/\/127\.0\.0\.1:\d+$/)
    ])
    // And the JVM itself says so, in the server's log under the run's working directory.
    const serverLog = fs.readFileSync(path.join(b.dir, ".spark-etl", "local", "spark-connect.log"), "utf8")
    expect(serverLog).toContain(`INFO SparkContext: Running Spark version ${version}`)
  })
})
