// Preflight and engine settings on the shared server: rules are analysed in order without
// executing anything, errors come out as they would at run time, commands are never run.
import { Plugin } from "@spark-etl/core"
import type { TargetStore } from "@spark-etl/core"
import { SparkSession } from "@spark-etl/runner-spark-connect"
import { Effect, Layer, Logger, Option } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import { describe, expect, it } from "vitest"
import type { RuleSpec } from "./harness.js"
import {
  failureOf,
  preflightRule,
  prepareRun,
  rows,
  run,
  runRule,
  targetOf,
  tempDir,
  unique
} from "./harness.js"

/** Preflights rules in order as core does, with every target of the batch. */
const preflightAll = (specs: ReadonlyArray<RuleSpec>) => {
  const targets: ReadonlyArray<TargetStore.Target> = specs.flatMap(targetOf)
  return Effect.forEach(specs, (spec) => preflightRule(spec, targets))
}

const schemaOf = (view: string) =>
  Effect.flatMap(SparkSession.SparkSession, (spark) => spark.schema(spark.table(view)))

/** The session with the texts sent as SQL, and the views made from plans, recorded in `sent`. */
const recordingSql = (sent: Array<string>) =>
  Layer.effect(
    SparkSession.SparkSession,
    Effect.map(SparkSession.SparkSession, (spark): SparkSession.Session => ({
      ...spark,
      sql: (query: string, options?: SparkSession.SqlOptions) => {
        sent.push(query)
        return spark.sql(query, options)
      },
      createTempView: (df, name, options) => {
        sent.push(`view ${name}`)
        return spark.createTempView(df, name, options)
      }
    }))
  )

/** Preflights then runs one rule, as core does, recording what each sends. */
const preflightThenRun = (rule: RuleSpec, sent: Array<string>) =>
  run(
    Effect.gen(function* () {
      const analysis = yield* preflightRule(rule)
      const byPreflight = [...sent]
      yield* runRule(rule)
      return {
        analysis,
        byPreflight,
        byRun: sent.slice(byPreflight.length),
        rows: yield* rows(`SELECT * FROM ${rule.id}`)
      }
    }).pipe(Effect.provide(recordingSql(sent)))
  )

