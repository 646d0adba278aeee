/**
 * Framework overhead per rule: a batch of 50 trivial SQL rules run by `spark-etl run` as a
 * process (as AutoSys would), against the same 50 statements run by the official Python client
 * (`pyspark-client`) in one session, on the same Spark Connect server, alternating A B A B.
 *
 *   SPARK_REMOTE=sc://127.0.0.1:15002 node bench/overhead.ts [runs]
 *
 * Needs `pip install pyspark-client==4.2.0`. Both sides include their process start.
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
const runs = Number(process.argv[2] ?? "5")
const rules = 50
const here = import.meta.dirname
const dir = fs.mkdtempSync(path.join(os.tmpdir(), "spark-etl-bench-"))
const batch = path.join(dir, "batch.yaml")
fs.writeFileSync(
  batch,
  [
    "batch: overhead",
    "rules:",
    ...Array.from({ length: rules }, (_, i) => {
      const n = i + 1
      return [
        `  - id: r${String(n).padStart(2, "0")}`,
        "    kind: sql",
        "    options:",
        `      sql: SELECT ${n} AS n`,
        "      expect:",
        "        row_count: { min: 1, max: 1 }"
      ].join("\n")
    })
  ].join("\n") + "\n"
)

const time = (f: () => void): number => {
  const t = process.hrtime.bigint()
  f()
  return Number(process.hrtime.bigint() - t) / 1e9
}
const median = (xs: ReadonlyArray<number>) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!

const ours: Array<number> = []
const theirs: Array<number> = []
const theirsLoop: Array<number> = []
const cli = path.resolve(here, "..", "dist", "main.js")
for (let i = 0; i < runs + 1; i++) {
  const a = time(() =>
    execFileSync(
      process.execPath,
      [cli, "run", batch, "--remote", remote, "--state-dir", path.join(dir, "state")],
      {
        stdio: "ignore"
      }
    )
  )
  let loop = 0
  const b = time(() => {
    loop = Number(
      execFileSync("python3", [path.join(here, "overhead.py"), remote, String(rules)], {
        encoding: "utf8"
      }).trim()
    )
  })
  if (i === 0) continue // warm-up: the server's first queries compile code paths
  ours.push(a)
  theirs.push(b)
  theirsLoop.push(loop)
}

const o = median(ours)
const t = median(theirs)
const loop = median(theirsLoop)
console.log(`rules per batch:              ${rules}`)
console.log(`spark-etl run (whole process): median ${o.toFixed(2)} s over ${runs}`)
console.log(
  `pyspark-client (whole process): median ${t.toFixed(2)} s over ${runs} (statement loop ${loop.toFixed(2)} s)`
)
console.log(`ratio ours / pyspark-client:   ${(o / t).toFixed(2)}`)
console.log(
  `overhead per rule vs the official client's statement loop: ${(((o - loop) / rules) * 1000).toFixed(1)} ms (ours minus the loop, which bounds Spark's own time from above)`
)
fs.rmSync(dir, { recursive: true, force: true })
