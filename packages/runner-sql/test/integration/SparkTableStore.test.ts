// The Spark table store: lexical checks, and cleanup on the real server.
import { Failure, TargetStore } from "@spark-etl/core"
import { SparkSession } from "@spark-etl/runner-spark-connect"
import { Effect } from "effect"
import { describe, expect, it } from "vitest"
import * as SparkTableStore from "../../src/SparkTableStore.js"
import { failureOf, rows, run, runRule, tempDir, unique } from "./harness.js"

const check = (roots: ReadonlyArray<string>, targets: ReadonlyArray<[string, string]>) =>
  Effect.flatMap(SparkTableStore.make(), (store) =>
    Effect.flip(
      store.check({
        baseDir: "/",
        roots,
        targets: targets.map(([ruleId, declared]) => ({ ruleId, declared }))
      })
    )
  )

describe("SparkTableStore.check", () => {
  it("accepts tables directly inside the roots, case-insensitively", async () => {
    const resolved = await run(
      Effect.flatMap(SparkTableStore.make(), (store) =>
        store.check({
          baseDir: "/",
          roots: ["mart", "spark_catalog.stage"],
          targets: [
            { ruleId: "a", declared: "mart.daily" },
            { ruleId: "b", declared: "SPARK_CATALOG.Stage.orders" }
          ]
        })
      )
    )
    expect(resolved.targets.map((t) => t.location)).toEqual(["mart.daily", "SPARK_CATALOG.Stage.orders"])
  })

  it("refuses bad roots, targets outside the roots, a root itself, bad names and duplicates", async () => {
    expect(await run(check(["mart-x"], []))).toEqual([
      {
        at: { _tag: "Root", index: 0 },
        message: `target root "mart-x" is not a namespace name (letters, digits and '_', parts joined by '.')`
      }
    ])
    const rejections = await run(
      check(
        ["mart"],
        [
          ["outside", "other.daily"],
          ["unqualified", "daily"],
          ["root", "MART"],
          ["nested", "mart.x.y"],
          ["bad", "mart.`daily`; DROP"],
          ["first", "mart.t"],
          ["second", "mart.T"]
        ]
      )
    )
    const byRule = Object.fromEntries(
      rejections.map((r) => [r.at._tag === "Target" ? r.at.ruleId : "?", r.message])
    )
    expect(byRule["outside"]).toContain("not a table directly inside the declared roots (mart)")
    expect(byRule["unqualified"]).toContain("not a table directly inside")
    expect(byRule["root"]).toContain("is a target root itself")
    expect(byRule["nested"]).toContain("not a table directly inside")
    expect(byRule["bad"]).toContain("is not a table name")
    expect(byRule["second"]).toBe('target "mart.T" is also the target of rule "first"')
    expect(byRule["first"]).toBeUndefined()
  })
})

