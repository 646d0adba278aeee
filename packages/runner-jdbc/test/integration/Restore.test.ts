// Restoring jdbc rules a resumed run skips, against the real PostgreSQL and Spark: a rule runs
// in one session (the run resumed from) and is restored in another (the resumed run), as core
// does. A restore defines views; it never reads rows, caches or writes.
import { NodeServices } from "@effect/platform-node"
import { Plugin } from "@spark-etl/core"
import { SparkSession } from "@spark-etl/runner-spark-connect"
import { Effect, Layer, Result } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { describe, expect, it } from "vitest"
import * as JdbcRunner from "../../src/JdbcRunner.js"
import type { RuleSpec } from "./harness.js"
import { connection, failureOf, psql, restoreRule, run, runRule, sparkRows, unique } from "./harness.js"

/** The session with every request that reaches Spark recorded in `sent`. */
const recording = (sent: Array<string>) =>
  Layer.effect(
    SparkSession.SparkSession,
    Effect.map(SparkSession.SparkSession, (spark): SparkSession.Session => ({
      ...spark,
      sql: (query, options) => {
        sent.push(`sql ${query}`)
        return spark.sql(query, options)
      },
      createTempView: (df, name, options) => {
        sent.push(`view ${name}`)
        return spark.createTempView(df, name, options)
      },
      write: (df, options, operation) => {
        sent.push("write")
        return spark.write(df, options, operation)
      },
      collect: (df, options) => {
        sent.push("collect")
        return spark.collect(df, options)
      },
      schema: (df) => {
        sent.push("schema")
        return spark.schema(df)
      }
    }))
  )

/** Restores a rule with what it sends recorded. */
const restoreRecorded = (spec: RuleSpec) => {
  const sent: Array<string> = []
  return Effect.map(restoreRule(spec), (restoration) => ({ restoration, requests: [...sent] })).pipe(
    Effect.provide(recording(sent))
  )
}

const source = async () => {
  const table = unique("src")
  await Effect.runPromise(
    psql(
      `CREATE TABLE ${table} (id integer PRIMARY KEY, customer text NOT NULL);
       INSERT INTO ${table} VALUES (1, 'Ada'), (2, 'Zoë');`
    )
  )
  return table
}

describe("jdbc restore", () => {
  it("a read rule without a target: its view is defined again, lazily (no CACHE), and reads the database", async () => {
    const table = await source()
    const id = unique("orders")
    const outcome = await run(
      Effect.gen(function* () {
        const restored = yield* restoreRecorded({
          id,
          options: { ...connection(), read: { table, cache: true } }
        })
        return { ...restored, rows: yield* sparkRows(`SELECT id, customer FROM ${id} ORDER BY id`) }
      })
    )
    expect(outcome.restoration).toEqual(Plugin.restored)
    expect(outcome.requests).toEqual([`view ${id}`])
    expect(outcome.rows).toEqual([
      { id: 1, customer: "Ada" },
      { id: 2, customer: "Zoë" }
    ])
  })

  it("a read rule with a target: its view is the target read back, the database not asked; a target gone since is capturable", async () => {
    const table = await source()
    const id = unique("orders")
    const out = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "runner-jdbc-")), id)
    const spec: RuleSpec = { id, target: out, options: { ...connection(), read: { table } } }
    await run(runRule(spec))
    // The database's table is gone: only the target can give the rows back.
    await Effect.runPromise(psql(`DROP TABLE ${table}`))
    const outcome = await run(
      Effect.gen(function* () {
        const restored = yield* restoreRecorded(spec)
        return { ...restored, rows: yield* sparkRows(`SELECT id, customer FROM ${id} ORDER BY id`) }
      })
    )
    expect(outcome.restoration).toEqual(Plugin.restored)
    expect(outcome.requests).toEqual([`view ${id}`])
    expect(outcome.rows).toEqual([
      { id: 1, customer: "Ada" },
      { id: 2, customer: "Zoë" }
    ])
    fs.rmSync(out, { recursive: true })
    const failure = await failureOf(restoreRule(spec))
    expect(failure).toMatchObject({
      _tag: "TargetError",
      category: "capturable",
      code: "PATH_NOT_FOUND",
      ruleId: id
    })
    expect(failure.message).toContain(`reading back target ${out}`)
  })

  it("a write rule is restored without a request to Spark: it gives the rules after it no view", async () => {
    const id = unique("load")
    const upstream = unique("totals")
    const outcome = await run(
      restoreRecorded({
        id,
        dependsOn: [upstream],
        options: { ...connection(), write: { from: upstream, table: "reporting.totals" } }
      })
    )
    expect(outcome).toEqual({ restoration: Plugin.restored, requests: [] })
  })

  it("the fingerprint: no text (everything is in the options), the parameters of the user and password", async () => {
    const definitionOf = (options: unknown) => {
      const decoded = Plugin.decodeOptions(JdbcRunner.runner, options)
      if (Result.isFailure(decoded))
        throw new Error(`options do not decode: ${JSON.stringify(decoded.failure)}`)
      return JdbcRunner.runner.fingerprint!({
        batchDir: ".",
        rule: { id: "orders", kind: "jdbc" },
        options: decoded.success,
        parameters: {}
      })
    }
    const url = "jdbc:postgresql://db/shop"
    const definitions = await run(
      Effect.all([
        definitionOf({ ...connection(), read: { query: "SELECT ':not_a_parameter' AS x" } }),
        definitionOf({
          url,
          user: { param: "db_user" },
          password: { param: "db_pw" },
          write: { from: "a", table: "t" }
        }),
        definitionOf({ url, user: "etl", read: { table: "t" } })
      ]).pipe(Effect.provide(NodeServices.layer))
    )
    expect(definitions).toEqual([
      { text: "", parameters: ["db_password"] },
      { text: "", parameters: ["db_user", "db_pw"] },
      { text: "", parameters: [] }
    ])
  })
})
