// JDBC throughput through the runner: a 1M-row PostgreSQL table read into a rule's view (cached,
// so the rule reads it all), and 1M rows loaded into a table (truncate, then insert). Prints
// rows per second; asserts only that every row arrived. Run with `npm run bench`.
import { Effect } from "effect"
import { expect, it } from "vitest"
import { connection, psql, run, runRule, sparkRows, unique } from "../test/integration/harness.js"

const rows = 1_000_000

const timed = async <A>(what: string, f: () => Promise<A>): Promise<A> => {
  const started = performance.now()
  const result = await f()
  const seconds = (performance.now() - started) / 1000
  console.log(`${what}: ${rows} rows in ${seconds.toFixed(1)} s, ${Math.round(rows / seconds)} rows/s`)
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
  await Effect.runPromise(psql(`DROP TABLE ${source}; DROP TABLE ${target};`))
}, 600_000)
