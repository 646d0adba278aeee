// The spark-path store's cleanup of 100 targets on HDFS (the harness's), each holding an old
// output, through the Spark session: the figure of a batch's pre-run cleanup on a cluster's
// storage. Checks the work was done: every target reads as zero rows after.
// Run: RUNNER_SQL_BENCH=1 npx vitest run --root packages/runner-sql bench/pathStore.bench.ts
import { NodeServices } from "@effect/platform-node"
import { SparkSession } from "@spark-etl/runner-spark-connect"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as ManagedRuntime from "effect/ManagedRuntime"
import { randomUUID } from "node:crypto"
import * as fs from "node:fs"
import { afterAll, expect, inject, it } from "vitest"
import * as SparkPathStore from "../src/SparkPathStore.js"

const targets = 100
const runtime = ManagedRuntime.make(
  Layer.provideMerge(SparkSession.layer({ remote: inject("sparkRemote") }), NodeServices.layer)
)
afterAll(() => runtime.dispose())

it(`cleans ${targets} HDFS targets through Spark`, async () => {
  const root = `${inject("hdfsUri")}/bench-${randomUUID().slice(0, 8)}`
  const uris = Array.from({ length: targets }, (_, i) => `${root}/t${i}`)
  const seconds = await runtime.runPromise(
    Effect.gen(function* () {
      const spark = yield* SparkSession.SparkSession
      // An old output in every target: one small parquet file each.
      const old = yield* spark.sql("SELECT id FROM range(10)")
      yield* Effect.forEach(
        uris,
        (uri) => spark.write(old, { format: "parquet", mode: "overwrite", target: { path: uri } }),
        {
          discard: true
        }
      )
      const store = yield* SparkPathStore.make
      const resolved = yield* store.check({
        baseDir: "/",
        roots: [root],
        targets: uris.map((declared, i) => ({ ruleId: `r${i}`, declared }))
      })
      const started = performance.now()
      yield* Effect.forEach(resolved.targets, (t) => store.clean(resolved, t), { discard: true })
      const elapsed = (performance.now() - started) / 1000
      const left = yield* spark.collect(yield* spark.sql(`SELECT count(*) AS n FROM text.\`${root}/t*\``))
      expect(left).toEqual([{ n: 0n }])
      return elapsed
    })
  )
  console.log(
    `cleanup of ${targets} HDFS targets through Spark: ${seconds.toFixed(2)} s (${((seconds / targets) * 1000).toFixed(0)} ms each)`
  )
  const results = process.env["SPARK_ETL_BENCH_RESULTS"]
  if (results)
    fs.appendFileSync(
      results,
      `${JSON.stringify({ figure: `spark-path cleanup of ${targets} HDFS targets`, unit: "s", ours: seconds })}\n`
    )
}, 600_000)