describe("preflight: the rule's view, made once", () => {
  it("a last query without parameters is defined by its text in preflight, and the run keeps that view", async () => {
    const sent: Array<string> = []
    const rule = {
      id: unique("kept"),
      runId: unique("run"),
      options: { sql: "SELECT 7 AS n", expect: { row_count: { min: 1, max: 1 } } }
    }
    const result = await preflightThenRun(rule, sent)
    expect(result.analysis).toEqual(Plugin.analysed)
    expect(result.byPreflight).toEqual([`CREATE OR REPLACE TEMPORARY VIEW \`${rule.id}\` AS SELECT 7 AS n`])
    expect(result.byRun).toEqual([])
    expect(result.rows).toEqual([{ n: 7 }])
  })

  it("a kept view reads what is there when the rule runs, not what preflight saw", async () => {
    const source = unique("source")
    const rule = { id: unique("reader"), runId: unique("run"), options: { sql: `SELECT a FROM ${source}` } }
    const result = await run(
      Effect.gen(function* () {
        const spark = yield* SparkSession.SparkSession
        yield* spark.sql(`CREATE OR REPLACE TEMPORARY VIEW ${source} AS SELECT 1 AS a`)
        expect(yield* preflightRule(rule)).toEqual(Plugin.analysed)
        yield* spark.sql(`CREATE OR REPLACE TEMPORARY VIEW ${source} AS SELECT 2 AS a`)
        yield* runRule(rule)
        return yield* rows(`SELECT * FROM ${rule.id}`)
      })
    )
    expect(result).toEqual([{ a: 2 }])
  })

  it("a kept view is resolved again when the rule runs: what went away since preflight fails it as SQL", async () => {
    const source = unique("source")
    const rule = { id: unique("reader"), runId: unique("run"), options: { sql: `SELECT a FROM ${source}` } }
    const failure = await failureOf(
      Effect.gen(function* () {
        const spark = yield* SparkSession.SparkSession
        yield* Effect.flatMap(spark.sql("SELECT 1 AS a"), (df) => spark.createTempView(df, source))
        expect(yield* preflightRule(rule)).toEqual(Plugin.analysed)
        yield* spark.sql(`DROP VIEW ${source}`)
        return yield* runRule(rule)
      })
    )
    expect(failure).toMatchObject({ _tag: "SqlError", ruleId: rule.id })
    expect(failure.message).toContain("TABLE_OR_VIEW_NOT_FOUND")
    expect(failure.message).toContain("statement 1 (line 1)")
  })

  it("a query with parameters is a view of its plan: preflight sends no SQL text, and the run makes the view again", async () => {
    const sent: Array<string> = []
    const rule = {
      id: unique("bound"),
      runId: unique("run"),
      options: { sql: "SELECT :n AS n", expect: { row_count: { min: 1, max: 1 } } },
      parameters: { n: { type: "int", value: 7, text: "7" } } as const
    }
    const result = await preflightThenRun(rule, sent)
    expect(result.analysis).toEqual(Plugin.analysed)
    expect(result.byPreflight).toEqual([`view ${rule.id}`])
    expect(result.byRun).toEqual([`view ${rule.id}`])
    expect(result.rows).toEqual([{ n: 7 }])
  })

  it("after a SET met in preflight, the run makes every view again (the session is no longer the one the views saw)", async () => {
    const sent: Array<string> = []
    const runId = unique("run")
    const setter = {
      id: unique("setter"),
      runId,
      options: { sql: "SET spark.sql.shuffle.partitions=3;\nSELECT 1 AS n" }
    }
    const plain = { id: unique("plain"), runId, options: { sql: "SELECT 2 AS n" } }
    const byRun = await run(
      Effect.gen(function* () {
        yield* preflightRule(plain)
        yield* preflightRule(setter)
        const before = sent.length
        yield* runRule(plain)
        return sent.slice(before)
      }).pipe(Effect.provide(recordingSql(sent)))
    )
    expect(byRun).toEqual([`view ${plain.id}`])
  })

  it("a query Spark refuses fails with positions in the rule's own text, not in the view's definition", async () => {
    const rule = { id: unique("broken"), options: { sql: "SELECT nope FROM range(3)" } }
    const failure = await failureOf(preflightRule(rule))
    expect(failure).toMatchObject({ _tag: "SqlError", ruleId: rule.id })
    expect(failure.message).toContain("UNRESOLVED_COLUMN")
    expect(failure.message).toContain("line 1 pos 7")
  })

  it("a rule that was not preflighted makes its view from the query's plan when it runs", async () => {
    const sent: Array<string> = []
    const rule = { id: unique("fresh"), options: { sql: "SELECT 3 AS n" } }
    const result = await run(
      Effect.andThen(runRule(rule).pipe(Effect.provide(recordingSql(sent))), rows(`SELECT * FROM ${rule.id}`))
    )
    expect(sent).toEqual([`view ${rule.id}`])
    expect(result).toEqual([{ n: 3 }])
  })
})

