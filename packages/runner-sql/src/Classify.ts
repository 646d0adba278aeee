/**
 * The one place where a Spark error becomes a failure of core's taxonomy. It reads the typed
 * error's kind, errorClass and SQLSTATE (never message text) and the phase of the rule it
 * happened in, because the same Spark kind means different things there: an analysis error
 * while writing is a target problem (path exists, unknown partition column), while running the
 * rule's SQL it is a SQL error.
 *
 * | Spark error | phase | failure | category |
 * | --- | --- | --- | --- |
 * | parse, analysis | settings, input, sql, expectation | SqlError | capturable |
 * | parse, analysis, execution | write, restore | TargetError | capturable |
 * | data (SQLSTATE 22: ANSI cast, divide by zero, overflow) | any | DataError | capturable |
 * | execution with SQLSTATE 42 / 22, 23 or P0001 (`raise_error`) | not write, restore | SqlError / DataError | capturable |
 * | unavailable, unauthenticated | any | EngineUnreachable | system |
 * | session lost or changed, operation lost, broken stream, interrupted by someone else | any | SessionLost | system |
 * | deadline | any | DeadlineExceeded | system |
 * | anything else | any | Defect | system |
 *
 * The code is Spark's errorClass when there is one, so dashboards group by Spark's own names.
 *
 * @example
 * import { Classify } from "@spark-etl/runner-sql"
 * const failure = Classify.classify(sparkError, { ruleId: "daily_totals", phase: "sql" })
 */
import * as Effect from "effect/Effect"
import { Failure } from "@spark-etl/core"
import * as SparkError from "@spark-etl/runner-spark-connect/SparkError"
import type { SparkSession } from "@spark-etl/runner-spark-connect"

/**
 * Where in a rule an error happened; `settings`: applying the batch's engine settings;
 * `restore`: reading a skipped rule's output back from its target (a resumed run).
 */
export type Phase = "settings" | "input" | "sql" | "expectation" | "write" | "restore"

/** What the classification needs besides the error. */
export interface Context {
  /** The rule, when the error is one rule's (engine settings belong to the batch). */
  readonly ruleId?: string
  readonly phase: Phase
  /** Where exactly, for the message: `statement 2 (line 7 of sql/x.sql)`, `input raw_orders`. */
  readonly where?: string
}

/** The engine detail of an error: Spark's message and the server-side cause chain. */
export const engineDetail = (error: SparkError.SparkError): string =>
  [
    SparkError.summary(error),
    ...(error.operationId !== undefined ? [`operation ${error.operationId}`] : []),
    ...(error.message.includes("\n") ? [error.message] : []),
    ...error.causes.map(
      (c, i) =>
        `cause ${i + 1}: ${c.classes[0] ?? "?"}${c.errorClass !== undefined ? ` [${c.errorClass}]` : ""}: ${c.message}`
    )
  ].join("\n")

const sqlStateClass = (error: SparkError.SparkError): string | undefined => error.sqlState?.slice(0, 2)

type Kind = "sql" | "data" | "target" | "unreachable" | "session" | "deadline" | "defect"

const kindOf = (error: SparkError.SparkError, phase: Phase): Kind => {
  switch (error._tag) {
    case "SparkDataError":
      return "data"
    case "SparkParseError":
    case "SparkAnalysisError":
      return phase === "write" || phase === "restore" ? "target" : "sql"
    case "SparkExecutionError": {
      if (phase === "write" || phase === "restore") return "target"
      const stateClass = sqlStateClass(error)
      if (stateClass === "42") return "sql"
      if (stateClass === "22" || stateClass === "23" || error.sqlState === "P0001") return "data"
      return "defect"
    }
    case "SparkUnavailable":
    case "SparkUnauthenticated":
      return "unreachable"
    // Our own interrupts end the rule's fiber; an interrupt that reaches here came from
    // elsewhere (an operator, or a later run fencing this session): the session is not ours.
    case "SparkSessionLost":
    case "SparkOperationLost":
    case "SparkStreamBroken":
    case "SparkInterrupted":
      return "session"
    case "SparkDeadlineExceeded":
      return "deadline"
    // A server that lacks what the client needs is a mismatch of versions, not of the batch.
    case "SparkProtocolError":
    case "SparkUnsupported":
      return "defect"
  }
}

/**
 * Spark's own words for the failure message, on one bounded line: the first non-blank line of
 * its message (`SparkError.headline`), with the error class in front and the SQLSTATE after
 * when that line does not already carry them (Spark puts `[CLASS]` first and `SQLSTATE: x` at
 * the end of the text, which may be a later line). Display only: nothing is classified on it.
 */
export const humanMessage = (error: SparkError.SparkError): string => {
  const line = SparkError.headline(error)
  const withClass =
    error.errorClass !== undefined && !line.startsWith(`[${error.errorClass}]`)
      ? `[${error.errorClass}] ${line}`
      : line
  return error.sqlState !== undefined && !line.includes(`SQLSTATE: ${error.sqlState}`)
    ? `${withClass} SQLSTATE: ${error.sqlState}`
    : withClass
}

/** Maps a Spark error to the taxonomy's failure of a rule. */
export const classify = (error: SparkError.SparkError, context: Context): Failure.RuleFailure => {
  const human = humanMessage(error)
  const subject = [
    ...(context.ruleId !== undefined ? [`rule "${context.ruleId}"`] : []),
    ...(context.where !== undefined ? [context.where] : [])
  ].join(", ")
  const input: Failure.Input = {
    message: subject !== "" ? `${subject}: ${human}` : human,
    ...(context.ruleId !== undefined ? { ruleId: context.ruleId } : {}),
    engineDetail: engineDetail(error),
    ...(error.errorClass !== undefined ? { code: error.errorClass } : {}),
    ...(error.sqlState !== undefined ? { sqlState: error.sqlState } : {})
  }
  switch (kindOf(error, context.phase)) {
    case "sql":
      return new Failure.SqlError(input)
    case "data":
      return new Failure.DataError(input)
    case "target":
      return new Failure.TargetError(input)
    case "unreachable":
      // Refused credentials will not fix themselves on a rerun.
      return new Failure.EngineUnreachable(
        error._tag === "SparkUnauthenticated" ? { ...input, restartable: false } : input
      )
    case "session":
      return new Failure.SessionLost(input)
    case "deadline":
      return new Failure.DeadlineExceeded(input)
    case "defect":
      return new Failure.Defect(input)
  }
}

/** How long to wait for the server's cause chain before classifying without it. */
const detailsTimeout = "5 seconds"

/**
 * Maps an operation's Spark error to the rule's failure, first fetching the server-side cause
 * chain (bounded by {@link detailsTimeout}) so the engine detail says why.
 */
export const mapErrors =
  (spark: SparkSession.Session, context: Context) =>
  <A>(effect: Effect.Effect<A, SparkError.SparkError>): Effect.Effect<A, Failure.RuleFailure> =>
    effect.pipe(
      Effect.catch((error) =>
        spark.errorDetails(error).pipe(
          Effect.timeoutOption(detailsTimeout),
          Effect.flatMap((detailed) =>
            Effect.fail(classify(detailed._tag === "Some" ? detailed.value : error, context))
          )
        )
      )
    )
