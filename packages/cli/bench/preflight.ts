/**
 * What preflight costs: the time a run spends opening the engine session, applying the batch's
 * settings and analysing every rule before it may delete anything, read from each run's own
 * log line ("preflight: N of M rules analysed in X ms"), for the sample batch and for a
 * 200-rule batch; and, given the CLI of an earlier build, the wall time of a whole successful
 * run of the sample, alternating A B A B on the same server.
 *
 *   SPARK_REMOTE=sc://127.0.0.1:15002 node bench/preflight.ts [runs] [baseline-main.js]
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
const baseline = process.argv[3]
const here = import.meta.dirname
const cli = path.resolve(here, "..", "dist", "main.js")
const example = path.resolve(here, "..", "..", "..", "examples", "orders")
const dir = fs.mkdtempSync(path.join(os.tmpdir(), "spark-etl-bench-preflight-"))

// The sample batch with its generated data, in a folder of its own.
fs.cpSync(path.join(example, "batch.yaml"), path.join(dir, "sample", "batch.yaml"), { recursive: true })
fs.cpSync(path.join(example, "sql"), path.join(dir, "sample", "sql"), { recursive: true })
execFileSync(
  process.execPath,
  [path.join(example, "generate-data.ts"), "--out", path.join(dir, "sample", "data")],
  {
    stdio: "ignore"
  }
)
fs.mkdirSync(path.join(dir, "sample", "output"))

// 200 rules: 20 chains of 10, each rule reading the one before it, every tenth with a target
// and expectations, so preflight analyses views, inputs of views and expectation queries.
const wide = path.join(dir, "wide", "batch.yaml")
fs.mkdirSync(path.join(dir, "wide", "output"), { recursive: true })
fs.writeFileSync(
  wide,
  [
    "batch: preflight_wide",
    "targets:",
    "  roots: [output]",
    "rules:",
    ...Array.from({ length: 200 }, (_, i) => {
      const chain = Math.floor(i / 10)
      const step = i % 10
      const id = `c${String(chain).padStart(2, "0")}_s${step}`
      const from = step === 0 ? "range(100)" : `c${String(chain).padStart(2, "0")}_s${step - 1}`
      const last = step === 9
      return [
        `  - id: ${id}`,
        "    kind: sql",
        ...(step > 0 ? [`    depends_on: [c${String(chain).padStart(2, "0")}_s${step - 1}]`] : []),
        ...(last ? [`    target: output/${id}`] : []),
        "    options:",
        `      sql: SELECT id, id * ${step + 1} AS v${step} FROM ${from}`,
        ...(last
          ? [
              "      expect:",
              "        unique: [id]",
              "        not_null: [id]",
              `        assert_empty: SELECT * FROM ${id} WHERE id < 0`
            ]
          : [])
      ].join("\n")
    })
  ].join("\n") + "\n"
)

const median = (xs: ReadonlyArray<number>) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!

// One whole run; its wall time and the preflight time from its log.
// The sample needs its business date; events go to the log (no Kafka in this bench).
const paramsOf = (batch: string) =>
  batch.includes(`${path.sep}sample${path.sep}`) ? ["--param", "run_date=2026-11-26"] : []
const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => k !== "KAFKA_BROKERS"))
const runOnce = (main: string, batch: string, stateDir: string) => {
  const started = process.hrtime.bigint()
  const out = execFileSync(
    process.execPath,
    [main, "run", batch, ...paramsOf(batch), "--remote", remote, "--state-dir", stateDir],
    { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"], env }
  )
  const wall = Number(process.hrtime.bigint() - started) / 1e6
  const log = /log=(\S+)/.exec(out)?.[1]
  const line = log === undefined ? undefined : /rules analysed in (\d+) ms/.exec(fs.readFileSync(log, "utf8"))
  return { wall, preflight: line === undefined || line === null ? undefined : Number(line[1]) }
}

const measure = (name: string, batch: string) => {
  const walls: Array<number> = []
  const preflights: Array<number> = []
  for (let i = 0; i <= runs; i++) {
    const r = runOnce(cli, batch, path.join(dir, `state-${name.split(" ")[0]}`))
    if (i === 0) continue // warm-up: the server's first queries compile code paths
    walls.push(r.wall)
    if (r.preflight !== undefined) preflights.push(r.preflight)
  }
  console.log(
    `${name.padEnd(22)} preflight median ${median(preflights)} ms (min ${Math.min(...preflights)}, max ${Math.max(...preflights)}), whole run ${(median(walls) / 1000).toFixed(2)} s, over ${runs}`
  )
}

console.log(
  `load average: ${os
    .loadavg()
    .map((l) => l.toFixed(2))
    .join(" ")}`
)
measure("sample (7 rules)", path.join(dir, "sample", "batch.yaml"))
measure("wide (200 rules)", wide)

if (baseline !== undefined) {
  const ours: Array<number> = []
  const theirs: Array<number> = []
  // An earlier build ignored engine.settings: without them both builds ask Spark for the same
  // work, so the difference is what this build adds (preflight, fencing, the recorded event).
  const sample = path.join(dir, "sample", "no-settings.yaml")
  fs.writeFileSync(
    sample,
    fs
      .readFileSync(path.join(dir, "sample", "batch.yaml"), "utf8")
      .replace(/\n {2}settings:\n( {4}.*\n)+/, "\n")
  )
  for (let i = 0; i <= runs; i++) {
    const a = runOnce(cli, sample, path.join(dir, "state-a")).wall
    const b = runOnce(baseline, sample, path.join(dir, "state-b")).wall
    if (i === 0) continue
    ours.push(a)
    theirs.push(b)
  }
  const o = median(ours)
  const t = median(theirs)
  console.log(
    `sample, whole successful run: this build ${(o / 1000).toFixed(2)} s, baseline ${(t / 1000).toFixed(2)} s, difference ${((o - t) / 1000).toFixed(2)} s (median of ${runs}, alternating)`
  )
}
console.log(
  `load average: ${os
    .loadavg()
    .map((l) => l.toFixed(2))
    .join(" ")}`
)
fs.rmSync(dir, { recursive: true, force: true })
