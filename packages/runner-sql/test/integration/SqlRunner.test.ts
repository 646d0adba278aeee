// The sql runner end to end on the shared server: statements, views, parameters, inputs,
// targets and error mapping.
import { SparkSession } from "@spark-etl/runner-spark-connect"
import { Effect } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import { describe, expect, it } from "vitest"
import { failureOf, rows, run, runRule, tempDir, unique } from "./harness.js"

const date = (value: string) => ({ type: "date", value, text: value }) as const
const text = (value: string) => ({ type: "string", value, text: value }) as const

describe("sql rules: statements and views", () => {
  it("runs every statement, keeps the last one's result as a view named after the rule, for dependents", async () => {
    const base = unique("base")
    const totals = unique("totals")
    const helper = unique("helper")
    const result = await run(
      Effect.gen(function* () {
        yield* runRule({
          id: base,
          options: {
            sql: `CREATE OR REPLACE TEMP VIEW ${helper} AS SELECT id FROM range(5);\nSELECT id, id % 2 AS parity FROM ${helper}`
          }
        })
        yield* runRule({
          id: totals,
          options: { sql: `SELECT parity, count(*) AS n FROM ${base} GROUP BY parity ORDER BY parity` }
        })
        return yield* rows(`SELECT * FROM ${totals}`)
      })
    )
    expect(result).toEqual([
      { parity: 0n, n: 3n },
      { parity: 1n, n: 2n }
    ])
  })

  it("reads its SQL from a file relative to the batch directory, with its parameter bound", async () => {
    const id = unique("from_file")
    const result = await run(
      Effect.andThen(
        runRule({
          id,
          batchDir: path.resolve(import.meta.dirname, "..", "fixtures"),
          options: { file: "two_statements.sql" },
          parameters: { min_id: { type: "int", value: 1, text: "1" } }
        }),
        rows(`SELECT * FROM ${id} ORDER BY ten_times`)
      )
    )
    expect(result).toEqual([{ ten_times: 10n }, { ten_times: 20n }])
  })

  it("a statement rule without a target runs its commands and writes nothing", async () => {
    const id = unique("statement_rule")
    const made = unique("made")
    const result = await run(
      Effect.andThen(
        runRule({ id, options: { sql: `CREATE OR REPLACE TEMP VIEW ${made} AS SELECT 'ok' AS status` } }),
        rows(`SELECT * FROM ${made}`)
      )
    )
    expect(result).toEqual([{ status: "ok" }])
  })

  it("refuses write options on a rule without a target", async () => {
    const failure = await failureOf(
      runRule({ id: unique("no_target"), options: { sql: "SELECT 1 AS a", format: "csv" } })
    )
    expect(failure).toMatchObject({ _tag: "TargetError", code: "TARGET_NOT_DECLARED" })
    expect(failure.message).toContain('sets "format" but declares no target')
  })
})

describe("sql rules: parameters", () => {
  it("binds a hostile value as data: quotes and '; DROP TABLE' land in the row, the table survives", async () => {
    const victim = unique("victim")
    const id = unique("hostile")
    const payload = `x'); DROP TABLE ${victim}; --"\\`
    const result = await run(
      Effect.gen(function* () {
        const spark = yield* SparkSession.SparkSession
        yield* spark.sql(`CREATE TABLE ${victim} (a INT) USING parquet`)
        yield* runRule({
          id,
          options: { sql: "SELECT :note AS note, :run_date AS day, DATE(:run_date) AS typed_day" },
          parameters: { note: text(payload), run_date: date("2026-11-26"), unused: text("never bound") }
        })
        const stored = yield* rows(`SELECT * FROM ${id}`)
        const survived = yield* rows(`SELECT count(*) AS n FROM ${victim}`)
        yield* spark.sql(`DROP TABLE ${victim}`)
        return { stored, survived }
      })
    )
    expect(result.stored).toEqual([{ note: payload, day: "2026-11-26", typed_day: "2026-11-26" }])
    expect(result.survived).toEqual([{ n: 0n }])
  })
})

