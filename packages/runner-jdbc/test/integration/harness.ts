// Runs jdbc rules against the harness's Spark and PostgreSQL, one Spark session per program.
import { NodeServices } from "@effect/platform-node"
import { Plugin } from "@spark-etl/core"
import type { Failure, Parameter } from "@spark-etl/core"
import { LocalPostgres } from "@spark-etl/infra"
import { SparkSession } from "@spark-etl/runner-spark-connect"
import type { Rows, SparkError } from "@spark-etl/runner-spark-connect"
import { Effect, Exit, Layer, Option, Redacted, Result } from "effect"
import { randomUUID } from "node:crypto"
import { inject } from "vitest"
import * as JdbcRunner from "../../src/JdbcRunner.js"
import * as PgWire from "./support/pgWire.js"

/** A session on the test run's Spark, with the Node services validation and psql need. */
export const layer = () =>
  Layer.provideMerge(SparkSession.layer({ remote: inject("sparkRemote") }), NodeServices.layer)

/** A unique, SQL-safe name for this test's tables, views and rules. */
export const unique = (prefix: string): string => `${prefix}_${randomUUID().replaceAll("-", "").slice(0, 10)}`

/** Runs SQL in the test's PostgreSQL with psql; its unaligned output (`|` between fields). */
export const psql = (sql: string): Effect.Effect<string, LocalPostgres.QueryFailed> =>
  LocalPostgres.query(inject("postgres"), sql).pipe(Effect.provide(NodeServices.layer))

/** The rows of a query, sorted, as psql prints them. */
export const psqlRows = (sql: string): Effect.Effect<ReadonlyArray<string>, LocalPostgres.QueryFailed> =>
  Effect.map(psql(sql), (out) =>
    out
      .split("\n")
      .filter((l) => l !== "")
      .sort()
  )

/** The batch's secret parameter holding the database password, as core hands it to a runner. */
export const secretPassword = (): Parameter.Values => ({
  db_password: {
    type: "string",
    value: Redacted.make(inject("postgres").password),
    text: "***",
    secret: true
  }
})

/** Connection options of a rule on the test's database, its password from `db_password`. */
export const connection = (url: string = inject("postgres").jdbcUrl) => ({
  url,
  user: inject("postgres").user,
  password: { param: "db_password" }
})

/** What one rule run needs. */
export interface RuleSpec {
  readonly id: string
  readonly options: unknown
  readonly dependsOn?: ReadonlyArray<string>
  readonly runId?: string
  readonly target?: string
}

const decode = (spec: RuleSpec): JdbcRunner.Options => {
  const decoded = Plugin.decodeOptions(JdbcRunner.runner, spec.options)
  if (Result.isFailure(decoded)) throw new Error(`options do not decode: ${JSON.stringify(decoded.failure)}`)
  return decoded.success
}

const contextOf = (spec: RuleSpec): Plugin.RunContext<JdbcRunner.Options> => ({
  runId: spec.runId ?? randomUUID(),
  attempt: 1,
  batch: { name: "test", dir: process.cwd(), parameters: secretPassword(), settings: {} },
  rule: {
    id: spec.id,
    kind: "jdbc",
    dependsOn: spec.dependsOn ?? [],
    ...(spec.target !== undefined
      ? { target: { ruleId: spec.id, declared: spec.target, location: spec.target } }
      : {})
  },
  options: decode(spec)
})

/** Runs one rule through the runner as core would (options decoded first). */
export const runRule = (
  spec: RuleSpec
): Effect.Effect<void, Failure.RuleFailure, SparkSession.SparkSession> =>
  Effect.suspend(() => JdbcRunner.runner.run(contextOf(spec)))

/** What core does before a retry of one rule. */
export const abandonRule = (spec: RuleSpec): Effect.Effect<void, never, SparkSession.SparkSession> =>
  Effect.suspend(() => JdbcRunner.runner.abandon!(contextOf(spec)))

/** Preflights one rule as core would. */
export const preflightRule = (
  spec: RuleSpec
): Effect.Effect<Plugin.Analysis, Failure.RuleFailure, SparkSession.SparkSession> =>
  Effect.suspend(() => JdbcRunner.runner.preflight!({ ...contextOf(spec), targets: [] }))

/** Restores one rule a resumed run skips, as core would (the batch has no other target). */
export const restoreRule = (
  spec: RuleSpec
): Effect.Effect<Plugin.Restoration, Failure.RuleFailure, SparkSession.SparkSession> =>
  Effect.suspend(() => {
    const ctx = contextOf(spec)
    return JdbcRunner.runner.restore!({
      ...ctx,
      targets: ctx.rule.target !== undefined ? [ctx.rule.target] : []
    })
  })

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

/** Rows of a Spark query on the same session. */
export const sparkRows = (
  sql: string
): Effect.Effect<ReadonlyArray<Rows.Row>, SparkError.SparkError, SparkSession.SparkSession> =>
  Effect.flatMap(SparkSession.SparkSession, (spark) =>
    Effect.flatMap(spark.sql(sql), (df) => spark.collect(df))
  )

/** A JDBC URL where nothing listens: a port of the loopback that refuses connections. */
export const downUrl = "jdbc:postgresql://127.0.0.1:1/postgres"

/**
 * Runs `f` with a JDBC URL that reaches the test's database through a relay reading the
 * driver's messages (support/pgWire.ts); the relay closes after.
 */
export const throughRelay = async <A>(f: (url: string, relay: PgWire.Relay) => Promise<A>): Promise<A> => {
  const pg = inject("postgres")
  const relay = await PgWire.start({ host: pg.host, port: pg.port })
  try {
    return await f(pg.jdbcUrl.replace(`//${pg.host}:${pg.port}/`, `//127.0.0.1:${relay.port}/`), relay)
  } finally {
    await relay.close()
  }
}

/** Whether the test's Spark is at least `major.minor`. */
export const sparkAtLeast = (major: number, minor: number): boolean => {
  const [ma = 0, mi = 0] = inject("sparkVersion").split(".").map(Number)
  return ma > major || (ma === major && mi >= minor)
}
