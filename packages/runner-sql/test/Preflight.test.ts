import { Effect } from "effect"
import { describe, expect, it } from "vitest"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import * as Preflight from "../src/Preflight.js"
import type * as SqlOptions from "../src/SqlOptions.js"

const pathTarget = (ruleId: string, location: string) => ({ ruleId, declared: location, location })

describe("Preflight.within / upstreamOf", () => {
  it("an input reads a target when its path is the target's or lies under it", () => {
    expect(Preflight.within("/out/a", "/out/a")).toBe(true)
    expect(Preflight.within("/out/a/", "/out/a")).toBe(true)
    expect(Preflight.within("/out/a/day=1/*.parquet", "/out/a")).toBe(true)
    expect(Preflight.within("file:///out/a/x", "/out/a")).toBe(true)
    expect(Preflight.within("file:/out/a", "/out/a/")).toBe(true)
    expect(Preflight.within("/out/ab", "/out/a")).toBe(false)
    expect(Preflight.within("/out", "/out/a")).toBe(false)
  })

  it("only another rule's path target is an upstream", () => {
    const targets = [pathTarget("a", "/out/a"), pathTarget("me", "/out/me"), pathTarget("t", "mart.t")]
    expect(Preflight.upstreamOf("/out/a/part-0.parquet", "me", targets)?.ruleId).toBe("a")
    expect(Preflight.upstreamOf("/out/me", "me", targets)).toBeUndefined()
    expect(Preflight.upstreamOf("/data/raw.csv", "me", targets)).toBeUndefined()
  })
})

describe("Preflight.namesTarget", () => {
  it("finds a target path anywhere in the text", () => {
    const t = pathTarget("a", "/out/a")
    expect(Preflight.namesTarget("SELECT * FROM parquet.`/out/a`", t)).toBe(true)
    expect(
      Preflight.namesTarget("CREATE TEMP VIEW v USING csv OPTIONS (path 'file:///out/a/x.csv')", t)
    ).toBe(true)
    expect(Preflight.namesTarget("SELECT * FROM a", t)).toBe(false)
  })

  it("finds a table target by a qualified name only (an unqualified one is the rule's view)", () => {
    const t = pathTarget("daily_totals", "mart.daily_totals")
    expect(Preflight.namesTarget("SELECT * FROM mart.daily_totals", t)).toBe(true)
    expect(Preflight.namesTarget("SELECT * FROM spark_catalog.`MART`.Daily_Totals", t)).toBe(true)
    expect(Preflight.namesTarget("SELECT daily_totals.total FROM daily_totals", t)).toBe(false)
    expect(Preflight.namesTarget("SELECT 'mart.daily_totals' AS label", t)).toBe(false)
  })
})

describe("Preflight.forRun", () => {
  it("replaces a temp view preflight made for this rule of this run, once", async () => {
    const views = Preflight.makeViews()
    const sql = "CREATE TEMP VIEW Helper AS SELECT 1"
    const texts = await Effect.runPromise(
      Effect.gen(function* () {
        yield* views.record("run1", "r", "helper")
        return [
          yield* Preflight.forRun(views, "run2", "r", sql),
          yield* Preflight.forRun(views, "run1", "other", sql),
          yield* Preflight.forRun(views, "run1", "r", sql),
          yield* Preflight.forRun(views, "run1", "r", sql)
        ]
      })
    )
    expect(texts).toEqual([sql, sql, "CREATE OR REPLACE TEMP VIEW Helper AS SELECT 1", sql])
  })
})

describe("Preflight.isolated", () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "spark-etl-isolated-"))
  fs.writeFileSync(path.join(dir, "queries.sql"), "-- two queries\nSELECT 1 AS n;\nSELECT n FROM upstream")
  fs.writeFileSync(path.join(dir, "sets.sql"), "SET spark.sql.ansi.enabled=true;\nSELECT 1 AS n")
  const ids = ["me", "upstream", "other", "Mixed_Case", "dotted.id", "dash-id"]
  const isolated = (options: SqlOptions.SqlOptions, dependsOn: ReadonlyArray<string> = []) =>
    Effect.runPromise(
      Preflight.isolated(
        {
          runId: "run",
          attempt: 1,
          batch: { name: "b", dir, parameters: {}, settings: {} },
          rule: { id: "me", kind: "sql", dependsOn },
          options,
          targets: []
        },
        ids
      )
    )

  it("is isolated when every statement is a query naming no rule but those it depends on", async () => {
    expect(await isolated({ sql: "SELECT 1 AS n" })).toBe(true)
    expect(await isolated({ sql: "SELECT * FROM upstream" }, ["upstream"])).toBe(true)
    expect(await isolated({ file: "queries.sql" }, ["upstream"])).toBe(true)
    // Its own name, and names that only contain a rule's, are no other rule.
    expect(await isolated({ sql: "SELECT other_col, me.n FROM me_too" })).toBe(true)
    expect(await isolated({ sql: "SELECT 1 AS n", expect: { row_count: { min: 1 } } })).toBe(true)
  })

  it("is not when it reads a rule it does not depend on: that one is analysed first, as it runs", async () => {
    expect(await isolated({ sql: "SELECT * FROM upstream" })).toBe(false)
    expect(await isolated({ sql: "SELECT * FROM UPSTREAM" })).toBe(false)
    expect(await isolated({ sql: "SELECT * FROM mixed_case" })).toBe(false)
    expect(await isolated({ sql: "SELECT * FROM `dotted.id`" })).toBe(false)
    expect(await isolated({ sql: "SELECT * FROM `Dash-Id`" })).toBe(false)
    expect(await isolated({ file: "queries.sql" })).toBe(false)
    expect(
      await isolated({ sql: "SELECT 1 AS n", expect: { assert_empty: "SELECT * FROM other WHERE n < 0" } })
    ).toBe(false)
    // Conservative: a string or a comment naming a rule (IDENTIFIER('other') reads it) counts.
    expect(await isolated({ sql: "SELECT * FROM IDENTIFIER('other')" })).toBe(false)
  })

  it("is not when its preflight changes the session or cannot read its SQL", async () => {
    expect(
      await isolated({ sql: "SELECT * FROM raw", inputs: { raw: { format: "csv", path: "raw.csv" } } })
    ).toBe(false)
    expect(await isolated({ file: "sets.sql" })).toBe(false)
    expect(
      await isolated({ sql: "CREATE OR REPLACE TEMP VIEW helper AS SELECT 1; SELECT * FROM helper" })
    ).toBe(false)
    expect(await isolated({ sql: "CREATE TABLE t (n INT); SELECT 1 AS n" })).toBe(false)
    expect(await isolated({ file: "missing.sql" })).toBe(false)
  })
})
