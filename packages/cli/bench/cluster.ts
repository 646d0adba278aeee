/**
 * The sample batch with its inputs and targets on HDFS (`targets.store: spark-path`), run by the
 * CLI on the local Spark (`local[2]`) and on a Spark standalone cluster (a master, two workers
 * of one core, the Connect server as driver), alternating; prints the median wall time of each
 * and how long the cluster took to start (from nothing to a query answered).
 *
 *   SPARK_REMOTE=sc://… HDFS_URI=hdfs://… node bench/cluster.ts [runs]
 *   (npm run bench starts both and sets them)
 */
import { NodeServices } from "@effect/platform-node"
import { LocalCluster } from "@spark-etl/infra"
import { SparkSession } from "@spark-etl/runner-spark-connect"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Scope from "effect/Scope"
import { execFileSync, spawnSync } from "node:child_process"
import { randomUUID } from "node:crypto"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"

const local = process.env["SPARK_REMOTE"]
const hdfs = process.env["HDFS_URI"]
if (!local || !hdfs) {
  console.error("set SPARK_REMOTE and HDFS_URI (npm run bench starts both and sets them)")
  process.exit(1)
}
const runs = Number(process.argv[2] ?? "3")
const cli = path.resolve(import.meta.dirname, "..", "dist", "main.js")
const example = path.resolve(import.meta.dirname, "..", "..", "..", "examples", "orders")
const dir = fs.mkdtempSync(path.join(os.tmpdir(), "spark-etl-bench-cluster-"))
const base = `${hdfs}/bench-${randomUUID().slice(0, 8)}`

// The sample and its data, moved onto HDFS through the local Spark (this process has no HDFS client).
fs.cpSync(path.join(example, "batch.yaml"), path.join(dir, "batch.yaml"))
fs.cpSync(path.join(example, "sql"), path.join(dir, "sql"), { recursive: true })
const generated = spawnSync(process.execPath, [
  path.join(example, "generate-data.ts"),
  "--out",
  path.join(dir, "data")
])
if (generated.status !== 0) throw new Error(`data generator failed: ${String(generated.stderr)}`)
const put = (uri: string, sql: string) =>
  Effect.gen(function* () {
    const spark = yield* SparkSession.make({ remote: local })
    yield* spark.write(yield* spark.sql(sql), { format: "text", mode: "overwrite", target: { path: uri } })
  }).pipe(Effect.scoped, Effect.provide(NodeServices.layer))
await Effect.runPromise(
  Effect.all([
    put(`${base}/data/orders.csv`, `SELECT value FROM text.\`file://${dir}/data/orders.csv\``),
    put(`${base}/data/customers.csv`, `SELECT value FROM text.\`file://${dir}/data/customers.csv\``),
    put(`${base}/output/sentinel`, "SELECT 'root' AS value")
  ])
)
const batch = path.join(dir, "batch.yaml")
fs.writeFileSync(
  batch,
  fs
    .readFileSync(batch, "utf8")
    .replace("roots: [output]", `store: spark-path\n  roots: ["${base}/output"]`)
    .replaceAll("target: output/", `target: ${base}/output/`)
    .replaceAll("path: data/", `path: ${base}/data/`)
)

const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => k !== "KAFKA_BROKERS"))
const runOn = (remote: string) => {
  const started = process.hrtime.bigint()
  execFileSync(
    process.execPath,
    [
      cli,
      "run",
      batch,
      "--remote",
      remote,
      "--state-dir",
      path.join(dir, "state"),
      "--param",
      "run_date=2026-11-26"
    ],
    { stdio: "ignore", env }
  )
  return Number(process.hrtime.bigint() - started) / 1e9
}

const scope = Effect.runSync(Scope.make())
const t0 = performance.now()
const cluster = await Effect.runPromise(
  LocalCluster.start({
    dataDir: path.join(dir, "cluster"),
    conf: { "spark.hadoop.fs.defaultFS": hdfs }
  }).pipe(Scope.provide(scope), Effect.provide(NodeServices.layer))
)
await Effect.runPromise(
  Effect.gen(function* () {
    const spark = yield* SparkSession.make({ remote: cluster.remote })
    return yield* spark.collect(yield* spark.sql("SELECT count(*) FROM range(0, 1000000, 1, 2)"))
  }).pipe(Effect.scoped, Effect.provide(NodeServices.layer))
)
const startSeconds = (performance.now() - t0) / 1000

const median = (xs: ReadonlyArray<number>) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!
const onLocal: Array<number> = []
const onCluster: Array<number> = []
// Warm-ups: the first queries of each server compile their code paths.
runOn(local)
runOn(cluster.remote)
for (let i = 0; i < runs; i++) {
  onLocal.push(runOn(local))
  onCluster.push(runOn(cluster.remote))
}
await Effect.runPromise(Scope.close(scope, Exit.void))
const [l, c] = [median(onLocal), median(onCluster)]
const load = os
  .loadavg()
  .map((x) => x.toFixed(2))
  .join(" ")
console.log(
  `standalone cluster (master, 2 workers, Connect driver): from nothing to a query answered in ${startSeconds.toFixed(1)} s`
)
console.log(
  `sample batch on HDFS: local[2] ${l.toFixed(2)} s, standalone cluster ${c.toFixed(2)} s (ratio ${(c / l).toFixed(2)}; median of ${runs}, alternating; load average ${load})`
)
const out = process.env["SPARK_ETL_BENCH_RESULTS"]
if (out)
  fs.appendFileSync(
    out,
    [
      { figure: "standalone cluster start, to a query answered", unit: "s", ours: startSeconds },
      {
        figure: "sample batch on HDFS, standalone cluster (2 workers × 1 core)",
        unit: "s",
        ours: c,
        against: l,
        againstName: "the same on local[2]"
      }
    ]
      .map((f) => `${JSON.stringify(f)}\n`)
      .join("")
  )
fs.rmSync(dir, { recursive: true, force: true })
