/**
 * The errors of the local entry (`@spark-etl/runner-spark-connect/local`): fetching jars and
 * running a server as a child JVM.
 */
import * as Data from "effect/Data"

/** `mvn` could not be run or did not resolve the pom; `output` is the tail of what it printed. */
export class MavenError extends Data.TaggedError("MavenError")<{
  readonly message: string
  readonly output: string
}> {}

/** A local Spark Connect server did not start or did not answer; the log says why. */
export class LocalServerError extends Data.TaggedError("LocalServerError")<{
  readonly message: string
  readonly logFile?: string | undefined
  readonly logTail?: string | undefined
}> {}

/** SPARK_ETL_CLASS_ARCHIVE holds neither `on` nor `off`. */
export class ClassArchiveError extends Data.TaggedError("ClassArchiveError")<{ readonly message: string }> {}
