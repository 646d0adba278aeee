// What the runner adds per rule: 50 trivial sql rules through the runner, against the same 50
// statements sent as the bare session calls a rule needs (sql + createTempView), alternating,
// on one session of the same server. Prints medians; checks the work was really done.
// Run: SPARK_REMOTE=sc://… RUNNER_SQL_BENCH=1 npx vitest run --root packages/runner-sql
import { NodeServices } from "@effect/platform-node"
import { Plugin } from "@spark-etl/core"
import { SparkSession } from "@spark-etl/runner-spark-connect"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as ManagedRuntime from "effect/ManagedRuntime"
import * as Result from "effect/Result"
import { randomUUID } from "node:crypto"
import { afterAll, expect, inject, it } from "vitest"
import * as SqlRunner from "../src/SqlRunner.js"

const rules = 50
const rounds = Number(process.env["ROUNDS"] ?? 7)
const runtime = ManagedRuntime.make(
  Layer.provideMerge(SparkSession.layer({ remote: inject("sparkRemote") }), NodeServices.layer)
)
afterAll(() => runtime.dispose())

const statement = (i: number) => `SELECT ${i} AS n, 'rule ${i}' AS label`

const throughRunner = Effect.gen(function* () {
  const runId = randomUUID()
  for (let i = 0; i < rules; i++) {
    const options = Plugin.decodeOptions(SqlRunner.runner, { sql: statement(i) })
    if (Result.isFailure(options)) return yield* Effect.die(new Error("options do not decode"))
    yield* SqlRunner.runner.run({
      runId,
      attempt: 1,
      batch: { name: "bench", dir: process.cwd(), parameters: {}, settings: {} },
      rule: { id: `bench_rule_${i}`, kind: "sql", dependsOn: [] },
      options: options.success
    })
  }
})

const bare = Effect.gen(function* () {
  const spark = yield* SparkSession.SparkSession
  for (let i = 0; i < rules; i++) {
    const df = yield* spark.sql(statement(i))
    yield* spark.createTempView(df, `bench_bare_${i}`, { replace: true })
  }
})

const timed = async (program: Effect.Effect<void, unknown, SparkSession.SparkSession>) => {
  const started = performance.now()
  await runtime.runPromise(program)
  return performance.now() - started
}

const median = (xs: ReadonlyArray<number>) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!

it(`${rules} trivial sql rules: runner vs bare session calls`, async () => {
  await timed(throughRunner) // warm-up: session, JIT, server caches
  await timed(bare)
  const runner: Array<number> = []
  const baseline: Array<number> = []
  for (let r = 0; r < rounds; r++) {
    runner.push(await timed(throughRunner))
    baseline.push(await timed(bare))
  }
  const perRule = (ms: number) => (ms / rules).toFixed(2)
  console.info(
    [
      `${rules} rules x ${rounds} rounds, medians:`,
      `  through SqlRunner.runner: ${median(runner).toFixed(0)} ms (${perRule(median(runner))} ms/rule)`,
      `  bare sql + createTempView: ${median(baseline).toFixed(0)} ms (${perRule(median(baseline))} ms/rule)`,
      `  runner overhead: ${perRule(median(runner) - median(baseline))} ms/rule; ratio ${(median(runner) / median(baseline)).toFixed(2)}`
    ].join("\n")
  )
  const last = await runtime.runPromise(
    Effect.flatMap(SparkSession.SparkSession, (spark) =>
      spark.collect(spark.table(`bench_rule_${rules - 1}`))
    )
  )
  expect(last).toEqual([{ n: rules - 1, label: `rule ${rules - 1}` }])
}, 600_000)