describe("SparkTableStore.clean", () => {
  const setUp = (table: string) =>
    Effect.gen(function* () {
      const spark = yield* SparkSession.SparkSession
      yield* spark.sql(`CREATE TABLE ${table} (a INT) USING parquet`)
      yield* spark.sql(`INSERT INTO ${table} VALUES (1), (2)`)
    })
  const resolved = (table: string): TargetStore.Resolved => ({
    roots: ["default"],
    targets: [{ ruleId: "r", declared: table, location: table }]
  })

  it("truncates a table, keeping its definition", async () => {
    const table = `default.${unique("trunc")}`
    const result = await run(
      Effect.gen(function* () {
        yield* setUp(table)
        const store = yield* SparkTableStore.make({ cleanup: "truncate" })
        yield* store.clean(resolved(table), resolved(table).targets[0]!)
        const left = yield* rows(`SELECT count(*) AS n FROM ${table}`)
        yield* Effect.flatMap(SparkSession.SparkSession, (s) => s.sql(`DROP TABLE ${table}`))
        return left
      })
    )
    expect(result).toEqual([{ n: 0n }])
  })

  it("drops a table when configured so", async () => {
    const table = `default.${unique("drop")}`
    const failure = await failureOf(
      Effect.gen(function* () {
        yield* setUp(table)
        const store = yield* SparkTableStore.make({ cleanup: "drop" })
        yield* store.clean(resolved(table), resolved(table).targets[0]!)
        return yield* rows(`SELECT * FROM ${table}`)
      })
    )
    expect(failure).toMatchObject({ _tag: "SparkAnalysisError", errorClass: "TABLE_OR_VIEW_NOT_FOUND" })
  })

  it.each(["truncate", "drop"] as const)(
    "with %s, a table that does not exist yet is fine",
    async (cleanup) => {
      const table = `default.${unique("absent")}`
      await run(
        Effect.flatMap(SparkTableStore.make({ cleanup }), (store) =>
          store.clean(resolved(table), resolved(table).targets[0]!)
        )
      )
    }
  )

  // Spark's text of a parse error starts with a blank line: the message must still say why.
  it("a table name Spark cannot parse (a reserved word under ANSI): the reason follows the colon", async () => {
    const failure = await failureOf(
      Effect.gen(function* () {
        const spark = yield* SparkSession.SparkSession
        yield* spark.setConf({
          "spark.sql.ansi.enabled": "true",
          "spark.sql.ansi.enforceReservedKeywords": "true"
        })
        const store = yield* SparkTableStore.make()
        const target = { ruleId: "r", declared: "default.order", location: "default.order" }
        yield* store.clean({ roots: ["default"], targets: [target] }, target)
      })
    )
    expect(failure).toMatchObject({ _tag: "TargetError", code: "PARSE_SYNTAX_ERROR" })
    expect((failure as Failure.TargetError).message).toMatch(
      /^could not clean table default\.order: \[PARSE_SYNTAX_ERROR\] Syntax error at or near 'order'/
    )
  })

  it("a view cannot be truncated: a TargetError with Spark's errorClass, not restartable", async () => {
    const view = unique("a_view")
    const failure = await failureOf(
      Effect.gen(function* () {
        const spark = yield* SparkSession.SparkSession
        yield* spark.sql(`CREATE OR REPLACE TEMP VIEW ${view} AS SELECT 1 AS a`)
        const store = yield* SparkTableStore.make()
        const target = { ruleId: "r", declared: view, location: view }
        yield* store.clean({ roots: [], targets: [target] }, target)
      })
    )
    // Refused before any statement: the view is not inside a root.
    expect(failure).toMatchObject({ _tag: "TargetError", code: "TARGET_UNSAFE" })
    const inRoot = `default.${unique("perm_view")}`
    const refused = await failureOf(
      Effect.gen(function* () {
        const spark = yield* SparkSession.SparkSession
        yield* spark.sql(`CREATE VIEW ${inRoot} AS SELECT 1 AS a`)
        const store = yield* SparkTableStore.make()
        const target = { ruleId: "r", declared: inRoot, location: inRoot }
        yield* store
          .clean({ roots: ["default"], targets: [target] }, target)
          .pipe(Effect.ensuring(Effect.ignore(spark.sql(`DROP VIEW ${inRoot}`))))
      })
    )
    expect(refused._tag).toBe("TargetError")
    const error = refused as Failure.TargetError
    expect(error.code).not.toBe("TARGET_CLEANUP_FAILED")
    expect(error.message).toContain(`could not clean table ${inRoot}`)
    expect(Failure.restartMayHelp(error)).toBe(false)
  })
})

describe("sql rules with table targets", () => {
  it("a table target is written with save_as_table by default and read back", async () => {
    const table = `default.${unique("daily")}`
    const result = await run(
      Effect.gen(function* () {
        yield* runRule({ id: unique("to_table"), target: table, options: { sql: "SELECT 7 AS a" } })
        const stored = yield* rows(`SELECT a FROM ${table}`)
        yield* Effect.flatMap(SparkSession.SparkSession, (s) => s.sql(`DROP TABLE ${table}`))
        return stored
      })
    )
    expect(result).toEqual([{ a: 7 }])
  })

  it("refuses a table write to a path target", async () => {
    const failure = await failureOf(
      runRule({
        id: unique("wrong"),
        target: tempDir(),
        options: { sql: "SELECT 1 AS a", table: "insert_into" }
      })
    )
    expect(failure).toMatchObject({ _tag: "TargetError", code: "TARGET_NOT_A_TABLE" })
  })
})
