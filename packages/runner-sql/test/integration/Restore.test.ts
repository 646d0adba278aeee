// Restoring rules a resumed run skips, on the shared server: each rule runs in one session (the
// run resumed from) and is restored in another (the resumed run), as core does. A restore reads
// outputs back or defines views again; it never executes, writes or caches anything.
import { Plugin } from "@spark-etl/core"
import type { TargetStore } from "@spark-etl/core"
import { SparkSession } from "@spark-etl/runner-spark-connect"
import { Effect, Layer } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import { describe, expect, it } from "vitest"
import * as SqlRunner from "../../src/SqlRunner.js"
import type { RuleSpec } from "./harness.js"
import {
  failureOf,
  preflightRule,
  restoreRule,
  rows,
  run,
  runRule,
  targetOf,
  tempDir,
  unique
} from "./harness.js"

/** What the session was asked to do, with the tags each request carried. */
interface Request {
  readonly what: string
  readonly tags: ReadonlyArray<string>
}

/** The session with every request that reaches Spark recorded in `sent`. */
const recording = (sent: Array<Request>) =>
  Layer.effect(
    SparkSession.SparkSession,
    Effect.map(SparkSession.SparkSession, (spark): SparkSession.Session => {
      const note = (what: string, options?: SparkSession.OperationOptions) =>
        sent.push({ what, tags: options?.tags ?? [] })
      return {
        ...spark,
        sql: (query, options) => {
          note(`sql ${query}`, options)
          return spark.sql(query, options)
        },
        createTempView: (df, name, options) => {
          note(`view ${name}`, options)
          return spark.createTempView(df, name, options)
        },
        write: (df, options, operation) => {
          note("write", operation)
          return spark.write(df, options, operation)
        },
        collect: (df, options) => {
          note("collect", options)
          return spark.collect(df, options)
        },
        count: (df, options) => {
          note("count", options)
          return spark.count(df, options)
        },
        setConf: (pairs) => {
          note(`setConf ${Object.keys(pairs).join(",")}`)
          return spark.setConf(pairs)
        }
      }
    })
  )

/** Restores a rule with what it sends recorded; then runs `after` on the same session. */
const restoreRecorded = <A, E>(
  spec: RuleSpec,
  targets: ReadonlyArray<TargetStore.Target>,
  after: Effect.Effect<A, E, SparkSession.SparkSession>
) => {
  const sent: Array<Request> = []
  return Effect.gen(function* () {
    const restoration = yield* restoreRule(spec, targets)
    const requests = [...sent]
    return { restoration, requests, after: yield* after }
  }).pipe(Effect.provide(recording(sent)))
}

const columnsOf = (view: string) =>
  Effect.flatMap(SparkSession.SparkSession, (spark) =>
    Effect.map(spark.schema(spark.table(view)), (cols) => cols.map((c) => `${c.name} ${c.type}`))
  )

const everyTagged = (requests: ReadonlyArray<Request>, runId: string, ruleId: string) =>
  requests.every((r) => r.tags.includes(SqlRunner.tagFor(runId, ruleId)))

const result = `SELECT id, CAST(id * 10 AS BIGINT) AS v, CAST(id AS STRING) AS s, DATE'2024-01-01' + CAST(id AS INT) AS d FROM range(3)`

