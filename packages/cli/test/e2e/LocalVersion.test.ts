// `--local-spark-version` takes effect: the built CLI, with `--remote local[1]`, starts its own
// Spark Connect server at that version (not the default 4.2.0), and the batch runs on it; so
// does SPARK_ETL_CACHE, where the server's jars are fetched to.
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
const cliIn = (cwd: string, args: ReadonlyArray<string>, env: Record<string, string> = {}): Promise<Result> =>
  new Promise((resolve) => {
    const started = Date.now()
    execFile(
      process.execPath,
      [cliMain, ...args],
      {
        cwd,
        env: { PATH: process.env["PATH"] ?? "", HOME: process.env["HOME"] ?? "", ...env },
        maxBuffer: 64 * 1024 * 1024
      },
      (error, stdout, stderr) => {
        const code = error === null ? 0 : typeof error.code === "number" ? error.code : -1
        resolve({ code, stdout, stderr, ms: Date.now() - started })
      }
    )
  })

describe("--local-spark-version", () => {
  it(`--remote local[1] --local-spark-version ${version}: the run's own server is Spark ${version}, its jars in $SPARK_ETL_CACHE`, async () => {
    const b = batchFile(batch)
    // A cache of the test's own: Maven copies the version's jars there (from ~/.m2, a few
    // seconds), and the server runs from them.
    const cache = path.join(b.dir, "cache")
    const r = await cliIn(
      b.dir,
      ["run", b.batch, "--remote", "local[1]", "--local-spark-version", version, "--state-dir", b.stateDir],
      { SPARK_ETL_CACHE: cache }
    )
    expect(r.code, `${r.stdout}\n${r.stderr}`).toBe(0)
    const entries = fs.readdirSync(path.join(cache, `spark-${version}`), { withFileTypes: true })
    const jars = entries.filter((e) => e.isDirectory() && e.name.startsWith("jars-")).map((e) => e.name)
    expect(jars).toHaveLength(1)
    const folder = path.join(cache, `spark-${version}`, jars[0]!)
    // The server's first clean stop left its class archive beside the jars, for the next start.
    expect(entries.filter((e) => e.isFile()).map((e) => e.name)).toEqual([
      expect.stringMatching(new RegExp(`^${jars[0]!}\\.java-[0-9a-f]{12}\\.jsa$`))
    ])
    expect(fs.existsSync(path.join(folder, ".complete"))).toBe(true)
    expect(fs.readdirSync(folder)).toContain(`spark-connect_2.13-${version}.jar`)
    const opened = logLines(r.stdout).filter((l) => String(l["msg"]).startsWith("engine session open"))
    // The version the server reported when the session opened.
    expect(opened.map((l) => l["msg"])).toEqual([
      expect.stringMatching(/^engine session open: Spark 4\.0\.1 at sc:\/\/127\.0\.0\.1:\d+$/)
    ])
    // And the JVM itself says so, in the server's log under the run's working directory.
    const serverLog = fs.readFileSync(path.join(b.dir, ".spark-etl", "local", "spark-connect.log"), "utf8")
    expect(serverLog).toContain(`INFO SparkContext: Running Spark version ${version}`)
    fs.rmSync(cache, { recursive: true, force: true })
  })
})