describe("sql rules: inputs and targets", () => {
  it("registers file inputs (relative to the batch dir) as views before the SQL runs", async () => {
    const batchDir = tempDir()
    fs.mkdirSync(path.join(batchDir, "data"))
    fs.writeFileSync(path.join(batchDir, "data", "orders.csv"), "id,amount\n1,10.5\n2,4.5\n3,\n")
    const id = unique("orders_total")
    const result = await run(
      Effect.andThen(
        runRule({
          id,
          batchDir,
          options: {
            inputs: {
              raw_orders: {
                path: "data/orders.csv",
                format: "csv",
                options: { header: true },
                schema: "id INT, amount DECIMAL(10,2)"
              }
            },
            sql: "SELECT count(*) AS orders, sum(amount) AS total FROM raw_orders"
          }
        }),
        rows(`SELECT * FROM ${id}`)
      )
    )
    expect(result).toEqual([{ orders: 3n, total: "15.00" }])
  })

  it("writes parquet to its target by default, overwriting on a second run (delete-and-load, no duplicates)", async () => {
    const target = path.join(tempDir(), "out", "daily")
    const id = unique("daily")
    const options = { sql: "SELECT id, concat('row ', id) AS label FROM range(4)" }
    const result = await run(
      Effect.gen(function* () {
        const spark = yield* SparkSession.SparkSession
        yield* runRule({ id, options, target })
        yield* runRule({ id, options, target })
        return yield* spark.collect(spark.read({ format: "parquet", paths: [target] }))
      })
    )
    expect([...result].sort((a, b) => Number(a["id"]) - Number(b["id"]))).toEqual([
      { id: 0n, label: "row 0" },
      { id: 1n, label: "row 1" },
      { id: 2n, label: "row 2" },
      { id: 3n, label: "row 3" }
    ])
    expect(fs.readdirSync(target).some((f) => f.endsWith(".parquet"))).toBe(true)
  })

  it("writes csv partitioned by a column with writer options", async () => {
    const target = path.join(tempDir(), "by_day")
    const id = unique("by_day")
    const result = await run(
      Effect.gen(function* () {
        const spark = yield* SparkSession.SparkSession
        yield* runRule({
          id,
          target,
          options: {
            sql: "SELECT id, IF(id < 2, 'd1', 'd2') AS day FROM range(3)",
            format: "csv",
            partition_by: ["day"],
            write_options: { header: true }
          }
        })
        return yield* spark.collect(
          spark.read({
            format: "csv",
            paths: [target],
            options: { header: "true" },
            schema: "id BIGINT, day STRING"
          })
        )
      })
    )
    expect(
      fs
        .readdirSync(target)
        .filter((f) => f.startsWith("day="))
        .sort()
    ).toEqual(["day=d1", "day=d2"])
    expect([...result].sort((a, b) => Number(a["id"]) - Number(b["id"]))).toEqual([
      { id: 0n, day: "d1" },
      { id: 1n, day: "d1" },
      { id: 2n, day: "d2" }
    ])
  })

  it("writes a table target with save_as_table, then appends with insert_into", async () => {
    const table = unique("mart_table")
    const result = await run(
      Effect.gen(function* () {
        const spark = yield* SparkSession.SparkSession
        yield* runRule({
          id: unique("create"),
          target: table,
          options: { sql: "SELECT 1 AS a", table: "save_as_table" }
        })
        yield* runRule({
          id: unique("append"),
          target: table,
          options: { sql: "SELECT 2 AS a", table: "insert_into", mode: "append" }
        })
        const stored = yield* rows(`SELECT a FROM ${table} ORDER BY a`)
        yield* spark.sql(`DROP TABLE ${table}`)
        return stored
      })
    )
    expect(result).toEqual([{ a: 1 }, { a: 2 }])
  })
})

