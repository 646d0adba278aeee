// Every row of Classify's table, from errors shaped as the real server returned them (see the
// integration tests for the same paths end to end).
import { Failure } from "@spark-etl/core"
import { SparkError } from "@spark-etl/runner-spark-connect"
import { describe, expect, it } from "vitest"
import * as Classify from "../src/Classify.js"

const psql = (message: string): SparkError.CauseLink => ({
  classes: ["org.postgresql.util.PSQLException", "java.sql.SQLException"],
  message,
  messageParameters: {}
})

const syntaxError = (pgMessage: string) =>
  SparkError.make("SparkExecutionError", {
    message: `[JDBC_EXTERNAL_ENGINE_SYNTAX_ERROR.DURING_OUTPUT_SCHEMA_RESOLUTION] JDBC external engine syntax error. … ${pgMessage}. SQLSTATE: 42000`,
    errorClass: "JDBC_EXTERNAL_ENGINE_SYNTAX_ERROR.DURING_OUTPUT_SCHEMA_RESOLUTION",
    sqlState: "42000",
    causes: [psql(pgMessage)]
  })

const connectionFailed = (cause: SparkError.CauseLink) =>
  SparkError.make("SparkAnalysisError", {
    message:
      "[FAILED_JDBC.CONNECTION] Failed JDBC jdbc:postgresql:*********(redacted) on the operation: Couldn't connect to the database SQLSTATE: HV000",
    errorClass: "FAILED_JDBC.CONNECTION",
    sqlState: "HV000",
    causes: [cause]
  })

const read = { ruleId: "orders", phase: "read" as const, where: "reading table t" }
const write = { ruleId: "load", phase: "write" as const, where: "writing table t" }

