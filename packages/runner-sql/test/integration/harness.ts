// Runs sql rules against the shared Spark Connect server, one session per program.
import { NodeServices } from "@effect/platform-node"
import { Plugin } from "@spark-etl/core"
import type { Failure, Parameter, TargetStore } from "@spark-etl/core"
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
  attempt: 1,
  batch: {
    name: "test",
    dir: spec.batchDir ?? process.cwd(),
    parameters: spec.parameters ?? {},
    settings: {}
  },
  rule: {
    id: spec.id,
    kind: "sql",
    dependsOn: [],
    ...(spec.target !== undefined ? { target: targetOf(spec)[0]! } : {})
  },
  options: decode(spec)
})

/** Runs one rule through the runner as core would (options decoded first). */
export const runRule = (
  spec: RuleSpec
): Effect.Effect<void, Failure.RuleFailure, SparkSession.SparkSession> =>
  Effect.suspend(() => SqlRunner.runner.run(contextOf(spec)))

/** Preflights one rule as core would; `targets` are every target of the batch. */
export const preflightRule = (
  spec: RuleSpec,
  targets: ReadonlyArray<TargetStore.Target> = targetOf(spec)
): Effect.Effect<Plugin.Analysis, Failure.RuleFailure, SparkSession.SparkSession> =>
  Effect.suspend(() => SqlRunner.runner.preflight!({ ...contextOf(spec), targets }))

/** Prepares a run with the given engine settings. */
export const prepareRun = (
  settings: Readonly<Record<string, string>>
): Effect.Effect<void, Failure.RuleFailure, SparkSession.SparkSession> =>
  SqlRunner.runner.prepare!({
    runId: randomUUID(),
    batch: { name: "test", dir: process.cwd(), parameters: {}, settings }
  })

/** Runs a program with a session; returns its exit. */
export const exitOf = <A, E>(
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
