/**
 * The one place where an error of a jdbc rule becomes a failure of core's taxonomy. The
 * database's SQLSTATE decides when it is known (see DatabaseState for how it is recovered);
 * otherwise what Spark says structurally: its error class and the Java classes of the causes.
 *
 * | what happened | failure | category |
 * | --- | --- | --- |
 * | SQLSTATE 42 (missing table or column, syntax, privilege), 3D, 3F, 0A — reading | SqlError | capturable |
 * | the same while writing (the target table) | TargetError | capturable |
 * | SQLSTATE 22, 23 (bad value, constraint violated) | DataError | capturable |
 * | Spark's JDBC_EXTERNAL_ENGINE_SYNTAX_ERROR (the database said 42…), no message to read | as SQLSTATE 42 | capturable |
 * | a java.lang.ClassNotFoundException cause: the rule's driver class is not on Spark's classpath | SqlError JDBC_DRIVER_NOT_FOUND | capturable |
 * | SQLSTATE 08, a java.net connect/timeout/unknown-host cause, FAILED_JDBC.CONNECTION | EngineUnreachable | system |
 * | SQLSTATE 28 (login refused) | EngineUnreachable, not restartable | system |
 * | SQLSTATE 40, 53, 57 (deadlock, no connection slot, shut down) | SessionLost | system |
 * | Spark itself: unavailable, session lost, deadline… | as runner-sql classifies them | system |
 * | reading a read rule's target back for a resume: Spark cannot (path gone, unreadable, no table) | TargetError | capturable |
 * | anything else | Defect | system |
 *
 * The failure's `sqlState` is the database's when known, else Spark's; its `code` is the
 * database's condition (`UNDEFINED_TABLE`, `UNIQUE_VIOLATION`…), else Spark's errorClass, so
 * events say what the database said. Spark's own class stays in `engineDetail`.
 */
import * as Effect from "effect/Effect"
import { Failure } from "@spark-etl/core"
import * as SparkError from "@spark-etl/runner-spark-connect/SparkError"
import type { SparkSession } from "@spark-etl/runner-spark-connect"
import * as DatabaseState from "./DatabaseState.js"

/**
 * Where in a rule the error happened: reading the source, loading the target table, or
 * reading a read rule's own target back for a resumed run that skips it (Spark's files or
 * table, not the database).
 */
export type Phase = "read" | "write" | "restore"

/** What the classification needs besides the error. */
export interface Context {
  readonly ruleId: string
  readonly phase: Phase
  /** What the rule was doing, for the message: `reading table public.orders`. */
  readonly where: string
}

type Kind =
  "sql" | "driver" | "data" | "target" | "unreachable" | "refused" | "session" | "deadline" | "defect"

const byState = (stateClass: string): Kind | undefined => {
  switch (stateClass) {
    case "42":
    case "3D":
    case "3F":
    case "0A":
      return "sql"
    case "22":
    case "23":
      return "data"
    case "08":
      return "unreachable"
    case "28":
      return "refused"
    case "40":
    case "53":
    case "57":
      return "session"
    default:
      return undefined
  }
}

// Java classes in a cause chain that mean the database could not be reached at all.
const unreachableClasses = new Set([
  "java.net.ConnectException",
  "java.net.UnknownHostException",
  "java.net.NoRouteToHostException",
  "java.net.SocketTimeoutException",
  "java.sql.SQLTransientConnectionException",
  "java.sql.SQLNonTransientConnectionException"
])

const classesOf = (error: SparkError.SparkError): ReadonlyArray<string> => [
  ...error.classes,
  ...error.causes.flatMap((c) => c.classes)
]

const bySpark = (error: SparkError.SparkError, phase: Phase): Kind => {
  if (classesOf(error).some((c) => unreachableClasses.has(c))) return "unreachable"
  // The one class a jdbc rule makes Spark load is its driver's.
  if (classesOf(error).includes("java.lang.ClassNotFoundException")) return "driver"
  if (error.errorClass?.startsWith("FAILED_JDBC.CONNECTION") === true) return "unreachable"
  // Spark gives this class when the driver's SQLSTATE starts with 42 (its best-effort check).
  if (error.errorClass?.startsWith("JDBC_EXTERNAL_ENGINE_SYNTAX_ERROR") === true) return "sql"
  switch (error._tag) {
    case "SparkParseError":
    case "SparkAnalysisError":
      return phase === "restore" ? "target" : "sql"
    case "SparkDataError":
      return "data"
    case "SparkUnavailable":
    case "SparkUnauthenticated":
      return "unreachable"
    case "SparkSessionLost":
    case "SparkOperationLost":
    case "SparkStreamBroken":
    case "SparkInterrupted":
      return "session"
    case "SparkDeadlineExceeded":
      return "deadline"
    case "SparkExecutionError":
      // Reading an output back, Spark failing on its files means the output is not usable.
      return phase === "restore" ? "target" : "defect"
    case "SparkProtocolError":
    case "SparkUnsupported":
      return "defect"
  }
}

/** The texts the database's state is looked for in: the message, then each cause's. */
const texts = (error: SparkError.SparkError): ReadonlyArray<string> => [
  error.message,
  ...error.causes.map((c) => c.message),
  ...Object.values(error.messageParameters)
]

/** The engine detail: Spark's summary and the server-side cause chain. */
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

/** Maps a Spark error of a jdbc rule to the taxonomy's failure. */
export const classify = (error: SparkError.SparkError, context: Context): Failure.RuleFailure => {
  const state = DatabaseState.find(texts(error))
  const kind =
    (state !== undefined ? byState(state.sqlState.slice(0, 2)) : undefined) ?? bySpark(error, context.phase)
  // The database's own words when we have them, else Spark's first line.
  const said = state !== undefined ? `${state.line} (SQLSTATE ${state.sqlState})` : SparkError.headline(error)
  const sparkClass = error.errorClass !== undefined ? ` [${error.errorClass}]` : ""
  const sqlState = state?.sqlState ?? error.sqlState
  const code = state?.condition.toUpperCase() ?? error.errorClass
  const input: Failure.Input = {
    message: `rule "${context.ruleId}", ${context.where}: ${said}${sparkClass}`,
    ruleId: context.ruleId,
    engineDetail: engineDetail(error),
    ...(code !== undefined ? { code } : {}),
    ...(sqlState !== undefined ? { sqlState } : {})
  }
  switch (kind) {
    case "sql":
      return context.phase === "read" ? new Failure.SqlError(input) : new Failure.TargetError(input)
    case "driver":
      // A name mistyped in the rule, or a jar the cluster lacks: neither mends itself on a rerun.
      return new Failure.SqlError({
        ...input,
        code: "JDBC_DRIVER_NOT_FOUND",
        message: `rule "${context.ruleId}", ${context.where}: the JDBC driver class ${SparkError.headline(error)} is not on Spark's classpath (check the rule's driver, or add the driver's jar to the cluster)`
      })
    case "target":
      return new Failure.TargetError(input)
    case "data":
      return new Failure.DataError(input)
    case "unreachable":
      return new Failure.EngineUnreachable(input)
    case "refused":
      // Refused credentials will not fix themselves on a rerun.
      return new Failure.EngineUnreachable({ ...input, restartable: false })
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
 * chain (bounded by {@link detailsTimeout}): the driver's message is often only there.
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