describe("sql rules: Spark errors become core failures", () => {
  it.each([
    ["bad SQL", "SELECT 1;\nSELEC oops", "SqlError", "PARSE_SYNTAX_ERROR", "42601", "statement 2 (line 2)"],
    [
      "a missing column",
      "SELECT no_such_column FROM range(1)",
      "SqlError",
      "UNRESOLVED_COLUMN.WITH_SUGGESTION",
      "42703",
      "statement 1 (line 1)"
    ],
    [
      "a missing table",
      "SELECT * FROM no_such_table_xyz",
      "SqlError",
      "TABLE_OR_VIEW_NOT_FOUND",
      "42P01",
      "statement 1"
    ]
  ])("%s is a SqlError with Spark's errorClass", async (_name, sql, tag, code, sqlState, where) => {
    const id = unique("failing")
    const failure = await failureOf(runRule({ id, options: { sql } }))
    expect(failure).toMatchObject({ _tag: tag, code, sqlState, ruleId: id, category: "capturable" })
    expect(failure.message).toContain(`rule "${id}", ${where}`)
    expect((failure as { engineDetail?: string }).engineDetail).toContain(code)
  })

  it("an ANSI divide by zero while writing the target is a DataError, and nothing is written", async () => {
    const target = path.join(tempDir(), "never")
    const id = unique("ansi")
    const failure = await failureOf(
      runRule({ id, target, options: { sql: "SELECT 1 / (id - id) AS x FROM range(3)" } })
    )
    expect(failure).toMatchObject({
      _tag: "DataError",
      code: "DIVIDE_BY_ZERO",
      sqlState: "22012",
      category: "capturable"
    })
    expect((failure as { engineDetail?: string }).engineDetail).toContain("SparkArithmeticException")
    expect(fs.existsSync(path.join(target, "_SUCCESS"))).toBe(false)
  })

  it("a bad ANSI cast in a cached result is a DataError of this rule", async () => {
    const failure = await failureOf(
      runRule({
        id: unique("cast"),
        options: { sql: "SELECT CAST(concat('x', id) AS INT) AS n FROM range(2)", cache: true }
      })
    )
    expect(failure).toMatchObject({ _tag: "DataError", code: "CAST_INVALID_INPUT", sqlState: "22018" })
  })

  it("a missing input file is a SqlError naming the input", async () => {
    const batchDir = tempDir()
    const failure = await failureOf(
      runRule({
        id: unique("no_input"),
        batchDir,
        options: { inputs: { raw: { path: "data/absent.csv", format: "csv" } }, sql: "SELECT * FROM raw" }
      })
    )
    expect(failure).toMatchObject({ _tag: "SqlError", code: "PATH_NOT_FOUND" })
    expect(failure.message).toContain("input raw (data/absent.csv)")
  })

  it("mode ignore leaves an existing path as it is; mode append adds to it", async () => {
    const target = path.join(tempDir(), "t")
    const written = (mode: string, value: number) =>
      runRule({ id: unique(mode), target, options: { sql: `SELECT ${value} AS a`, mode } })
    const [afterIgnore, afterAppend] = await run(
      Effect.gen(function* () {
        const read = rows(`SELECT a FROM parquet.\`${target}\` ORDER BY a`)
        yield* written("overwrite", 1)
        yield* written("ignore", 2)
        const ignored = yield* read
        yield* written("append", 3)
        return [ignored, yield* read] as const
      })
    )
    expect(afterIgnore).toEqual([{ a: 1 }])
    expect(afterAppend).toEqual([{ a: 1 }, { a: 3 }])
  })

  it("an existing path with mode error_if_exists is a TargetError", async () => {
    const target = tempDir()
    const failure = await failureOf(
      runRule({ id: unique("exists"), target, options: { sql: "SELECT 1 AS a", mode: "error_if_exists" } })
    )
    expect(failure).toMatchObject({ _tag: "TargetError", code: "PATH_ALREADY_EXISTS", sqlState: "42K04" })
  })
})
