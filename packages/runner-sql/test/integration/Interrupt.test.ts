// Interrupting a rule stops its query on the server, not just in this process.
import { Failure } from "@spark-etl/core"
import { SparkSession } from "@spark-etl/runner-spark-connect"
import { Effect, Fiber, Logger } from "effect"
import { randomUUID } from "node:crypto"
import { describe, expect, it } from "vitest"
import * as SqlRunner from "../../src/SqlRunner.js"
import { abandonRule, run, runRule, slowQuery, unique } from "./harness.js"

// Runs `use` with the fiber of a rule on a slow query, once that query runs on the server.
const withSlowRule = <A, E>(
  runId: string,
  id: string,
  use: (fiber: Fiber.Fiber<void, Failure.RuleFailure>) => Effect.Effect<A, E, SparkSession.SparkSession>
) => {
  const slow = slowQuery(id)
  return Effect.gen(function* () {
    const running = yield* slow.running
    const fiber = yield* runRule({
      id,
      runId,
      options: { sql: slow.sql, expect: { row_count: { min: 1 } } }
    }).pipe(Effect.forkChild({ startImmediately: true }))
    yield* running
    return yield* use(fiber)
  }).pipe(Effect.ensuring(slow.clear))
}

describe("interruption", () => {
  it("interrupts the rule's tag on the server: the running query is stopped there and the rule ends", async () => {
    const messages: Array<string> = []
    const collector = Logger.make((options) => void messages.push(String(options.message)))
    const runId = randomUUID()
    const id = unique("slow")
    const tag = SqlRunner.tagFor(runId, id)
    const result = await run(
      withSlowRule(runId, id, (fiber) =>
        Effect.gen(function* () {
          const spark = yield* SparkSession.SparkSession
          const stillRunning = fiber.pollUnsafe() === undefined
          const started = Date.now()
          yield* Fiber.interrupt(fiber)
          const stoppedInMs = Date.now() - started
          // Nothing carrying the rule's tag is left on the server.
          const leftOver = yield* spark.interrupt({ tag })
          return { stillRunning, stoppedInMs, leftOver }
        })
      ).pipe(Effect.provide(Logger.layer([collector])))
    )
    expect(result.stillRunning).toBe(true)
    expect(result.stoppedInMs).toBeLessThan(10_000)
    expect(result.leftOver).toEqual([])
    const line = messages.find((m) => m.startsWith(`rule ${id}: `))
    expect(line, messages.join("\n")).toBeDefined()
    expect(line).toMatch(/1 operation\(s\) stopped on the server: [0-9a-f-]{36}$/)
  })

  it("an interrupt from elsewhere (an operator, a fencing run) fails the rule as SessionLost, a system failure", async () => {
    const runId = randomUUID()
    const id = unique("fenced")
    const result = await run(
      withSlowRule(runId, id, (fiber) =>
        Effect.gen(function* () {
          const spark = yield* SparkSession.SparkSession
          const stopped = yield* spark.interrupt({ tag: SqlRunner.tagFor(runId, id) })
          const failure = yield* Effect.flip(Fiber.join(fiber))
          return { stopped, failure }
        })
      )
    )
    expect(result.stopped).toHaveLength(1)
    expect(result.failure).toMatchObject({ _tag: "SessionLost", category: "system", ruleId: id })
    expect(result.failure.message).toContain("expectation row_count")
    expect(Failure.restartMayHelp(result.failure)).toBe(true)
  })

  it("before a retry, abandon stops what the failed attempt still runs on the server; the retry then runs", async () => {
    const runId = randomUUID()
    const id = unique("retried")
    const result = await run(
      // The first attempt's query runs on; its fiber stands for a stream that broke unheard.
      withSlowRule(runId, id, (first) =>
        Effect.gen(function* () {
          yield* abandonRule({ id, runId, attempt: 2, options: { sql: "SELECT 1 AS a" } })
          yield* runRule({ id, runId, attempt: 2, options: { sql: "SELECT 1 AS a" } })
          const failure = yield* Effect.flip(Fiber.join(first))
          const spark = yield* SparkSession.SparkSession
          const leftOver = yield* spark.interrupt({ tag: SqlRunner.tagFor(runId, id) })
          return { failure, leftOver }
        })
      )
    )
    // The first attempt was stopped on the server (by abandon), not by this process.
    expect(result.failure).toMatchObject({ _tag: "SessionLost", ruleId: id })
    expect(result.leftOver).toEqual([])
  })

  // The usual case before a retry: the failed attempt's operation had already ended on the server.
  it("abandon with nothing of the rule on the server says so, with nothing left after a colon", async () => {
    const messages: Array<string> = []
    const collector = Logger.make((options) => void messages.push(String(options.message)))
    const id = unique("ended")
    await run(
      abandonRule({ id, runId: randomUUID(), attempt: 2, options: { sql: "SELECT 1 AS a" } }).pipe(
        Effect.provide(Logger.layer([collector]))
      )
    )
    expect(messages.filter((m) => m.startsWith(`rule ${id}`))).toEqual([
      `rule ${id}: no operation of it was running on the server`
    ])
  })

  it("makes the tag safe for Spark (no comma, plain alphabet)", () => {
    expect(SqlRunner.tagFor("run,1", "a b")).toBe("spark-etl-run_1-a_b")
  })

  it("a rule that finished leaves nothing to interrupt", async () => {
    const runId = randomUUID()
    const id = unique("quick")
    const leftOver = await run(
      Effect.andThen(
        runRule({ id, runId, options: { sql: "SELECT 1 AS a", expect: { row_count: { min: 1 } } } }),
        Effect.flatMap(SparkSession.SparkSession, (spark) =>
          spark.interrupt({ tag: SqlRunner.tagFor(runId, id) })
        )
      )
    )
    expect(leftOver).toEqual([])
  })
})
