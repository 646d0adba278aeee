// Queries end to end on the shared server: SqlCommand, bound parameters, rows, Arrow, streams.
import { Effect, Option, Stream } from "effect"
import { describe, expect, it } from "vitest"
import { session, unique } from "./harness.js"

describe("SparkSession queries", () => {
  it("collects SELECT 1 as a row", async () => {
    const rows = await session((spark) =>
      Effect.flatMap(spark.sql("SELECT 1 AS one"), (df) => spark.collect(df))
    )
    expect(rows).toEqual([{ one: 1 }])
  })

  it("binds named parameters as values, never as SQL text", async () => {
    const hostile = "x'; DROP TABLE t; --"
    const rows = await session((spark) =>
      Effect.flatMap(
        spark.sql("SELECT :s AS s, :n AS n, :big AS big, :flag AS flag, :nothing AS nothing", {
          params: { s: hostile, n: 42, big: 9007199254740993n, flag: true, nothing: null }
        }),
        (df) => spark.collect(df)
      )
    )
    expect(rows).toEqual([{ s: hostile, n: 42, big: 9007199254740993n, flag: true, nothing: null }])
  })

  it("binds positional parameters", async () => {
    const rows = await session((spark) =>
      Effect.flatMap(spark.sql("SELECT ? + ? AS total, ? AS half", { params: [40, 2, 0.5] }), (df) =>
        spark.collect(df)
      )
    )
    expect(rows).toEqual([{ total: 42, half: 0.5 }])
  })

  it("query: a plan made without a round trip, its parameters bound by Spark where it is used", async () => {
    const hostile = "x'; DROP TABLE t; --"
    const result = await session((spark) =>
      Effect.gen(function* () {
        const named = spark.query("SELECT :s AS s, :n AS n, :nothing AS nothing", {
          s: hostile,
          n: 42,
          nothing: null
        })
        const positional = spark.query("SELECT ? + ? AS total", [40, 2])
        const view = unique("query_view")
        yield* spark.createTempView(positional, view)
        return {
          named: yield* spark.collect(named),
          viewed: yield* spark.collect(spark.table(view)),
          counted: yield* spark.count(spark.query("SELECT * FROM range(5)"))
        }
      })
    )
    expect(result).toEqual({
      named: [{ s: hostile, n: 42, nothing: null }],
      viewed: [{ total: 42 }],
      counted: 5n
    })
  })

  it("query: a bad query fails where it is used, as Spark's SQL error", async () => {
    const exit = await session((spark) =>
      Effect.exit(spark.collect(spark.query("SELECT nope FROM range(1)")))
    )
    expect(String(exit)).toContain("UNRESOLVED_COLUMN")
  })

  it("returns an Arrow table with Spark's schema", async () => {
    const table = await session((spark) =>
      Effect.flatMap(spark.sql("SELECT id, id * 2 AS twice FROM range(5)"), (df) => spark.toArrow(df))
    )
    expect(table.numRows).toBe(5)
    expect(table.schema.fields.map((f) => f.name)).toEqual(["id", "twice"])
    expect(table.getChild("twice")?.toArray()).toEqual(BigInt64Array.from([0n, 2n, 4n, 6n, 8n]))
  })

  it("streams 1,000,000 rows batch by batch with every row accounted for", async () => {
    const result = await session((spark) =>
      Effect.flatMap(spark.sql("SELECT id, uuid() AS pad FROM range(1000000)"), (df) =>
        spark.stream(df).pipe(
          Stream.runFold(
            () => ({ batches: 0, rows: 0, sum: 0n, maxBatch: 0 }),
            (acc, batch) => {
              const ids = batch.getChild("id")!.toArray() as BigInt64Array
              let sum = acc.sum
              for (const id of ids) sum += id
              return {
                batches: acc.batches + 1,
                rows: acc.rows + batch.numRows,
                sum,
                maxBatch: Math.max(acc.maxBatch, batch.numRows)
              }
            }
          )
        )
      )
    )
    expect(result.rows).toBe(1_000_000)
    expect(result.sum).toBe(499999500000n)
    expect(result.batches).toBeGreaterThan(1)
    expect(result.maxBatch).toBeLessThan(1_000_000)
  })

  it("streams rows and stops the server's work when the consumer takes only a few", async () => {
    const rows = await session((spark) =>
      Effect.flatMap(spark.sql("SELECT id FROM range(10000000)"), (df) =>
        spark.streamRows(df).pipe(Stream.take(3), Stream.runCollect)
      )
    )
    expect(rows).toEqual([{ id: 0n }, { id: 1n }, { id: 2n }])
  })

  it("reports a schema from AnalyzePlan and counts rows", async () => {
    const [schema, count] = await session((spark) =>
      Effect.flatMap(
        spark.sql("SELECT id, CAST(id AS DECIMAL(18,2)) AS amount, 'x' AS label FROM range(1234)"),
        (df) => Effect.all([spark.schema(df), spark.count(df)])
      )
    )
    expect(schema).toEqual([
      { name: "id", type: "bigint", nullable: false },
      // A cast to decimal may overflow, so Spark marks it nullable.
      { name: "amount", type: "decimal(18,2)", nullable: true },
      { name: "label", type: "string", nullable: false }
    ])
    expect(count).toBe(1234n)
  })

  it("sets, reads and unsets runtime configuration", async () => {
    const [set, unset] = await session((spark) =>
      Effect.gen(function* () {
        yield* spark.setConf({ "spark.sql.shuffle.partitions": "7" })
        const set = yield* spark.getConf("spark.sql.shuffle.partitions")
        yield* spark.unsetConf(["spark.sql.shuffle.partitions"])
        const unset = yield* spark.getConf("spark.etl.unset.key")
        return [set, unset] as const
      })
    )
    expect(set).toEqual(Option.some("7"))
    expect(unset).toEqual(Option.none())
  })

  it("creates a temp view and reads it back as a table", async () => {
    const view = unique("v")
    const rows = await session((spark) =>
      Effect.gen(function* () {
        const df = yield* spark.sql("SELECT id FROM range(3)")
        yield* spark.createTempView(df, view)
        return yield* spark.collect(spark.table(view))
      })
    )
    expect(rows).toEqual([{ id: 0n }, { id: 1n }, { id: 2n }])
  })

  it("keeps a temp view to its own session", async () => {
    const view = unique("v")
    await session((spark) =>
      Effect.flatMap(spark.sql("SELECT 1 AS x"), (df) => spark.createTempView(df, view))
    )
    const exit = await session((spark) => Effect.exit(spark.collect(spark.table(view))))
    expect(exit._tag).toBe("Failure")
  })
})
