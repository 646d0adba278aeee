// DataFrameWriter semantics against the real server: formats, modes, partitioning, tables.
import { Effect } from "effect"
import * as os from "node:os"
import * as path from "node:path"
import { describe, expect, it } from "vitest"
import { failureOf, session, unique, withSession } from "./harness.js"

const scratch = (name: string) => path.join(os.tmpdir(), "spark-etl-write-tests", unique(name))

describe("SparkSession.write", () => {
  it("writes parquet partitioned by a column and reads it back from the path", async () => {
    const target = scratch("parquet")
    const [count, schema, perDay] = await session((spark) =>
      Effect.gen(function* () {
        const df = yield* spark.sql("SELECT id, CAST(id % 3 AS STRING) AS day FROM range(30)")
        yield* spark.write(df, {
          format: "parquet",
          mode: "overwrite",
          partitionBy: ["day"],
          target: { path: target }
        })
        const back = spark.read({ format: "parquet", paths: [target] })
        const perDay = yield* spark.createTempView(back, "written").pipe(
          Effect.andThen(spark.sql("SELECT day, count(*) AS n FROM written GROUP BY day ORDER BY day")),
          Effect.flatMap((d) => spark.collect(d))
        )
        return [yield* spark.count(back), yield* spark.schema(back), perDay] as const
      })
    )
    expect(count).toBe(30n)
    expect(schema.map((c) => c.name)).toEqual(["id", "day"])
    expect(perDay).toEqual([
      { day: 0, n: 10n },
      { day: 1, n: 10n },
      { day: 2, n: 10n }
    ])
  })

  it("follows the save modes: errorIfExists, ignore, append, overwrite", async () => {
    const target = scratch("modes")
    const counts = await session((spark) =>
      Effect.gen(function* () {
        const df = yield* spark.sql("SELECT id FROM range(5)")
        const back = spark.read({ format: "parquet", paths: [target] })
        const write = (mode: "overwrite" | "append" | "errorIfExists" | "ignore") =>
          spark.write(df, { format: "parquet", mode, target: { path: target } })
        yield* write("errorIfExists")
        const exists = yield* Effect.flip(write("errorIfExists"))
        yield* write("ignore")
        const afterIgnore = yield* spark.count(back)
        yield* write("append")
        const afterAppend = yield* spark.count(back)
        yield* write("overwrite")
        const afterOverwrite = yield* spark.count(back)
        return { exists, afterIgnore, afterAppend, afterOverwrite }
      })
    )
    expect(counts.exists).toMatchObject({ _tag: "SparkAnalysisError", errorClass: "PATH_ALREADY_EXISTS" })
    expect(counts.afterIgnore).toBe(5n)
    expect(counts.afterAppend).toBe(10n)
    expect(counts.afterOverwrite).toBe(5n)
  })

  it.each([
    ["csv", { header: "true" }, "id BIGINT, label STRING"],
    ["json", {}, "id BIGINT, label STRING"],
    ["orc", {}, undefined],
    ["parquet", {}, undefined]
  ] as const)("round-trips rows through %s with options", async (format, options, schema) => {
    const target = scratch(format)
    const rows = await session((spark) =>
      Effect.gen(function* () {
        const df = yield* spark.sql("SELECT id, concat('row-', id) AS label FROM range(3)")
        yield* spark.write(df, { format, mode: "overwrite", options, target: { path: target } })
        const back = spark.read({ format, paths: [target], options, ...(schema ? { schema } : {}) })
        yield* spark.createTempView(back, "round_trip")
        return yield* Effect.flatMap(spark.sql("SELECT id, label FROM round_trip ORDER BY id"), (d) =>
          spark.collect(d)
        )
      })
    )
    expect(rows).toEqual([
      { id: 0n, label: "row-0" },
      { id: 1n, label: "row-1" },
      { id: 2n, label: "row-2" }
    ])
  })

  it("writes text from a single string column", async () => {
    const target = scratch("text")
    const rows = await session((spark) =>
      Effect.gen(function* () {
        const df = yield* spark.sql("SELECT concat('line ', id) AS value FROM range(2)")
        yield* spark.write(df, { format: "text", mode: "overwrite", target: { path: target } })
        yield* spark.createTempView(spark.read({ format: "text", paths: [target] }), "lines")
        return yield* Effect.flatMap(spark.sql("SELECT value FROM lines ORDER BY value"), (d) =>
          spark.collect(d)
        )
      })
    )
    expect(rows).toEqual([{ value: "line 0" }, { value: "line 1" }])
  })

  it("saves as a table, inserts into it, and reads it by name", async () => {
    const table = unique("t")
    const rows = await session((spark) =>
      Effect.gen(function* () {
        const first = yield* spark.sql("SELECT id FROM range(2)")
        yield* spark.write(first, { format: "parquet", mode: "overwrite", target: { saveAsTable: table } })
        const more = yield* spark.sql("SELECT id FROM range(10, 11)")
        yield* spark.write(more, { mode: "append", target: { insertInto: table } })
        const rows = yield* spark.collect(spark.table(table))
        yield* spark.sql(`DROP TABLE ${table}`)
        return rows
      })
    )
    expect([...rows].sort((a, b) => Number(a["id"]) - Number(b["id"]))).toEqual([
      { id: 0n },
      { id: 1n },
      { id: 10n }
    ])
  })

  it("fails an insert into a missing table as an analysis error naming it", async () => {
    const table = unique("missing")
    const exit = await withSession((spark) =>
      Effect.flatMap(spark.sql("SELECT 1 AS id"), (df) => spark.write(df, { target: { insertInto: table } }))
    )
    const error = failureOf(exit)
    expect(error).toMatchObject({ _tag: "SparkAnalysisError", errorClass: "TABLE_OR_VIEW_NOT_FOUND" })
    expect(error?.message).toContain(table)
  })
})
