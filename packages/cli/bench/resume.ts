/**
 * What a resume saves: a 40-rule batch fails at rule 31 (a division by zero in its SQL file),
 * the file is fixed, and the batch is run again — either fresh (delete-and-load of all 40) or
 * with `--resume` (30 rules skipped, their outputs read back; 10 run). Alternates fresh and
 * resumed, each after its own failed run, on the same server, and prints the median wall time
 * of each with the ratio.
 *
 * Rules: four chains of ten; each rule aggregates the one before it over a million-row range,
 * writes a Parquet target, and the chains join at the end (rules 31–40 depend on rule 30).
 *
 *   SPARK_REMOTE=sc://127.0.0.1:15002 node bench/resume.ts [runs]
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
const runs = Number(process.argv[2] ?? "3")
const cli = path.resolve(import.meta.dirname, "..", "dist", "main.js")
const dir = fs.mkdtempSync(path.join(os.tmpdir(), "spark-etl-bench-resume-"))
fs.mkdirSync(path.join(dir, "output"))
fs.mkdirSync(path.join(dir, "sql"))

const id = (n: number) => `r${String(n).padStart(2, "0")}`
// Rule n reads rule n-1 (a new chain every ten rules starts from a range); 31 onwards read 30.
const rules = Array.from({ length: 40 }, (_, i) => {
  const n = i + 1
  const upstream =
    n === 1 || (n <= 30 && (n - 1) % 10 === 0) ? undefined : n > 30 && n % 10 === 1 ? 30 : n - 1
  const from = upstream === undefined ? "(SELECT id, id % 97 AS k FROM range(0, 1000000))" : id(upstream)
  fs.writeFileSync(
    path.join(dir, "sql", `${id(n)}.sql`),
    `SELECT k, count(*) + ${n} AS id FROM ${from} GROUP BY k\n`
  )
  return [
    `  - id: ${id(n)}`,
    "    kind: sql",
    ...(upstream !== undefined ? [`    depends_on: [${id(upstream)}]`] : []),
    `    target: output/${id(n)}`,
    `    options: { file: sql/${id(n)}.sql }`
  ].join("\n")
})
const batch = path.join(dir, "batch.yaml")
fs.writeFileSync(
  batch,
  ["batch: resume_bench", "targets:", "  roots: [output]", "rules:", ...rules].join("\n") + "\n"
)
const r31 = path.join(dir, "sql", "r31.sql")
const good = fs.readFileSync(r31, "utf8")
const bad = good.replace("count(*) + 31", "count(*) / 0")

const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => k !== "KAFKA_BROKERS"))
const stateDir = path.join(dir, "state")
const runOnce = (extra: ReadonlyArray<string>, expected: number) => {
  const started = process.hrtime.bigint()
  let code = 0
  try {
    execFileSync(
      process.execPath,
      [cli, "run", batch, "--remote", remote, "--state-dir", stateDir, ...extra],
      {
        stdio: "ignore",
        env
      }
    )
  } catch (e) {
    code = (e as { status?: number }).status ?? -1
  }
  if (code !== expected) throw new Error(`run ${extra.join(" ")} exited ${code}, expected ${expected}`)
  return Number(process.hrtime.bigint() - started) / 1e6
}
const failAt31 = () => {
  fs.writeFileSync(r31, bad)
  runOnce([], 1)
  fs.writeFileSync(r31, good)
}

const median = (xs: ReadonlyArray<number>) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!
const fresh: Array<number> = []
const resumed: Array<number> = []
runOnce([], 0) // warm-up: the server's first queries compile code paths
for (let i = 0; i < runs; i++) {
  failAt31()
  fresh.push(runOnce([], 0))
  failAt31()
  resumed.push(runOnce(["--resume"], 0))
}
const f = median(fresh)
const r = median(resumed)
console.log(
  `40 rules failing at rule 31, after the fix: full rerun ${(f / 1000).toFixed(2)} s, resume ${(r / 1000).toFixed(2)} s (ratio ${(r / f).toFixed(2)}; median of ${runs}, alternating; load average ${os
    .loadavg()
    .map((l) => l.toFixed(2))
    .join(" ")})`
)
const out = process.env["SPARK_ETL_BENCH_RESULTS"]
if (out) {
  fs.appendFileSync(
    out,
    `${JSON.stringify({ figure: "40 rules failed at 31: resume after the fix, median", unit: "s", ours: r / 1000, against: f / 1000, againstName: "full rerun (delete-and-load)" })}\n`
  )
}
fs.rmSync(dir, { recursive: true, force: true })
