// The sample batch with its inputs and targets on HDFS (the harness's, by URI), its targets
// cleaned through Spark (`targets.store: spark-path`): the outputs equal the generator's
// answers, a rerun leaves every output once, and what lies beside the targets and outside
// the root stays. The CLI's host touches HDFS only through the Spark session.
import { Effect } from "effect"
import { NodeServices } from "@effect/platform-node"
import { SparkSession } from "@spark-etl/runner-spark-connect"
import * as fs from "node:fs"
import * as path from "node:path"
import { randomUUID } from "node:crypto"
import { describe, expect, inject, it } from "vitest"
import { readBack, runSample, sampleBatch, spark, topic } from "./harness.js"

interface Expected {
  readonly clean_orders: number
  readonly daily_totals: ReadonlyArray<{ order_date: string; orders: number; total: string }>
}

// Through the test's own Spark session: the test process has no HDFS client either.
const onSpark = <A>(work: (s: SparkSession.Session) => Effect.Effect<A, unknown>) =>
  Effect.runPromise(
    Effect.gen(function* () {
      return yield* work(yield* SparkSession.make({ remote: spark() }))
    }).pipe(Effect.scoped, Effect.provide(NodeServices.layer))
  )

// A text file (or line) put on HDFS as a one-file text dataset at `uri`, lines in order.
const putText = (uri: string, text: { readonly file?: string; readonly line?: string }) =>
  onSpark((s) =>
    Effect.flatMap(
      s.sql(
        text.file !== undefined
          ? `SELECT value FROM text.\`file://${text.file}\``
          : `SELECT '${text.line ?? ""}' AS value`
      ),
      (df) => s.write(df, { format: "text", mode: "overwrite", target: { path: uri } })
    )
  )

const lines = (uri: string) =>
  onSpark((s) => Effect.flatMap(s.sql(`SELECT value FROM text.\`${uri}\``), (df) => s.collect(df)))

describe("the sample batch on HDFS", () => {
  it("inputs and targets as hdfs:// URIs: answers right, a rerun leaves them once, sentinels stay", async () => {
    const s = sampleBatch()
    const base = `${inject("hdfsUri")}/e2e-${randomUUID().slice(0, 8)}`
    for (const file of ["orders.csv", "customers.csv"])
      await putText(`${base}/data/${file}`, { file: path.join(s.dir, "data", file) })
    // The root must exist on the cluster; a sentinel beside the targets makes it so.
    await putText(`${base}/output/sentinel`, { line: "beside the targets" })
    await putText(`${base}/outside`, { line: "outside the root" })
    fs.writeFileSync(
      s.batch,
      fs
        .readFileSync(s.batch, "utf8")
        .replace("roots: [output]", `store: spark-path\n  roots: ["${base}/output"]`)
        .replaceAll("target: output/", `target: ${base}/output/`)
        .replaceAll("path: data/", `path: ${base}/data/`)
    )
    const t = await topic("hdfs")
    for (const attempt of [1, 2]) {
      const r = await runSample(s, t)
      expect(r.code, `run ${attempt}: ${r.stderr}\n${r.stdout}`).toBe(0)
    }
    const expected = JSON.parse(
      fs.readFileSync(path.join(s.dir, "data", "expected", "results.json"), "utf8")
    ) as Expected
    expect(
      await readBack(
        { daily_totals: `${base}/output/daily_totals` },
        "SELECT CAST(order_date AS STRING) AS order_date, CAST(orders AS INT) AS orders, CAST(total AS STRING) AS total FROM daily_totals ORDER BY order_date"
      )
    ).toEqual(expected.daily_totals)
    expect(
      await readBack(
        { orders_clean: `${base}/output/orders_clean` },
        "SELECT count(*) AS n, count(DISTINCT order_id) AS d FROM orders_clean"
      )
    ).toEqual([{ n: BigInt(expected.clean_orders), d: BigInt(expected.clean_orders) }])
    expect(await lines(`${base}/output/sentinel`)).toEqual([{ value: "beside the targets" }])
    expect(await lines(`${base}/outside`)).toEqual([{ value: "outside the root" }])
  })
})