describe("restore: a rule with a target reads its output back", () => {
  it("a path target written in an earlier session is the rule's view again: same rows, same columns, its SETs set, nothing executed", async () => {
    const id = unique("written")
    const set = "SET spark.sql.shuffle.partitions = 5"
    const spec: RuleSpec = { id, target: path.join(tempDir(), id), options: { sql: `${set};\n${result}` } }
    const partitions = Effect.flatMap(SparkSession.SparkSession, (spark) =>
      spark.getConf("spark.sql.shuffle.partitions")
    )
    const before = await run(
      Effect.andThen(
        runRule(spec),
        Effect.all([rows(`SELECT * FROM ${id} ORDER BY id`), columnsOf(id), partitions])
      )
    )
    const runId = unique("resumed")
    const restored = await run(
      restoreRecorded(
        { ...spec, runId },
        targetOf(spec),
        Effect.all([rows(`SELECT * FROM ${id} ORDER BY id`), columnsOf(id), partitions])
      )
    )
    expect(restored.restoration).toEqual(Plugin.restored)
    expect(restored.after).toEqual(before)
    expect(before[0]).toHaveLength(3)
    expect(before[2]).toMatchObject({ _tag: "Some", value: "5" })
    expect(restored.requests.map((r) => r.what)).toEqual([`view ${id}`, `sql ${set}`])
    expect(everyTagged(restored.requests, runId, id)).toBe(true)
  })

  it("an output deleted or emptied since: a capturable TargetError naming the target, so core runs the rule", async () => {
    const id = unique("gone")
    const out = path.join(tempDir(), id)
    const spec: RuleSpec = { id, target: out, options: { sql: result, format: "orc" } }
    await run(runRule(spec))
    expect(await run(restoreRule(spec))).toEqual(Plugin.restored)
    fs.rmSync(out, { recursive: true })
    const missing = await failureOf(restoreRule(spec))
    expect(missing).toMatchObject({
      _tag: "TargetError",
      category: "capturable",
      code: "PATH_NOT_FOUND",
      ruleId: id
    })
    expect(missing.message).toContain(`reading back target ${out}`)
    fs.mkdirSync(out)
    expect(await failureOf(restoreRule(spec))).toMatchObject({
      _tag: "TargetError",
      category: "capturable",
      code: "UNABLE_TO_INFER_SCHEMA"
    })
  })

  it("a table target is read back by name; a table dropped since is a capturable failure", async () => {
    const id = unique("tabled")
    const table = `default.${id}`
    const spec: RuleSpec = { id, target: table, options: { sql: result } }
    const before = await run(Effect.andThen(runRule(spec), rows(`SELECT * FROM ${id} ORDER BY id`)))
    const restored = await run(Effect.andThen(restoreRule(spec), rows(`SELECT * FROM ${id} ORDER BY id`)))
    expect(restored).toEqual(before)
    await run(Effect.flatMap(SparkSession.SparkSession, (spark) => spark.sql(`DROP TABLE ${table}`)))
    expect(await failureOf(restoreRule(spec))).toMatchObject({
      _tag: "TargetError",
      category: "capturable",
      code: "TABLE_OR_VIEW_NOT_FOUND"
    })
  })

  it("csv and json outputs and insert_into targets are not restorable, and Spark is not asked anything", async () => {
    const dir = tempDir()
    const specs: ReadonlyArray<RuleSpec> = [
      { id: unique("csv"), target: path.join(dir, "csv"), options: { sql: result, format: "csv" } },
      { id: unique("json"), target: path.join(dir, "json"), options: { sql: result, format: "json" } },
      { id: unique("ins"), target: "default.somewhere", options: { sql: result, table: "insert_into" } }
    ]
    const outcomes = await run(
      Effect.forEach(specs, (spec) => restoreRecorded(spec, targetOf(spec), Effect.void))
    )
    expect(outcomes.map((o) => o.restoration)).toEqual([
      Plugin.notRestorable(
        "its csv output does not keep the result's column types: read back, it would not be the view the rules after it saw"
      ),
      Plugin.notRestorable(
        "its json output does not keep the result's column types: read back, it would not be the view the rules after it saw"
      ),
      Plugin.notRestorable(
        "it inserts into default.somewhere by position: the table holds its rows under the table's column names, not the result's"
      )
    ])
    expect(outcomes.flatMap((o) => o.requests)).toEqual([])
  })
})

