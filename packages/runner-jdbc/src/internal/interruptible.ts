/**
 * A rule's Spark work, stoppable on the server. Every operation carries the tag
 * `spark-etl-<runId>-<ruleId>`; on interruption the server is told first (by tag: every
 * operation of the rule, including one just starting), then the client's streams are torn
 * down — the other order would leave a window where a read or an insert runs on.
 */
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import { type Failure, Plugin } from "@spark-etl/core"
import * as SparkSession from "@spark-etl/runner-spark-connect/SparkSession"

// How long the runner waits for the server (and the database) to confirm an interrupt.
const interruptTimeout = "10 seconds"

/**
 * Runs `work` in a child fiber whose interruption interrupts the rule's tag on the server,
 * then runs `alsoStop` (the database's side: Spark's cancel does not reach a JDBC statement).

 */
export const interruptible = <A>(
  runId: string,
  ruleId: string,
  work: (
    spark: SparkSession.Session,
    operation: SparkSession.OperationOptions
  ) => Effect.Effect<A, Failure.RuleFailure>,
  alsoStop: (spark: SparkSession.Session) => Effect.Effect<void> = () => Effect.void
): Effect.Effect<A, Failure.RuleFailure, SparkSession.SparkSession> =>
  Effect.gen(function* () {
    const spark = yield* SparkSession.SparkSession
    const tag = Plugin.operationTag(runId, ruleId)
    const fiber = yield* Effect.forkChild(work(spark, { tags: [tag] }), { startImmediately: true })
    return yield* Fiber.join(fiber).pipe(
      Effect.onInterrupt(() =>
        Effect.andThen(
          SparkSession.stopTagged(spark, tag, `rule ${ruleId}`, interruptTimeout),
          Effect.andThen(alsoStop(spark).pipe(Effect.timeoutOption(interruptTimeout)), Fiber.interrupt(fiber))
        )
      )
    )
  }).pipe(Effect.annotateLogs({ rule: ruleId }))

/**
 * Before a retry: stops what the failed attempt may still run — its operations on the server
 * (by tag) and, through `alsoStop`, its statements in the database — so no late write of it
 * lands after the next attempt begins.
 */
export const abandon = (
  runId: string,
  ruleId: string,
  alsoStop: (spark: SparkSession.Session) => Effect.Effect<void> = () => Effect.void
): Effect.Effect<void, never, SparkSession.SparkSession> =>
  Effect.flatMap(SparkSession.SparkSession, (spark) =>
    Effect.andThen(
      SparkSession.stopTagged(spark, Plugin.operationTag(runId, ruleId), `rule ${ruleId}`, interruptTimeout),
      Effect.asVoid(alsoStop(spark).pipe(Effect.timeoutOption(interruptTimeout)))
    )
  ).pipe(Effect.annotateLogs({ rule: ruleId }))
