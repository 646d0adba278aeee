/**
 * Start-up figures of the CLI, median of 10 each:
 * - `spark-etl validate` of the sample batch (a whole process; touches no server);
 * - CLI process start to its first Spark RPC answered: the time from spawning `spark-etl run`
 *   to the log line saying the engine session is open (opening it is the first RPC).
 *
 *   SPARK_REMOTE=sc://127.0.0.1:15002 node bench/startup.ts
 */
import { execFileSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"

const remote = process.env["SPARK_REMOTE"]
if (!remote) {
  console.error("set SPARK_REMOTE (npm run bench starts a local server and sets it)")
  process.exit(1)
}
const here = import.meta.dirname
const cli = path.resolve(here, "..", "dist", "main.js")
const sample = path.resolve(here, "..", "..", "..", "examples", "orders", "batch.yaml")
fs.mkdirSync(path.join(path.dirname(sample), "output"), { recursive: true })
const median = (xs: ReadonlyArray<number>) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!

const validate: Array<number> = []
for (let i = 0; i < 11; i++) {
  const t = process.hrtime.bigint()
  execFileSync(process.execPath, [cli, "validate", sample, "--param", "run_date=2026-11-26"], {
    stdio: "ignore"
  })
  if (i > 0) validate.push(Number(process.hrtime.bigint() - t) / 1e6)
}

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "spark-etl-startup-"))
const batch = path.join(dir, "batch.yaml")
fs.writeFileSync(
  batch,
  "batch: startup\nrules:\n  - id: one\n    kind: sql\n    options:\n      sql: SELECT 1 AS one\n"
)
const firstRpc: Array<number> = []
for (let i = 0; i < 11; i++) {
  const log = path.join(dir, `run-${i}.jsonl`)
  const spawnedAt = Date.now()
  execFileSync(
    process.execPath,
    [cli, "run", batch, "--remote", remote, "--state-dir", dir, "--log-file", log],
    {
      stdio: "ignore"
    }
  )
  const opened = fs
    .readFileSync(log, "utf8")
    .split("\n")
    .filter((l) => l.includes("engine session open"))
    .map((l) => Date.parse((JSON.parse(l) as { time: string }).time))[0]
  if (opened === undefined) throw new Error(`no 'engine session open' line in ${log}`)
  if (i > 0) firstRpc.push(opened - spawnedAt)
}
fs.rmSync(dir, { recursive: true, force: true })
console.log(`validate of the sample batch (whole process): median ${median(validate).toFixed(0)} ms over 10`)
console.log(`CLI start to first Spark RPC answered:        median ${median(firstRpc).toFixed(0)} ms over 10`)
