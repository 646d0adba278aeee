import { Effect } from "effect"
import { describe, expect, it } from "vitest"
import * as Preflight from "../src/Preflight.js"

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
