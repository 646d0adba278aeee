// JDBC throughput through the runner: a 1M-row PostgreSQL table read into a rule's view (cached,
// so the rule reads it all), and 1M rows loaded into a table (truncate, then insert), each
// beside the same work through Spark's own JDBC source driven by pyspark-client 4.2.0 on the
// same server (bench/pyspark_jdbc.py, its venv made on first use as the client bench makes it).
// Prints rows per second and the ratio; asserts only that every row arrived. `npm run bench`.
import { Effect } from "effect"
import { expect, inject, it } from "vitest"
import { execFileSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { connection, psql, run, runRule, sparkRows, unique } from "../test/integration/harness.js"

// The venv of packages/runner-spark-connect/bench/run.sh: the system python3 has no pyspark.
const venv = path.join(
  process.env["SPARK_ETL_CACHE"] ?? path.join(os.homedir(), ".cache", "spark-etl"),
  "pyspark-client-4.2.0"
)
const python = path.join(venv, "bin", "python")

/** Seconds pyspark-client takes for the same work (`read` or `write`) on the same server. */
const pyspark = (mode: "read" | "write", table: string): number => {
  if (!fs.existsSync(python)) {
    execFileSync("python3", ["-m", "venv", venv])
    execFileSync(path.join(venv, "bin", "pip"), ["install", "-q", "pyspark-client==4.2.0"])
  }
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

const seconds: Record<string, number> = {}
const timed = async <A>(what: string, f: () => Promise<A>): Promise<A> => {
  const started = performance.now()
  const result = await f()
  seconds[what] = (performance.now() - started) / 1000
  console.log(
    `${what}: ${rows} rows in ${seconds[what].toFixed(1)} s, ${Math.round(rows / seconds[what])} rows/s`
  )
  return result
}

it("reads and loads 1M rows", async () => {
  const [source, target] = [unique("bench_src"), unique("bench_dst")]
  await Effect.runPromise(
    psql(
      `CREATE TABLE ${source} AS SELECT g AS id, md5(g::text) AS name, (g % 1000)::numeric(10,2) AS amount FROM generate_series(1, ${rows}) g;
       CREATE TABLE ${target} (id bigint PRIMARY KEY, name text, amount numeric(10,2));`
    )
  )
  // A warm-up of both paths (the JVM's code, the database's buffers), so that neither side pays
  // for coming first.
  pyspark("read", source)
  pyspark("write", target)
  for (const [label, read] of [
    ["read, one connection", { table: source, cache: true, fetch_size: 10_000 }],
    [
      "read, 4 partitions",
      {
        table: source,
        cache: true,
        fetch_size: 10_000,
        partition: { column: "id", lower_bound: 1, upper_bound: rows, num_partitions: 4 }
      }
    ]
  ] as const) {
    const id = unique("bench_read")
    const count = await timed(label, () =>
      run(
        Effect.andThen(
          runRule({ id, options: { ...connection(), read } }),
          sparkRows(`SELECT count(*) AS n FROM ${id}`)
        )
      )
    )
    expect(count).toEqual([{ n: BigInt(rows) }])
  }
  for (const partitions of [1, 4]) {
    const view = unique("bench_view")
    await timed(`write, ${partitions} connection(s), batch 10000`, () =>
      run(
        Effect.andThen(
          sparkRows(
            `CREATE OR REPLACE TEMP VIEW ${view} AS SELECT /*+ REPARTITION(${partitions}) */ id, md5(CAST(id AS STRING)) AS name, CAST(id % 1000 AS DECIMAL(10,2)) AS amount FROM range(1, ${rows + 1})`
          ),
          runRule({
            id: unique("bench_load"),
            dependsOn: [view],
            options: {
              ...connection(),
              write: { from: view, table: target, batch_size: 10_000, num_partitions: partitions }
            }
          })
        )
      )
    )
    expect((await Effect.runPromise(psql(`SELECT count(*) FROM ${target}`))).trim()).toBe(String(rows))
  }
  compare("read, one connection", seconds["read, one connection"]!, pyspark("read", source))
  compare(
    "write, 1 connection(s), batch 10000",
    seconds["write, 1 connection(s), batch 10000"]!,
    pyspark("write", target)
  )
  expect((await Effect.runPromise(psql(`SELECT count(*) FROM ${target}`))).trim()).toBe(String(rows))
  await Effect.runPromise(psql(`DROP TABLE ${source}; DROP TABLE ${target};`))
}, 600_000)