describe("restore: a view-only rule is defined again", () => {
  it("inputs, temp views, a SET and its view, without running, caching or checking anything; a rule after it reads it", async () => {
    const batchDir = tempDir()
    fs.writeFileSync(path.join(batchDir, "raw.csv"), "id,note\n1,x\n2,y\n3,z\n")
    const id = unique("view_only")
    const helper = unique("helper")
    const spec: RuleSpec = {
      id,
      batchDir,
      parameters: { min: { type: "int", value: 1, text: "1" } },
      options: {
        inputs: {
          raw: { path: "raw.csv", format: "csv", options: { header: true }, schema: "id INT, note STRING" }
        },
        sql: [
          "SET spark.sql.shuffle.partitions = 7",
          `CREATE TEMP VIEW ${helper} AS SELECT id, note FROM raw`,
          `SELECT id, upper(note) AS note FROM ${helper} WHERE id > :min`
        ].join(";\n"),
        // Neither may run in a restore: the first would fail, the second would execute the query.
        expect: { row_count: { max: 0 } },
        cache: true
      }
    }
    const runId = unique("resumed")
    const downstream = Effect.all([
      rows(`SELECT id, note FROM ${id} ORDER BY id`),
      Effect.flatMap(SparkSession.SparkSession, (spark) => spark.getConf("spark.sql.shuffle.partitions"))
    ])
    const restored = await run(restoreRecorded({ ...spec, runId }, [], downstream))
    expect(restored.restoration).toEqual(Plugin.restored)
    expect(restored.after[0]).toEqual([
      { id: 2, note: "Y" },
      { id: 3, note: "Z" }
    ])
    // A SET stays set, as it does when the rule runs.
    expect(restored.after[1]).toMatchObject({ _tag: "Some", value: "7" })
    expect(restored.requests.map((r) => r.what)).toEqual([
      "view raw",
      "sql SET spark.sql.shuffle.partitions = 7",
      `sql CREATE TEMP VIEW ${helper} AS SELECT id, note FROM raw`,
      `sql SELECT id, upper(note) AS note FROM ${helper} WHERE id > :min`,
      `view ${id}`
    ])
    expect(everyTagged(restored.requests, runId, id)).toBe(true)
  })

  it("one reading a skipped dependency's output reads its files; one reading a target it does not depend on is not restorable", async () => {
    const dir = tempDir()
    const upstream: RuleSpec = { id: unique("up"), target: path.join(dir, "up"), options: { sql: result } }
    await run(runRule(upstream))
    const reader = (dependsOn: ReadonlyArray<string>): RuleSpec => ({
      id: unique("reader"),
      batchDir: dir,
      dependsOn,
      options: {
        inputs: { up_out: { path: "up", format: "parquet" } },
        sql: "SELECT sum(v) AS total FROM up_out"
      }
    })
    const targets = targetOf(upstream)
    const depending = reader([upstream.id])
    const outcome = await run(
      Effect.gen(function* () {
        const up = yield* restoreRule(upstream)
        const read = yield* restoreRule(depending, targets)
        const independent = yield* restoreRecorded(reader([]), targets, Effect.void)
        const naming = yield* restoreRecorded(
          { id: unique("naming"), options: { sql: `SELECT * FROM parquet.\`${upstream.target}\`` } },
          targets,
          Effect.void
        )
        return { up, read, total: yield* rows(`SELECT total FROM ${depending.id}`), independent, naming }
      })
    )
    expect([outcome.up, outcome.read]).toEqual([Plugin.restored, Plugin.restored])
    expect(outcome.total).toEqual([{ total: 30n }])
    expect(outcome.independent.restoration).toEqual(
      Plugin.notRestorable(
        `input up_out (up) reads the target of rule ${upstream.id}, which it does not depend on (this run may rewrite it)`
      )
    )
    expect(outcome.naming.restoration).toMatchObject({
      _tag: "NotRestorable",
      reason: expect.stringContaining(`the target of rule ${upstream.id}, which it does not depend on`)
    })
    expect([...outcome.independent.requests, ...outcome.naming.requests]).toEqual([])
  })

  it("one with a command statement is not restorable, and Spark is not asked anything", async () => {
    const spec: RuleSpec = {
      id: unique("commands"),
      options: {
        sql: "CREATE TEMP VIEW h AS SELECT 1 AS a;\n\nINSERT INTO some_table SELECT * FROM h;\nSELECT * FROM h"
      }
    }
    const outcome = await run(restoreRecorded(spec, [], Effect.void))
    expect(outcome.restoration).toEqual(
      Plugin.notRestorable(
        "statement 2 (line 3) is a command (INSERT): what it did cannot be restored without running it"
      )
    )
    expect(outcome.requests).toEqual([])
  })

  it("a restore failing part way is capturable and leaves no temp view nor SET behind: the rule is then preflighted", async () => {
    const [id, helper, later] = [unique("partial"), unique("helper"), unique("later")]
    const spec: RuleSpec = {
      id,
      options: {
        sql: [
          "SET spark.sql.shuffle.partitions = 3",
          `CREATE TEMP VIEW ${helper} AS SELECT 1 AS a`,
          `SELECT a FROM ${helper} CROSS JOIN ${later}`
        ].join(";\n")
      }
    }
    const outcome = await run(
      Effect.gen(function* () {
        const spark = yield* SparkSession.SparkSession
        const partitions = () => spark.getConf("spark.sql.shuffle.partitions")
        const before = yield* partitions()
        const failure = yield* Effect.flip(restoreRule(spec))
        const afterFailure = yield* partitions()
        // What was missing appears; the plain CREATE TEMP VIEW must not find its view there.
        yield* Effect.flatMap(spark.sql("SELECT 2 AS b"), (df) => spark.createTempView(df, later))
        const analysis = yield* preflightRule(spec)
        return { before, failure, afterFailure, analysis }
      })
    )
    expect(outcome.failure).toMatchObject({
      _tag: "SqlError",
      category: "capturable",
      code: "TABLE_OR_VIEW_NOT_FOUND"
    })
    expect(outcome.afterFailure).toEqual(outcome.before)
    expect(outcome.analysis).toEqual(Plugin.analysed)
  })
})