describe("preflight: a sound batch", () => {
  it("analyses a chain in order (a view, a target path as input) and executes none of it", async () => {
    const batchDir = tempDir()
    fs.writeFileSync(path.join(batchDir, "raw.csv"), "id,note\n1,x\n2,y\n")
    const out = path.join(batchDir, "out")
    const runId = unique("run")
    const [a, b, c, d] = [unique("a"), unique("b"), unique("c"), unique("d")]
    const rules: ReadonlyArray<RuleSpec> = [
      {
        id: a,
        runId,
        batchDir,
        target: path.join(out, a),
        options: {
          inputs: {
            raw: { path: "raw.csv", format: "csv", options: { header: true }, schema: "id INT, note STRING" }
          },
          // Executing this fails on every row (ANSI cast): preflight must not execute it.
          sql: "SELECT id, CAST(note AS INT) AS n FROM raw",
          partition_by: ["id"]
        }
      },
      {
        id: b,
        runId,
        options: {
          sql: `SELECT n, raise_error('executed') AS boom FROM ${a}`,
          expect: {
            row_count: { min: 1 },
            not_null: ["n"],
            unique: ["n"],
            assert_empty: `SELECT * FROM ${b} WHERE n < 0`
          }
        }
      },
      // Reads A's output files: analysed against A's result (the files do not exist).
      {
        id: c,
        runId,
        batchDir,
        options: {
          inputs: { a_out: { path: `out/${a}`, format: "parquet" } },
          sql: "SELECT id, n FROM a_out"
        }
      },
      // The same with a declared schema: analysed against exactly that schema.
      {
        id: d,
        runId,
        batchDir,
        options: {
          inputs: { a_typed: { path: `out/${a}/`, format: "parquet", schema: "n INT, id INT" } },
          sql: "SELECT n + id AS total FROM a_typed"
        }
      }
    ]
    const result = await run(
      Effect.gen(function* () {
        const analyses = yield* preflightAll(rules)
        return {
          analyses,
          b: yield* schemaOf(b),
          c: yield* schemaOf(c),
          d: yield* schemaOf(d),
          written: fs.existsSync(path.join(out, a)),
          // Running A executes the cast and fails: the proof that preflight did not.
          runA: yield* Effect.flip(runRule(rules[0]!))
        }
      })
    )
    expect(result.analyses).toEqual([Plugin.analysed, Plugin.analysed, Plugin.analysed, Plugin.analysed])
    expect(result.b.map((col) => col.name)).toEqual(["n", "boom"])
    expect(result.c).toEqual([
      { name: "id", type: "int", nullable: true },
      { name: "n", type: "int", nullable: true }
    ])
    expect(result.d).toEqual([{ name: "total", type: "int", nullable: true }])
    expect(result.written).toBe(false)
    expect(result.runA).toMatchObject({ _tag: "DataError", code: "CAST_INVALID_INPUT" })
  })

  it("a plain CREATE TEMP VIEW is analysed, read by a later rule, and still runs afterwards", async () => {
    const runId = unique("run")
    const helper = unique("helper")
    const first = {
      id: unique("first"),
      runId,
      options: { sql: `CREATE TEMP VIEW ${helper} AS SELECT 1 AS a;\nSELECT a FROM ${helper}` }
    }
    const second = { id: unique("second"), runId, options: { sql: `SELECT a + 1 AS b FROM ${helper}` } }
    const result = await run(
      Effect.gen(function* () {
        const analyses = yield* preflightAll([first, second])
        yield* runRule(first)
        yield* runRule(second)
        return { analyses, rows: yield* rows(`SELECT * FROM ${second.id}`) }
      })
    )
    expect(result.analyses).toEqual([Plugin.analysed, Plugin.analysed])
    expect(result.rows).toEqual([{ b: 2 }])
  })

  it("a SET in a rule applies to its analysis and is put back after it", async () => {
    const id = unique("set_rule")
    const result = await run(
      Effect.gen(function* () {
        const spark = yield* SparkSession.SparkSession
        const before = yield* spark.getConf("spark.sql.session.timeZone")
        const analysis = yield* preflightRule({
          id,
          options: { sql: "SET spark.sql.session.timeZone = Asia/Tokyo;\nSELECT current_timezone() AS tz" }
        })
        return { before, analysis, after: yield* spark.getConf("spark.sql.session.timeZone") }
      })
    )
    expect(result.analysis).toEqual(Plugin.analysed)
    expect(result.after).toEqual(result.before)
  })
})

