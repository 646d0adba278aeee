// JDBC throughput through the runner: a 1M-row PostgreSQL table read into a rule's view (cached,
// so the rule reads it all), and 1M rows loaded into a table (truncate, then insert; and staged,
// alone), each beside the same work through Spark's own JDBC source driven by pyspark-client 4.2.0 on the
// same server (bench/pyspark_jdbc.py, its venv made on first use as the client bench makes it).
// Prints rows per second and the ratio; asserts only that every row arrived. `npm run bench`.
import * as Effect from "effect/Effect"
import type { SparkSession } from "@spark-etl/runner-spark-connect"
import { expect, inject, it } from "vitest"
import { execFileSync } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { connection, psql, run, runRule, sparkRows, unique } from "../test/integration/harness.js"

/** pyspark-client 4.2.0, in runner-spark-connect's venv (made on first use). */
const pythonOfPyspark = (): string =>
  execFileSync(
    path.join(import.meta.dirname, "../../runner-spark-connect/bench/pyspark-venv.sh"),
    ["4.2.0"],
    {
      encoding: "utf8",
      stdio: ["ignore", "pipe", "inherit"]
    }
  ).trim()

/** Seconds pyspark-client takes for the same work (`read` or `write`) on the same server. */
const pyspark = (mode: "read" | "write", table: string): number => {
  const python = pythonOfPyspark()
  const db = inject("postgres")
  const out = execFileSync(
    python,
    [
      path.join(import.meta.dirname, "pyspark_jdbc.py"),
      mode,
      inject("sparkRemote"),
      db.jdbcUrl,
      table,
      String(rows)
    ],
    {
      encoding: "utf8",
      env: { ...process.env, PG_USER: db.user, PG_PASSWORD: db.password, PYTHONWARNINGS: "ignore" }
    }
  )
  return (JSON.parse(out.trim().split("\n").at(-1)!) as { seconds: number }).seconds
}

const compare = (what: string, ours: number, theirs: number) => {
  console.log(
    `${what}: spark-etl ${ours.toFixed(1)} s, pyspark-client ${theirs.toFixed(1)} s, ratio ${(ours / theirs).toFixed(2)}`
  )
  const results = process.env["SPARK_ETL_BENCH_RESULTS"]
  if (results)
    fs.appendFileSync(
      results,
      `${JSON.stringify({ figure: `jdbc ${what}, 1M rows`, unit: "s", ours, against: theirs, againstName: "pyspark-client 4.2.0, Spark's JDBC source" })}\n`
    )
}

const rows = 1_000_000
// Each compared figure is the median of this many runs, ours and pyspark's taking turns: one
// run of a write varies by a third here (PostgreSQL's checkpoints, WAL flushes).
const rounds = 3

const median = (xs: ReadonlyArray<number>): number =>
  [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!

const report = (what: string, all: ReadonlyArray<number>): number => {
  const s = median(all)
  console.log(
    `${what}: ${rows} rows in ${s.toFixed(1)} s (median of ${all.map((x) => x.toFixed(1)).join(", ")}), ${Math.round(rows / s)} rows/s`
  )
  return s
}

// Seconds of `work`, timed inside the program with its Spark session open (pyspark_jdbc.py's
// clock also starts after its session is made); `check` then runs in the same session, untimed.
const timed = <E, E2>(
  work: Effect.Effect<void, E, SparkSession.SparkSession>,
  check: Effect.Effect<void, E2, SparkSession.SparkSession>
): Promise<number> =>
  run(
    Effect.gen(function* () {
      const started = performance.now()
      yield* work
      const seconds = (performance.now() - started) / 1000
      yield* check
      return seconds
    })
  )

const allRows = (count: Effect.Effect<ReadonlyArray<unknown>, unknown, SparkSession.SparkSession>) =>
  Effect.flatMap(count, (result) => Effect.sync(() => expect(result).toEqual([{ n: BigInt(rows) }])))

it("reads and loads 1M rows", async () => {
  const [source, target] = [unique("bench_src"), unique("bench_dst")]
  await Effect.runPromise(
    psql(
      `CREATE TABLE ${source} AS SELECT g AS id, md5(g::text) AS name, (g % 1000)::numeric(10,2) AS amount FROM generate_series(1, ${rows}) g;
       CREATE TABLE ${target} (id bigint PRIMARY KEY, name text, amount numeric(10,2));`
    )
  )
  const loaded = async () =>
    expect((await Effect.runPromise(psql(`SELECT count(*) FROM ${target}`))).trim()).toBe(String(rows))
  const read = (options: Record<string, unknown>) => {
    const id = unique("bench_read")
    return timed(
      runRule({
        id,
        options: { ...connection(), read: { table: source, cache: true, fetch_size: 10_000, ...options } }
      }),
      // The count checks the rows the rule cached; pyspark's count is its read itself.
      allRows(sparkRows(`SELECT count(*) AS n FROM ${id}`))
    )
  }
  const write = async (partitions: number, options: Record<string, unknown> = {}) => {
    const view = unique("bench_view")
    const seconds = await timed(
      Effect.andThen(
        sparkRows(
          `CREATE OR REPLACE TEMP VIEW ${view} AS SELECT /*+ REPARTITION(${partitions}) */ id, md5(CAST(id AS STRING)) AS name, CAST(id % 1000 AS DECIMAL(10,2)) AS amount FROM range(1, ${rows + 1})`
        ),
        runRule({
          id: unique("bench_load"),
          dependsOn: [view],
          options: {
            ...connection(),
            write: { from: view, table: target, batch_size: 10_000, num_partitions: partitions, ...options }
          }
        })
      ),
      Effect.void
    )
    await loaded()
    return seconds
  }

  // A warm-up of both paths (the JVM's code, the database's buffers), so that neither side pays
  // for coming first.
  pyspark("read", source)
  pyspark("write", target)
  const ours = { read: [] as Array<number>, write: [] as Array<number> }
  const theirs = { read: [] as Array<number>, write: [] as Array<number> }
  for (let round = 0; round < rounds; round++) {
    ours.read.push(await read({}))
    theirs.read.push(pyspark("read", source))
    ours.write.push(await write(1))
    theirs.write.push(pyspark("write", target))
    await loaded()
  }
  compare("read, one connection", report("read, one connection", ours.read), median(theirs.read))
  compare(
    "write, 1 connection(s), batch 10000",
    report("write, 1 connection, batch 10000", ours.write),
    median(theirs.write)
  )
  report("read, 4 partitions", [
    await read({ partition: { column: "id", lower_bound: 1, upper_bound: rows, num_partitions: 4 } })
  ])
  report("write, 4 connections, batch 10000", [await write(4)])
  // Staged: the same rows to the staging table, then one transaction deletes the key range
  // (every id here) and moves them in: the price of atomicity. Last: its delete leaves 1M dead
  // rows for PostgreSQL's autovacuum to clean, which would slow the runs after it.
  const staged: Array<number> = []
  for (let round = 0; round < rounds; round++)
    staged.push(await write(1, { mode: "delete_key_range", key: "id" }))
  report("write staged (delete_key_range), 1 connection, batch 10000", staged)
  await Effect.runPromise(psql(`DROP TABLE ${source}; DROP TABLE ${target};`))
}, 1_200_000)