describe("Classify.classify", () => {
  it("a missing table while reading: SqlError, the database's code and state, Spark's class in the message", () => {
    const f = Classify.classify(syntaxError('ERROR: relation "t" does not exist\n  Position: 15'), read)
    expect(f).toBeInstanceOf(Failure.SqlError)
    expect(f).toMatchObject({ code: "UNDEFINED_TABLE", sqlState: "42P01", ruleId: "orders" })
    expect(f.message).toBe(
      'rule "orders", reading table t: ERROR: relation "t" does not exist (SQLSTATE 42P01) [JDBC_EXTERNAL_ENGINE_SYNTAX_ERROR.DURING_OUTPUT_SCHEMA_RESOLUTION]'
    )
    expect(f.engineDetail).toContain("org.postgresql.util.PSQLException")
  })

  // As Spark 4.2 reports a `driver:` it cannot load: the class name is the whole message.
  it("a driver class Spark cannot load: SqlError JDBC_DRIVER_NOT_FOUND, naming the class and what to check", () => {
    const missing = SparkError.make("SparkExecutionError", {
      message: "org.example.NoSuchDriver",
      causes: [
        {
          classes: ["java.lang.ClassNotFoundException"],
          message: "org.example.NoSuchDriver",
          messageParameters: {}
        }
      ]
    })
    const f = Classify.classify(missing, read)
    expect(f).toBeInstanceOf(Failure.SqlError)
    expect(f).toMatchObject({ code: "JDBC_DRIVER_NOT_FOUND", category: "capturable", ruleId: "orders" })
    expect(f.message).toBe(
      "rule \"orders\", reading table t: the JDBC driver class org.example.NoSuchDriver is not on Spark's classpath (check the rule's driver, or add the driver's jar to the cluster)"
    )
    expect(f.engineDetail).toContain("cause 1: java.lang.ClassNotFoundException: org.example.NoSuchDriver")
  })

  it("the same while writing: TargetError; a missing schema (3F) too", () => {
    expect(Classify.classify(syntaxError('ERROR: relation "t" does not exist'), write)).toBeInstanceOf(
      Failure.TargetError
    )
    const schema = SparkError.make("SparkExecutionError", {
      message: 'ERROR: schema "s" does not exist\n  Position: 14',
      causes: [psql('ERROR: schema "s" does not exist\n  Position: 14')]
    })
    expect(Classify.classify(schema, write)).toMatchObject({ _tag: "TargetError", sqlState: "3F000" })
  })

  it("Spark's syntax class without a message to read: SqlError with Spark's code", () => {
    const f = Classify.classify(syntaxError("FEHLER: Relation »t« existiert nicht"), read)
    expect(f).toMatchObject({
      _tag: "SqlError",
      code: "JDBC_EXTERNAL_ENGINE_SYNTAX_ERROR.DURING_OUTPUT_SCHEMA_RESOLUTION",
      sqlState: "42000"
    })
  })

  it("a constraint violated or a bad value: DataError", () => {
    const dup = SparkError.make("SparkExecutionError", {
      message:
        'Job aborted due to stage failure: … java.sql.BatchUpdateException: Batch entry 0 INSERT INTO t ("id") VALUES ((\'1\'::int4)) was aborted: ERROR: duplicate key value violates unique constraint "t_pkey"\n  Detail: Key (id)=(1) already exists.  Call getNextException to see other errors in the batch.'
    })
    expect(Classify.classify(dup, write)).toMatchObject({
      _tag: "DataError",
      code: "UNIQUE_VIOLATION",
      sqlState: "23505"
    })
    const div = SparkError.make("SparkExecutionError", {
      message: "ERROR: division by zero",
      causes: [psql("ERROR: division by zero")]
    })
    expect(Classify.classify(div, read)).toMatchObject({ _tag: "DataError", sqlState: "22012" })
  })

  it("the database unreachable: EngineUnreachable, by pgjdbc's message or by the Java class alone", () => {
    const refused = connectionFailed(
      psql("Connection to 127.0.0.1:1 refused. Check that the hostname and port are correct")
    )
    const f = Classify.classify(refused, read)
    expect(f).toBeInstanceOf(Failure.EngineUnreachable)
    expect(f).toMatchObject({
      category: "system",
      sqlState: "08001",
      code: "SQLCLIENT_UNABLE_TO_ESTABLISH_SQLCONNECTION"
    })
    const unknownHost = connectionFailed({
      classes: ["java.net.UnknownHostException"],
      message: "db.invalid",
      messageParameters: {}
    })
    expect(Classify.classify(unknownHost, read)).toMatchObject({
      _tag: "EngineUnreachable",
      code: "FAILED_JDBC.CONNECTION"
    })
  })

  it("a login refused: EngineUnreachable, not restartable", () => {
    const f = Classify.classify(
      connectionFailed(psql('FATAL: password authentication failed for user "etl"')),
      read
    )
    expect(f).toMatchObject({ _tag: "EngineUnreachable", sqlState: "28P01", restartable: false })
    expect(Failure.restartMayHelp(f)).toBe(false)
  })

  it("deadlock, no connection slot, shutdown: SessionLost", () => {
    for (const message of [
      "ERROR: deadlock detected",
      "FATAL: sorry, too many clients already",
      "FATAL: terminating connection due to administrator command"
    ]) {
      expect(Classify.classify(SparkError.make("SparkExecutionError", { message }), write)).toBeInstanceOf(
        Failure.SessionLost
      )
    }
  })

  it("Spark's own failures keep their meaning; an unknown execution error is a Defect", () => {
    expect(Classify.classify(SparkError.make("SparkUnavailable", { message: "down" }), read)).toBeInstanceOf(
      Failure.EngineUnreachable
    )
    expect(Classify.classify(SparkError.make("SparkSessionLost", { message: "gone" }), read)).toBeInstanceOf(
      Failure.SessionLost
    )
    expect(
      Classify.classify(SparkError.make("SparkDeadlineExceeded", { message: "late" }), read)
    ).toBeInstanceOf(Failure.DeadlineExceeded)
    expect(
      Classify.classify(
        SparkError.make("SparkExecutionError", { message: "java.lang.NullPointerException" }),
        read
      )
    ).toBeInstanceOf(Failure.Defect)
  })

  it("reading a target back for a resume: Spark failing on the output is a capturable TargetError", () => {
    const restore = { ruleId: "orders", phase: "restore" as const, where: "reading back target /out/orders" }
    const gone = SparkError.make("SparkAnalysisError", {
      message: "[PATH_NOT_FOUND] Path does not exist: file:/out/orders. SQLSTATE: 42K03",
      errorClass: "PATH_NOT_FOUND",
      sqlState: "42K03"
    })
    expect(Classify.classify(gone, restore)).toMatchObject({
      _tag: "TargetError",
      category: "capturable",
      code: "PATH_NOT_FOUND",
      message:
        'rule "orders", reading back target /out/orders: [PATH_NOT_FOUND] Path does not exist: file:/out/orders. SQLSTATE: 42K03 [PATH_NOT_FOUND]'
    })
    const corrupt = SparkError.make("SparkExecutionError", {
      message: "[FAILED_READ_FILE.NO_HINT] Encountered error while reading file",
      errorClass: "FAILED_READ_FILE.NO_HINT"
    })
    expect(Classify.classify(corrupt, restore)).toMatchObject({ _tag: "TargetError", category: "capturable" })
    // Spark itself failing is still the platform's.
    expect(
      Classify.classify(SparkError.make("SparkSessionLost", { message: "gone" }), restore)
    ).toBeInstanceOf(Failure.SessionLost)
  })
})
