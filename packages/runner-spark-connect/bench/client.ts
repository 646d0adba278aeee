/**
 * Our side of the benchmark: one case per process, so /usr/bin/time's peak RSS is the case's.
 * Usage: node bench/client.ts <arrow|rows|stream|select1> <sc://host:port> [timed runs]
 * Prints one JSON line: the median time of the timed runs after warm-up.
 */
// Module imports, not the barrels: "effect" loads all of Effect, some 30 MiB of a process that
// needs little of it. A session on a remote server needs no platform services at all.
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
import { SparkSession } from "@spark-etl/runner-spark-connect"

/** 1,000,000 rows × 5 columns: long, double, string, date, decimal(18,2). */
const query = `SELECT id AS l, id * 1.5D AS d, concat('row-', id) AS s,
  date_add(DATE'2020-01-01', CAST(id % 3650 AS INT)) AS dt, CAST(id / 100 AS DECIMAL(18,2)) AS dec
  FROM range(1000000)`

/**
 * Warm-up and timed runs per mode: SELECT 1 is the median of 200 after 20 warm-ups; a 1M-row case
 * the median of 5 (of 3, one slow query moved the Arrow figure by ±10 % between runs). A third
 * argument sets the timed runs (run.sh's longer-lived SELECT 1 process).
 */
const plan = (mode: string, runs: number | undefined) =>
  mode === "select1" ? { warmup: 20, runs: runs ?? 200 } : { warmup: 1, runs: runs ?? 5 }

/** Runs the case, checks its row count, and returns the timed durations in ms. */
const timed = <E>(
  mode: string,
  timedRuns: number | undefined,
  once: Effect.Effect<number, E>
): Effect.Effect<Array<number>, E | Error> =>
  Effect.gen(function* () {
    const { warmup, runs } = plan(mode, timedRuns)
    const expected = mode === "select1" ? 1 : 1_000_000
    for (let i = 0; i < warmup; i++) yield* once
    const times: Array<number> = []
    for (let i = 0; i < runs; i++) {
      const start = performance.now()
      const rows = yield* once
      times.push(performance.now() - start)
      if (rows !== expected)
        return yield* Effect.fail(new Error(`${mode}: ${rows} rows, expected ${expected}`))
    }
    return times
  })

const median = (xs: ReadonlyArray<number>) => {
  const s = [...xs].sort((a, b) => a - b)
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2
}

/** One JSON line on stdout for run.sh. */
const report = (client: string, mode: string, times: ReadonlyArray<number>): void => {
  console.log(
    JSON.stringify({ client, mode, medianMs: Number(median(times).toFixed(2)), runs: times.length })
  )
}

const [mode = "select1", remote = process.env["SPARK_REMOTE"] ?? "", runsArg] = process.argv.slice(2)
const timedRuns = runsArg === undefined ? undefined : Number(runsArg)

const program = Effect.gen(function* () {
  if (!SparkSession.isRemoteUrl(remote))
    return yield* Effect.fail(new Error(`expected a server's sc://host:port, got "${remote}"`))
  if (timedRuns !== undefined && !(Number.isInteger(timedRuns) && timedRuns > 0))
    return yield* Effect.fail(new Error(`expected a positive whole number of timed runs, got "${runsArg}"`))
  const spark = yield* SparkSession.make({ remote })
  const once: Effect.Effect<number, unknown> =
    mode === "select1"
      ? Effect.flatMap(spark.sql("SELECT 1 AS one"), (df) => Effect.map(spark.collect(df), (r) => r.length))
      : mode === "arrow"
        ? Effect.flatMap(spark.sql(query), (df) => Effect.map(spark.toArrow(df), (t) => t.numRows))
        : mode === "rows"
          ? Effect.flatMap(spark.sql(query), (df) => Effect.map(spark.collect(df), (r) => r.length))
          : Effect.flatMap(spark.sql(query), (df) =>
              Stream.runFold(
                spark.stream(df),
                () => 0,
                (n, batch) => n + batch.numRows
              )
            )
  const runs = yield* timed(mode, timedRuns, once)
  report("spark-etl", mode, runs)
}).pipe(Effect.scoped)

await Effect.runPromise(program)
