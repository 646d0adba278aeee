// Runs sql rules against the shared Spark Connect server, one session per program.
import { NodeServices } from "@effect/platform-node"
import { Plugin } from "@spark-etl/core"
import type { Failure, Parameter, TargetStore } from "@spark-etl/core"
import { until } from "@spark-etl/testing"
import { SparkSession } from "@spark-etl/runner-spark-connect"
import type { Rows, SparkError } from "@spark-etl/runner-spark-connect"
import { Effect, Exit, Layer, Option, Result } from "effect"
import { randomUUID } from "node:crypto"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { inject } from "vitest"
import * as SqlRunner from "../../src/SqlRunner.js"

/** A session on the shared server, with the Node services validation needs. */
export const layer = () =>
  Layer.provideMerge(SparkSession.layer({ remote: inject("sparkRemote") }), NodeServices.layer)

/** A unique, SQL-safe name for this test's views, tables and rules. */
export const unique = (prefix: string): string => `${prefix}_${randomUUID().replaceAll("-", "").slice(0, 10)}`

/** A fresh temporary directory (a batch dir or a target root). */
export const tempDir = (): string => fs.mkdtempSync(path.join(os.tmpdir(), "runner-sql-"))

/** What one rule run needs. */
export interface RuleSpec {
  readonly id: string
  readonly options: unknown
  readonly runId?: string
  readonly batchDir?: string
  readonly parameters?: Parameter.Values
  readonly target?: string
  readonly dependsOn?: ReadonlyArray<string>
  /** The attempt (1 unless a retry is tested). */
  readonly attempt?: number
}

const decode = (spec: RuleSpec): SqlRunner.Options => {
  const decoded = Plugin.decodeOptions(SqlRunner.runner, spec.options)
  if (Result.isFailure(decoded)) throw new Error(`options do not decode: ${JSON.stringify(decoded.failure)}`)
  return decoded.success
}

/** A rule's target as the filesystem store gives it (the location is the declared path). */
export const targetOf = (spec: RuleSpec): ReadonlyArray<TargetStore.Target> =>
  spec.target !== undefined ? [{ ruleId: spec.id, declared: spec.target, location: spec.target }] : []

const contextOf = (spec: RuleSpec): Plugin.RunContext<SqlRunner.Options> => ({
  runId: spec.runId ?? randomUUID(),
  attempt: spec.attempt ?? 1,
  batch: {
    name: "test",
    dir: spec.batchDir ?? process.cwd(),
    parameters: spec.parameters ?? {},
    settings: {}
  },
  rule: {
    id: spec.id,
    kind: "sql",
    dependsOn: spec.dependsOn ?? [],
    ...(spec.target !== undefined ? { target: targetOf(spec)[0]! } : {})
  },
  options: decode(spec)
})

/** Runs one rule through the runner as core would (options decoded first). */
export const runRule = (
  spec: RuleSpec
): Effect.Effect<void, Failure.RuleFailure, SparkSession.SparkSession> =>
  Effect.suspend(() => SqlRunner.runner.run(contextOf(spec)))

/** Stops what an earlier attempt of one rule still runs, as core does before a retry. */
export const abandonRule = (spec: RuleSpec): Effect.Effect<void, never, SparkSession.SparkSession> =>
  Effect.suspend(() => SqlRunner.runner.abandon!(contextOf(spec)))

/** Preflights one rule as core would; `targets` are every target of the batch. */
export const preflightRule = (
  spec: RuleSpec,
  targets: ReadonlyArray<TargetStore.Target> = targetOf(spec)
): Effect.Effect<Plugin.Analysis, Failure.RuleFailure, SparkSession.SparkSession> =>
  Effect.suspend(() => SqlRunner.runner.preflight!({ ...contextOf(spec), targets }))