describe("preflight: errors before cleanup", () => {
  it.each([
    [
      "a parse error",
      "SELECT 1 AS a;\nSELECT id FROM range(3) WHERE id >",
      "PARSE_SYNTAX_ERROR",
      "statement 2 (line 2)"
    ],
    [
      "a missing table",
      "SELECT * FROM no_such_table_anywhere",
      "TABLE_OR_VIEW_NOT_FOUND",
      "statement 1 (line 1)"
    ],
    [
      "a missing column",
      "SELECT no_such_column FROM range(3)",
      "UNRESOLVED_COLUMN.WITH_SUGGESTION",
      "statement 1"
    ]
  ])("%s is a SqlError with Spark's error class", async (_name, sql, code, where) => {
    const id = unique("bad")
    const failure = await failureOf(preflightRule({ id, options: { sql } }))
    expect(failure).toMatchObject({ _tag: "SqlError", code, ruleId: id })
    expect(failure.message).toContain(`rule "${id}", ${where}`)
  })

  it.each([
    ["not_null", { not_null: ["id", "nope"] }],
    ["unique", { unique: ["nope"] }],
    ["assert_empty", { assert_empty: "SELECT * FROM range(1) WHERE nope > 0" }]
  ])("a missing column in expectation %s is a SqlError", async (name, expectation) => {
    const id = unique("expect")
    const failure = await failureOf(
      preflightRule({ id, options: { sql: "SELECT id FROM range(3)", expect: expectation } })
    )
    expect(failure).toMatchObject({
      _tag: "SqlError",
      code: "UNRESOLVED_COLUMN.WITH_SUGGESTION",
      sqlState: "42703"
    })
    expect(failure.message).toContain(`expectation ${name}`)
  })

  it("insert_into a table that does not exist is a TargetError", async () => {
    const failure = await failureOf(
      preflightRule({
        id: unique("into"),
        target: `default.${unique("absent")}`,
        options: { sql: "SELECT 1 AS a", table: "insert_into" }
      })
    )
    expect(failure).toMatchObject({ _tag: "TargetError", code: "TABLE_OR_VIEW_NOT_FOUND" })
  })

  it("write options without a target fail as they would at run time", async () => {
    const failure = await failureOf(
      preflightRule({ id: unique("no_target"), options: { sql: "SELECT 1 AS a", format: "csv" } })
    )
    expect(failure).toMatchObject({ _tag: "TargetError", code: "TARGET_NOT_DECLARED" })
  })
})

describe("preflight: what it does not run", () => {
  it("a command is not run: the rule is NotAnalysed and the table stays empty; its syntax is still checked", async () => {
    const table = unique("kept_empty")
    const result = await run(
      Effect.gen(function* () {
        const spark = yield* SparkSession.SparkSession
        yield* spark.sql(`CREATE TABLE ${table} (a INT) USING parquet`)
        const analysis = yield* preflightRule({
          id: unique("inserts"),
          options: { sql: `INSERT INTO ${table} SELECT 1;\nSELECT * FROM ${table}` }
        })
        const parse = yield* Effect.flip(
          preflightRule({
            id: unique("bad_after"),
            options: { sql: `INSERT INTO ${table} SELECT 1;\nSELEC 2` }
          })
        )
        const count = yield* rows(`SELECT count(*) AS n FROM ${table}`)
        yield* spark.sql(`DROP TABLE ${table}`)
        return { analysis, parse, count }
      })
    )
    expect(result.analysis).toEqual(
      Plugin.notAnalysed("statement 1 (line 1) is a command (INSERT), which preflight does not run")
    )
    expect(result.parse).toMatchObject({ _tag: "SqlError", code: "PARSE_SYNTAX_ERROR" })
    expect(result.parse.message).toContain("statement 2 (line 2)")
    expect(result.count).toEqual([{ n: 0n }])
  })

  it("an input on the target of a rule that was not analysed is NotAnalysed", async () => {
    const batchDir = tempDir()
    const upstream = {
      id: unique("upstream"),
      target: path.join(batchDir, "out", "up"),
      options: { sql: "SELECT 1 AS a" }
    }
    const reader = {
      id: unique("reader"),
      batchDir,
      options: { inputs: { up: { path: "out/up", format: "parquet" } }, sql: "SELECT a FROM up" }
    }
    const analysis = await run(preflightRule(reader, [...targetOf(upstream)]))
    expect(analysis).toMatchObject({ _tag: "NotAnalysed" })
    expect(analysis._tag === "NotAnalysed" && analysis.reason).toContain(`the target of rule ${upstream.id}`)
  })

  it("SQL that names another rule's target path is NotAnalysed (it reads what the run replaces)", async () => {
    const batchDir = tempDir()
    const upstream = {
      id: unique("upstream"),
      target: path.join(batchDir, "out", "up"),
      options: { sql: "SELECT 1 AS a" }
    }
    const reader = { id: unique("reader"), options: { sql: `SELECT a FROM parquet.\`${upstream.target}\`` } }
    const analysis = await run(preflightRule(reader, [...targetOf(upstream)]))
    expect(analysis).toEqual(
      Plugin.notAnalysed(
        `statement 1 (line 1) reads ${upstream.target}, the target of rule ${upstream.id}, which this run empties and rewrites`
      )
    )
  })
})

