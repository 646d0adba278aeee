import { Failure } from "@spark-etl/core"
import { SparkError } from "@spark-etl/runner-spark-connect"
import { describe, expect, it } from "vitest"
import * as Classify from "../src/Classify.js"

const error = (tag: SparkError.Tag, errorClass?: string, sqlState?: string) =>
  SparkError.make(tag, {
    message: `[${errorClass ?? "X"}] something went wrong\nserver detail line`,
    grpcCode: "INTERNAL",
    ...(errorClass !== undefined ? { errorClass } : {}),
    ...(sqlState !== undefined ? { sqlState } : {})
  })

describe("Classify.classify", () => {
  it.each([
    ["SparkParseError", "PARSE_SYNTAX_ERROR", "42601", "sql", "SqlError", "capturable", false],
    [
      "SparkAnalysisError",
      "UNRESOLVED_COLUMN.WITH_SUGGESTION",
      "42703",
      "sql",
      "SqlError",
      "capturable",
      false
    ],
    ["SparkAnalysisError", "PATH_ALREADY_EXISTS", "42K04", "write", "TargetError", "capturable", false],
    ["SparkExecutionError", "TASK_WRITE_FAILED", "58030", "write", "TargetError", "capturable", false],
    ["SparkAnalysisError", "PATH_NOT_FOUND", "42K03", "restore", "TargetError", "capturable", false],
    ["SparkAnalysisError", "UNABLE_TO_INFER_SCHEMA", "42KD9", "restore", "TargetError", "capturable", false],
    [
      "SparkExecutionError",
      "FAILED_READ_FILE.NO_HINT",
      "KD001",
      "restore",
      "TargetError",
      "capturable",
      false
    ],
    ["SparkDataError", "DIVIDE_BY_ZERO", "22012", "sql", "DataError", "capturable", false],
    ["SparkDataError", "CAST_INVALID_INPUT", "22018", "write", "DataError", "capturable", false],
    ["SparkExecutionError", "USER_RAISED_EXCEPTION", "P0001", "sql", "DataError", "capturable", false],
    ["SparkExecutionError", "DATA_SOURCE_NOT_FOUND", "42K02", "input", "SqlError", "capturable", false],
    ["SparkExecutionError", "INTERNAL_ERROR", "XX000", "sql", "Defect", "system", true],
    ["SparkUnavailable", undefined, undefined, "sql", "EngineUnreachable", "system", true],
    ["SparkUnauthenticated", undefined, undefined, "sql", "EngineUnreachable", "system", false],
    ["SparkSessionLost", "INVALID_HANDLE.SESSION_CLOSED", undefined, "sql", "SessionLost", "system", true],
    [
      "SparkOperationLost",
      "INVALID_HANDLE.OPERATION_NOT_FOUND",
      undefined,
      "sql",
      "SessionLost",
      "system",
      true
    ],
    ["SparkInterrupted", "OPERATION_CANCELED", undefined, "sql", "SessionLost", "system", true],
    ["SparkDeadlineExceeded", undefined, undefined, "write", "DeadlineExceeded", "system", true],
    ["SparkProtocolError", undefined, undefined, "sql", "Defect", "system", true]
  ] as const)("%s [%s] in %s → %s", (tag, errorClass, sqlState, phase, failureTag, category, restart) => {
    const failure = Classify.classify(error(tag, errorClass, sqlState), {
      ruleId: "r1",
      phase,
      where: "statement 1"
    })
    expect(failure._tag).toBe(failureTag)
    expect(failure.category).toBe(category)
    expect(Failure.restartMayHelp(failure)).toBe(restart)
    expect(failure.code).toBe(errorClass ?? failure.code)
    expect(failure.sqlState).toBe(sqlState)
    expect(failure.ruleId).toBe("r1")
    expect(failure.message).toMatch(/^rule "r1", statement 1: \[/)
    expect(failure.message).not.toContain("server detail line")
    expect(failure.engineDetail).toContain("server detail line")
  })

  it("classifies an error of the batch's engine settings without a rule", () => {
    const failure = Classify.classify(error("SparkAnalysisError", "CANNOT_MODIFY_STATIC_CONFIG", "46110"), {
      phase: "settings",
      where: "engine settings (spark.sql.warehouse.dir)"
    })
    expect(failure).toMatchObject({ _tag: "SqlError", code: "CANNOT_MODIFY_STATIC_CONFIG" })
    expect(failure.ruleId).toBeUndefined()
    expect(failure.message).toMatch(/^engine settings \(spark.sql.warehouse.dir\): \[/)
  })

  it("falls back to the taxonomy's own code when Spark gave no errorClass", () => {
    expect(Classify.classify(error("SparkUnavailable"), { ruleId: "r", phase: "sql" }).code).toBe(
      "ENGINE_UNREACHABLE"
    )
  })

  it.each([
    [
      "keeps Spark's first non-blank line, class and SQLSTATE already in it",
      "\n[PARSE_SYNTAX_ERROR] Syntax error at or near 'SELEC'. SQLSTATE: 42601 (line 1, pos 0)\n\n== SQL ==\nSELEC 1\n",
      "PARSE_SYNTAX_ERROR",
      "42601",
      "[PARSE_SYNTAX_ERROR] Syntax error at or near 'SELEC'. SQLSTATE: 42601 (line 1, pos 0)"
    ],
    [
      "adds the SQLSTATE Spark put on a later line",
      "[TABLE_OR_VIEW_NOT_FOUND] The table or view `t` cannot be found.\nSearch path: [x]. SQLSTATE: 42P01; line 1 pos 14;",
      "TABLE_OR_VIEW_NOT_FOUND",
      "42P01",
      "[TABLE_OR_VIEW_NOT_FOUND] The table or view `t` cannot be found. SQLSTATE: 42P01"
    ],
    [
      "adds the class when the text lacks it",
      "Division by zero.",
      "DIVIDE_BY_ZERO",
      "22012",
      "[DIVIDE_BY_ZERO] Division by zero. SQLSTATE: 22012"
    ],
    ["never ends empty", "", "TABLE_OR_VIEW_NOT_FOUND", "42P01", "[TABLE_OR_VIEW_NOT_FOUND] SQLSTATE: 42P01"]
  ] as const)("the human message %s", (_name, message, errorClass, sqlState, expected) => {
    const e = SparkError.make("SparkAnalysisError", { message, errorClass, sqlState })
    expect(Classify.humanMessage(e)).toBe(expected)
    expect(Classify.classify(e, { ruleId: "r", phase: "sql", where: "statement 1 (line 3)" }).message).toBe(
      `rule "r", statement 1 (line 3): ${expected}`
    )
  })

  it("bounds Spark's text in the message; the engine detail keeps all of it", () => {
    const long = `[X] ${"y".repeat(3000)}`
    const failure = Classify.classify(SparkError.make("SparkExecutionError", { message: `${long}\nmore` }), {
      ruleId: "r",
      phase: "sql"
    })
    expect(failure.message.length).toBeLessThanOrEqual(`rule "r": `.length + SparkError.maxHeadlineLength)
    expect(failure.engineDetail).toContain(long)
  })

  it("puts the server-side cause chain into the engine detail", () => {
    const withCauses = SparkError.withCauses(error("SparkDataError", "DIVIDE_BY_ZERO", "22012"), [
      {
        classes: ["org.apache.spark.SparkArithmeticException"],
        message: "Division by zero",
        errorClass: "DIVIDE_BY_ZERO",
        sqlState: "22012",
        messageParameters: {}
      }
    ])
    const failure = Classify.classify(withCauses, { ruleId: "r", phase: "sql" })
    expect(failure.engineDetail).toContain(
      "cause 1: org.apache.spark.SparkArithmeticException [DIVIDE_BY_ZERO]: Division by zero"
    )
  })
})
