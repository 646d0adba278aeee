// The sample batch moved onto HDFS (the harness's, or a cluster's default filesystem), through
// a Spark session of the test's own: the test process has no HDFS client, as the CLI's host.
import { Effect } from "effect"
import { NodeServices } from "@effect/platform-node"
import { SparkSession } from "@spark-etl/runner-spark-connect"
import * as fs from "node:fs"
import * as path from "node:path"
import { randomUUID } from "node:crypto"
import { inject } from "vitest"
import { readBack, spark } from "./harness.js"

/** Runs `work` on a session of `remote` (default: the test run's Spark). */
const onSpark = <A>(work: (s: SparkSession.Session) => Effect.Effect<A, unknown>, remote = spark()) =>
  Effect.runPromise(
    Effect.gen(function* () {
      return yield* work(yield* SparkSession.make({ remote }))
    }).pipe(Effect.scoped, Effect.provide(NodeServices.layer))
  )

/** A text file (or one line) as a one-file text dataset at `uri`, its lines in order. */
export const putText = (uri: string, text: { readonly file?: string; readonly line?: string }) =>
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

/** The lines of a text dataset. */
export const lines = (uri: string): Promise<ReadonlyArray<Readonly<Record<string, unknown>>>> =>
  onSpark((s) => Effect.flatMap(s.sql(`SELECT value FROM text.\`${uri}\``), (df) => s.collect(df)))

/** A fresh folder on the harness's HDFS. */
export const hdfsBase = (): string => `${inject("hdfsUri")}/e2e-${randomUUID().slice(0, 8)}`

/**
 * Puts the sample batch's inputs under `base`, creates its target root there (with a sentinel
 * beside the targets, and one outside the root), and rewrites the batch file to read and write
 * there through `targets.store: spark-path`.
 */
export const moveSample = async (s: { readonly dir: string; readonly batch: string }, base: string) => {
  for (const file of ["orders.csv", "customers.csv"])
    await putText(`${base}/data/${file}`, { file: path.join(s.dir, "data", file) })
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
}

interface Expected {
  readonly clean_orders: number
  readonly daily_totals: ReadonlyArray<{ order_date: string; orders: number; total: string }>
}

/** The sample's outputs under `base` against the generator's answers, and the sentinels. */
export const sampleOutputs = async (
  s: { readonly dir: string },
  base: string
): Promise<{ readonly expected: unknown; readonly actual: unknown }> => {
  const expected = JSON.parse(
    fs.readFileSync(path.join(s.dir, "data", "expected", "results.json"), "utf8")
  ) as Expected
  return {
    expected: {
      daily: expected.daily_totals,
      clean: [{ n: BigInt(expected.clean_orders), d: BigInt(expected.clean_orders) }],
      sentinels: [[{ value: "beside the targets" }], [{ value: "outside the root" }]]
    },
    actual: {
      daily: await readBack(
        { daily_totals: `${base}/output/daily_totals` },
        "SELECT CAST(order_date AS STRING) AS order_date, CAST(orders AS INT) AS orders, CAST(total AS STRING) AS total FROM daily_totals ORDER BY order_date"
      ),
      clean: await readBack(
        { orders_clean: `${base}/output/orders_clean` },
        "SELECT count(*) AS n, count(DISTINCT order_id) AS d FROM orders_clean"
      ),
      sentinels: [await lines(`${base}/output/sentinel`), await lines(`${base}/outside`)]
    }
  }
}