/** Restores one rule a resumed run skips, as core would; `targets` are every target of the batch. */
export const restoreRule = (
  spec: RuleSpec,
  targets: ReadonlyArray<TargetStore.Target> = targetOf(spec)
): Effect.Effect<Plugin.Restoration, Failure.RuleFailure, SparkSession.SparkSession> =>
  Effect.suspend(() => SqlRunner.runner.restore!({ ...contextOf(spec), targets }))

/** Prepares a run with the given engine settings. */
export const prepareRun = (
  settings: Readonly<Record<string, string>>
): Effect.Effect<void, Failure.RuleFailure, SparkSession.SparkSession> =>
  SqlRunner.runner.prepare!({
    runId: randomUUID(),
    batch: { name: "test", dir: process.cwd(), parameters: {}, settings }
  })

/** Runs a program with a session; returns its exit. */
const exitOf = <A, E>(
  program: Effect.Effect<A, E, SparkSession.SparkSession | NodeServices.NodeServices>
): Promise<Exit.Exit<A, E | SparkSession.MakeError>> =>
  Effect.runPromiseExit(program.pipe(Effect.provide(layer())))

/** Runs a program with a session; returns its value or throws its cause for vitest to show. */
export const run = async <A, E>(
  program: Effect.Effect<A, E, SparkSession.SparkSession | NodeServices.NodeServices>
): Promise<A> => {
  const exit = await exitOf(program)
  if (Exit.isSuccess(exit)) return exit.value
  throw new Error(`program failed: ${String(exit.cause)}`)
}

/** The typed failure of a program that must fail. */
export const failureOf = async <A, E>(
  program: Effect.Effect<A, E, SparkSession.SparkSession | NodeServices.NodeServices>
): Promise<E | SparkSession.MakeError> => {
  const exit = await exitOf(program)
  const error = Exit.isFailure(exit) ? Exit.findErrorOption(exit) : Option.none()
  if (Option.isNone(error)) throw new Error(`expected a typed failure, got ${String(exit)}`)
  return error.value
}

/** The rows of a query on the same session. */
export const rows = (
  sql: string
): Effect.Effect<ReadonlyArray<Rows.Row>, SparkError.SparkError, SparkSession.SparkSession> =>
  Effect.flatMap(SparkSession.SparkSession, (spark) =>
    Effect.flatMap(spark.sql(sql), (df) => spark.collect(df))
  )

/**
 * A query that runs until interrupted (for two minutes at most) and tells when it runs on the
 * server: its one task stamps the JVM system property `key` with the query's start time (one
 * value per execution), then sleeps, which a cancel interrupts at once. `stamp` reads the
 * property with a query Spark answers while planning, needing no task slot. A per-row call in a
 * scan would not do: Spark's cancel does not stop such a scan (its tasks run on, holding cores).
 * Sees the driver's JVM only: a local server (dev and CI).
 */
export const slowQuery = (key: string) => {
  const reflect = (target: string, method: string, ...args: ReadonlyArray<string>) =>
    `reflect('java.lang.${target}', '${method}', ${args.join(", ")})`
  const mark = reflect("System", "setProperty", `'${key}'`, "CAST(current_timestamp() AS STRING)")
  const sleep = reflect("Thread", "sleep", "CAST(120000 AS BIGINT)")
  const sql = `SELECT id FROM range(0, 1, 1, 1) WHERE concat(${mark}, ${sleep}) IS NULL`
  const probe = (method: string) =>
    rows(`SELECT ${reflect("System", method, `'${key}'`)} AS value FROM VALUES (1) AS t(x)`)
  const stamp = Effect.map(probe("getProperty"), (r) => String(r[0]?.["value"]))
  return {
    sql,
    /** Arms the witness: the effect it returns completes once an execution of `sql` started after this stamps. */
    running: Effect.map(stamp, (before) =>
      until(
        Effect.map(stamp, (now) => now !== before),
        { what: `the slow query (${key}) to run on the server`, within: "90 seconds", every: "200 millis" }
      )
    ),
    /** Removes the property from the server's JVM. */
    clear: Effect.ignore(probe("clearProperty"))
  }
}