describe("engine settings (prepare)", () => {
  it("spark.sql.ansi.enabled=false: a bad cast is NULL when the rule runs", async () => {
    const id = unique("lenient")
    const result = await run(
      Effect.gen(function* () {
        yield* prepareRun({ "spark.sql.ansi.enabled": "false" })
        yield* runRule({
          id,
          options: { sql: "SELECT CAST('x' AS INT) AS v" },
          target: path.join(tempDir(), "v")
        })
        return yield* rows(`SELECT * FROM ${id}`)
      })
    )
    expect(result).toEqual([{ v: null }])
  })

  it("spark.sql.ansi.enabled=true: the same rule fails as a DataError", async () => {
    const failure = await failureOf(
      Effect.andThen(
        prepareRun({ "spark.sql.ansi.enabled": "true" }),
        runRule({
          id: unique("strict"),
          options: { sql: "SELECT CAST('x' AS INT) AS v" },
          target: path.join(tempDir(), "v")
        })
      )
    )
    expect(failure).toMatchObject({ _tag: "DataError", code: "CAST_INVALID_INPUT" })
  })

  // docs/batch-file.md: the log names every setting applied; a key that looks secret shows *****.
  it("logs the settings it applied, with the values of secret-looking keys masked", async () => {
    const messages: Array<string> = []
    const collector = Logger.make((options) => void messages.push(String(options.message)))
    const settings = {
      "spark.sql.shuffle.partitions": "7",
      "spark.etl.test.password": "hunter2-password",
      "spark.etl.test.access.key": "AKIA-test-key",
      "spark.etl.test.token": "tok-test-token"
    }
    const applied = await run(
      Effect.gen(function* () {
        yield* prepareRun(settings)
        const spark = yield* SparkSession.SparkSession
        return yield* Effect.forEach(Object.keys(settings), (key) => spark.getConf(key))
      }).pipe(Effect.provide(Logger.layer([collector])))
    )
    // Sent to the session, secrets included: masking is the log's only.
    expect(applied.map(Option.getOrUndefined)).toEqual(Object.values(settings))
    expect(messages.filter((m) => m.startsWith("engine settings applied"))).toEqual([
      "engine settings applied: spark.etl.test.access.key=*****, spark.etl.test.password=*****, " +
        "spark.etl.test.token=*****, spark.sql.shuffle.partitions=7"
    ])
    expect(messages.join("\n")).not.toMatch(/hunter2|AKIA|tok-test/)
  })

  it("a setting Spark refuses fails the run with Spark's error class, naming the settings", async () => {
    const failure = await failureOf(prepareRun({ "spark.sql.warehouse.dir": "/tmp/elsewhere" }))
    expect(failure).toMatchObject({ _tag: "SqlError", code: "CANNOT_MODIFY_STATIC_CONFIG" })
    expect(failure.message).toContain("engine settings (spark.sql.warehouse.dir)")
  })
})
