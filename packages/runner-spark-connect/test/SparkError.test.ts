import { create, toBinary } from "@bufbuild/protobuf"
import { anyPack } from "@bufbuild/protobuf/wkt"
import { describe, expect, it } from "vitest"
import { ErrorInfoSchema, RetryInfoSchema } from "../src/generated/google/rpc/error_details_pb.js"
import { StatusSchema } from "../src/generated/google/rpc/status_pb.js"
import { FetchErrorDetailsResponseSchema } from "../src/generated/spark/connect/base_pb.js"
import * as Classify from "../src/internal/Classify.js"
import * as Rpc from "../src/internal/Rpc.js"
import * as SparkError from "../src/SparkError.js"

const failure = (code: number, info?: Record<string, string>, reason = "") => {
  let statusDetails: Uint8Array | undefined
  if (info !== undefined) {
    const status = create(StatusSchema, {
      code,
      message: "m",
      details: [
        anyPack(RetryInfoSchema, create(RetryInfoSchema, {})),
        anyPack(
          ErrorInfoSchema,
          create(ErrorInfoSchema, { reason, domain: "org.apache.spark", metadata: info })
        )
      ]
    })
    statusDetails = toBinary(StatusSchema, status)
  }
  return { code, details: "server says no", statusDetails }
}

const nameOf = (code: number) => Object.entries(Rpc.Status).find(([, c]) => c === code)?.[0]

const sparkInfo = (classes: ReadonlyArray<string>, errorClass: string, sqlState: string) => ({
  classes: JSON.stringify(classes),
  errorClass,
  sqlState,
  messageParameters: JSON.stringify({ objectName: "`x`" }),
  errorId: "0f6c2f6e-7b7c-4c61-8d51-0d2d1c3b2a10"
})

describe("Classify.classify", () => {
  it("decodes ErrorInfo: classes, errorClass, sqlState, parameters and errorId", () => {
    const e = Classify.classify(
      failure(
        Rpc.Status.INTERNAL,
        sparkInfo(
          [
            "org.apache.spark.sql.catalyst.ExtendedAnalysisException",
            "org.apache.spark.sql.AnalysisException"
          ],
          "UNRESOLVED_COLUMN.WITH_SUGGESTION",
          "42703"
        ),
        "org.apache.spark.sql.catalyst.ExtendedAnalysisException"
      ),
      "op-1"
    )
    expect(e).toMatchObject({
      _tag: "SparkAnalysisError",
      grpcCode: "INTERNAL",
      errorClass: "UNRESOLVED_COLUMN.WITH_SUGGESTION",
      sqlState: "42703",
      messageParameters: { objectName: "`x`" },
      errorId: "0f6c2f6e-7b7c-4c61-8d51-0d2d1c3b2a10",
      operationId: "op-1",
      message: "server says no"
    })
    expect(e.classes[1]).toBe("org.apache.spark.sql.AnalysisException")
    expect(SparkError.category[e._tag]).toBe("capturable")
    expect(SparkError.isRetryable(e)).toBe(false)
  })

  it.each([
    [
      ["org.apache.spark.sql.catalyst.parser.ParseException"],
      "PARSE_SYNTAX_ERROR",
      "42601",
      "SparkParseError"
    ],
    [["org.apache.spark.SparkArithmeticException"], "DIVIDE_BY_ZERO", "22012", "SparkDataError"],
    [["org.apache.spark.SparkNumberFormatException"], "CAST_INVALID_INPUT", "22018", "SparkDataError"],
    [["org.apache.spark.SparkDateTimeException"], "DATETIME_FIELD_OUT_OF_BOUNDS", "22023", "SparkDataError"],
    [["org.apache.spark.SparkRuntimeException"], "USER_RAISED_EXCEPTION", "P0001", "SparkExecutionError"],
    [["org.apache.spark.SparkSQLException"], "INVALID_HANDLE.SESSION_NOT_FOUND", "HY000", "SparkSessionLost"],
    [["org.apache.spark.SparkSQLException"], "INVALID_HANDLE.SESSION_CHANGED", "HY000", "SparkSessionLost"],
    [
      ["org.apache.spark.SparkSQLException"],
      "INVALID_HANDLE.OPERATION_NOT_FOUND",
      "HY000",
      "SparkOperationLost"
    ],
    [["org.apache.spark.SparkSQLException"], "INVALID_CURSOR.DISCONNECTED", "HY109", "SparkStreamBroken"],
    [
      ["org.apache.spark.SparkSQLException"],
      "INVALID_CURSOR.POSITION_NOT_AVAILABLE",
      "HY109",
      "SparkOperationLost"
    ],
    [
      ["org.apache.spark.SparkSQLException"],
      "INVALID_CURSOR.POSITION_NOT_FOUND",
      "HY109",
      "SparkOperationLost"
    ],
    [["org.apache.spark.SparkException"], "OPERATION_CANCELED", "HY008", "SparkInterrupted"]
  ] as const)("maps %s / %s to its kind", (classes, errorClass, sqlState, tag) => {
    expect(
      Classify.classify(failure(Rpc.Status.INTERNAL, sparkInfo(classes, errorClass, sqlState)))._tag
    ).toBe(tag)
  })

  it.each([
    [Rpc.Status.UNAVAILABLE, "SparkUnavailable", true],
    [Rpc.Status.DEADLINE_EXCEEDED, "SparkDeadlineExceeded", false],
    [Rpc.Status.UNAUTHENTICATED, "SparkUnauthenticated", false],
    [Rpc.Status.PERMISSION_DENIED, "SparkUnauthenticated", false],
    [Rpc.Status.CANCELLED, "SparkInterrupted", false],
    [Rpc.Status.INTERNAL, "SparkStreamBroken", true],
    [Rpc.Status.UNKNOWN, "SparkExecutionError", false]
  ] as const)("maps gRPC %s without ErrorInfo to %s (retryable %s)", (code, tag, retryable) => {
    const e = Classify.classify(failure(code))
    expect(e._tag).toBe(tag)
    expect(SparkError.isRetryable(e)).toBe(retryable)
    expect(e.grpcCode).toBe(nameOf(code))
  })

  it("names every gRPC status code as the protocol's table does", () => {
    const codes = Object.values(Rpc.Status)
    expect(codes).toEqual([...Array(17).keys()])
    for (const code of codes) expect(Classify.classify(failure(code)).grpcCode).toBe(nameOf(code))
  })

  it("keeps going when the metadata JSON is malformed", () => {
    const e = Classify.classify(
      failure(Rpc.Status.INTERNAL, { classes: "not json", messageParameters: "{", errorClass: "X" }, "a.b.C")
    )
    expect(e).toMatchObject({
      _tag: "SparkExecutionError",
      classes: ["a.b.C"],
      messageParameters: {},
      errorClass: "X"
    })
  })

  it("ignores status details that are not a google.rpc.Status", () => {
    const statusDetails = Buffer.from([0xff, 0xff, 0xff])
    expect(Classify.classify({ code: Rpc.Status.UNAVAILABLE, details: "d", statusDetails })._tag).toBe(
      "SparkUnavailable"
    )
  })

  it("gives every kind a category and a retry decision", () => {
    expect(Object.keys(SparkError.category).sort()).toEqual(Object.keys(SparkError.retryable).sort())
    expect(
      Object.entries(SparkError.retryable)
        .filter(([, r]) => r)
        .map(([t]) => t)
        .sort()
    ).toEqual(["SparkStreamBroken", "SparkUnavailable"])
  })

  it("walks the FetchErrorDetails cause chain from the root and stops on cycles", () => {
    const response = create(FetchErrorDetailsResponseSchema, {
      rootErrorIdx: 0,
      errors: [
        {
          errorTypeHierarchy: ["org.apache.spark.SparkException"],
          message: "Job aborted",
          causeIdx: 1,
          sparkThrowable: { errorClass: "TASK_WRITE_FAILED", messageParameters: { path: "/x" } }
        },
        { errorTypeHierarchy: ["java.io.IOException"], message: "disk full", causeIdx: 0 }
      ]
    })
    const causes = SparkError.causesOf(response)
    expect(causes).toEqual([
      {
        classes: ["org.apache.spark.SparkException"],
        message: "Job aborted",
        errorClass: "TASK_WRITE_FAILED",
        sqlState: undefined,
        messageParameters: { path: "/x" }
      },
      {
        classes: ["java.io.IOException"],
        message: "disk full",
        errorClass: undefined,
        sqlState: undefined,
        messageParameters: {}
      }
    ])
    const e = SparkError.withCauses(SparkError.make("SparkExecutionError", { message: "x" }), causes)
    expect(e._tag).toBe("SparkExecutionError")
    expect(e.causes).toHaveLength(2)
  })

  it("keeps the message when the cause chain is attached (an Error's message is not enumerable)", () => {
    const e = SparkError.make("SparkAnalysisError", {
      message: "[TABLE_OR_VIEW_NOT_FOUND] The table or view `t` cannot be found.",
      errorClass: "TABLE_OR_VIEW_NOT_FOUND"
    })
    const link = {
      classes: ["org.apache.spark.sql.AnalysisException"],
      message: "cause text",
      messageParameters: {}
    }
    expect(SparkError.withCauses(e, [link]).message).toBe(e.message)
    expect(SparkError.withCauses(e, []).message).toBe(e.message)
  })

  it("takes the status text from the details trailer when the grpc-message is empty", () => {
    const statusDetails = failure(
      Rpc.Status.INTERNAL,
      sparkInfo(["x.AnalysisException"], "E", "42000")
    ).statusDetails
    const e = Classify.classify({ code: Rpc.Status.INTERNAL, details: "", statusDetails })
    expect(e.message).toBe("m")
  })

  // Spark 4.1's interrupt of an operation that had just arrived fails with such a text.
  it("trims the line break and indent a server text begins and ends with", () => {
    const text =
      "\n        operationId: o1 with status Pending\n        is not within statuses List(Finished, Failed, Canceled) for event Closed\n        "
    const e = Classify.classify({ code: Rpc.Status.UNKNOWN, details: text, statusDetails: undefined })
    expect(e.message).toBe(
      "operationId: o1 with status Pending\n        is not within statuses List(Finished, Failed, Canceled) for event Closed"
    )
  })

  it("renders the message from errorClass and parameters when the server sent no text", () => {
    const info = sparkInfo(["x.AnalysisException"], "TABLE_OR_VIEW_NOT_FOUND", "42P01")
    const status = create(StatusSchema, {
      code: Rpc.Status.INTERNAL,
      message: " \n",
      details: [anyPack(ErrorInfoSchema, create(ErrorInfoSchema, { reason: "r", metadata: info }))]
    })
    const statusDetails = Buffer.from(toBinary(StatusSchema, status))
    const e = Classify.classify({ code: Rpc.Status.INTERNAL, details: "", statusDetails })
    expect(e.message).toBe("[TABLE_OR_VIEW_NOT_FOUND] objectName=`x`")
    // FetchErrorDetails' text, when it comes, is better than our rendering.
    const link = {
      classes: ["org.apache.spark.sql.AnalysisException"],
      message: "[TABLE_OR_VIEW_NOT_FOUND] The table or view `x` cannot be found.",
      messageParameters: {}
    }
    expect(SparkError.withCauses(e, [link]).message).toBe(link.message)
    expect(
      Classify.classify({ code: Rpc.Status.UNKNOWN, details: "", statusDetails: undefined }).message
    ).toBe("UNKNOWN without a message")
  })

  // A bare exception on the server (a NullPointerException) has neither text nor error class:
  // its class is then what the message can say.
  it("names the server's exception class when it sent neither text nor error class", () => {
    const bare = create(StatusSchema, {
      code: Rpc.Status.INTERNAL,
      message: "",
      details: [
        anyPack(
          ErrorInfoSchema,
          create(ErrorInfoSchema, {
            reason: "java.lang.NullPointerException",
            metadata: {
              classes: JSON.stringify(["java.lang.NullPointerException", "java.lang.RuntimeException"])
            }
          })
        )
      ]
    })
    const statusDetails = Buffer.from(toBinary(StatusSchema, bare))
    const e = Classify.classify({ code: Rpc.Status.INTERNAL, details: "", statusDetails })
    expect(e.message).toBe("java.lang.NullPointerException without a message")
    expect(e.classes[0]).toBe("java.lang.NullPointerException")
    // A cause's text, when FetchErrorDetails brings one, replaces the stand-in; without one it stays.
    const link = {
      classes: ["java.lang.IllegalStateException"],
      message: "state store closed",
      messageParameters: {}
    }
    expect(SparkError.withCauses(e, [{ ...link, message: " " }]).message).toBe(e.message)
    expect(SparkError.withCauses(e, [{ ...link, message: " " }, link]).message).toBe("state store closed")
  })

  it("gives a headline: the first non-blank line, trimmed and bounded", () => {
    const parse = SparkError.make("SparkParseError", {
      message:
        "\n[PARSE_SYNTAX_ERROR] Syntax error at or near 'SELEC'. SQLSTATE: 42601 (line 1, pos 0)\n\n== SQL ==\nSELEC 1\n"
    })
    expect(SparkError.headline(parse)).toBe(
      "[PARSE_SYNTAX_ERROR] Syntax error at or near 'SELEC'. SQLSTATE: 42601 (line 1, pos 0)"
    )
    const long = SparkError.headline(SparkError.make("SparkExecutionError", { message: "x".repeat(2000) }))
    expect(long).toHaveLength(SparkError.maxHeadlineLength)
    expect(long.endsWith("…")).toBe(true)
    expect(SparkError.headline(SparkError.make("SparkUnavailable", { message: "" }))).toBe(
      "SparkUnavailable (OK)"
    )
  })

  it("summarises an error on one line", () => {
    const e = SparkError.make("SparkDataError", {
      message: "[DIVIDE_BY_ZERO] Division by zero.\n== SQL ==",
      errorClass: "DIVIDE_BY_ZERO",
      sqlState: "22012"
    })
    expect(SparkError.summary(e)).toBe(
      "SparkDataError [DIVIDE_BY_ZERO] SQLSTATE 22012 [DIVIDE_BY_ZERO] Division by zero."
    )
    expect(SparkError.isSparkError(e)).toBe(true)
    expect(SparkError.isSparkError(new Error("x"))).toBe(false)
  })
})

const abortedJob = (taskError: string) =>
  "Job aborted due to stage failure: Task 0 in stage 161.0 failed 1 times, most recent failure: " +
  `Lost task 0.0 in stage 161.0 (TID 192) (localhost executor driver): ${taskError}`

const divideByZero = abortedJob(
  "org.apache.spark.SparkArithmeticException: [DIVIDE_BY_ZERO] Division by zero. Use `try_divide` to tolerate " +
    'divisor being 0 and return NULL instead. If necessary set "spark.sql.ansi.enabled" to "false" to bypass ' +
    "this error."
)

describe("SparkError.errorClassOfMessage", () => {
  it.each([
    ["[PARSE_SYNTAX_ERROR] Syntax error at or near 'SELEC'.(line 1, pos 0)", "PARSE_SYNTAX_ERROR"],
    [
      "\n[UNRESOLVED_COLUMN.WITH_SUGGESTION] A column or function parameter with name `y` cannot be resolved.",
      "UNRESOLVED_COLUMN.WITH_SUGGESTION"
    ],
    [divideByZero, "DIVIDE_BY_ZERO"],
    [abortedJob("java.lang.RuntimeException: boom"), undefined],
    ["plain text", undefined],
    ["[lowercase] x", undefined],
    ["", undefined],
    [undefined, undefined]
  ] as const)("reads the error class of %o as %s", (message, errorClass) => {
    expect(SparkError.errorClassOfMessage(message)).toBe(errorClass)
  })
})

// A Spark 3.5 failure: its ErrorInfo carries the exception classes and nothing else; the error
// class is only in the message.
const spark35Failure = (message: string, classes: ReadonlyArray<string>, grpcMessage = message) => {
  const status = create(StatusSchema, {
    code: Rpc.Status.INTERNAL,
    message,
    details: [
      anyPack(
        ErrorInfoSchema,
        create(ErrorInfoSchema, {
          reason: classes[0] ?? "",
          domain: "org.apache.spark",
          metadata: { classes: JSON.stringify(classes) }
        })
      )
    ]
  })
  const statusDetails = Buffer.from(toBinary(StatusSchema, status))
  return { code: Rpc.Status.INTERNAL, details: grpcMessage, statusDetails }
}

describe("SparkError.classify of a Spark 3.5 failure (no errorClass in the ErrorInfo)", () => {
  it.each([
    [
      "[PARSE_SYNTAX_ERROR] Syntax error at or near 'SELEC'.(line 1, pos 0)",
      ["org.apache.spark.sql.catalyst.parser.ParseException", "org.apache.spark.sql.AnalysisException"],
      "SparkParseError",
      "PARSE_SYNTAX_ERROR",
      "42601"
    ],
    [
      "[OPERATION_CANCELED] Operation has been canceled.",
      ["org.apache.spark.SparkException"],
      "SparkInterrupted",
      "OPERATION_CANCELED",
      "HY008"
    ],
    [divideByZero, ["org.apache.spark.SparkException"], "SparkDataError", "DIVIDE_BY_ZERO", "22012"],
    // A subclass has its top-level class's SQLSTATE.
    [
      "[UNRESOLVED_COLUMN.WITH_SUGGESTION] A column or function parameter with name `y` cannot be resolved.",
      ["org.apache.spark.sql.AnalysisException"],
      "SparkAnalysisError",
      "UNRESOLVED_COLUMN.WITH_SUGGESTION",
      "42703"
    ]
  ] as const)("reads %o as %s / %s / %s", (message, classes, tag, errorClass, sqlState) => {
    const e = Classify.classify(spark35Failure(message, classes))
    expect(e).toMatchObject({ _tag: tag, errorClass, sqlState, message, grpcCode: "INTERNAL", classes })
  })

  it("reads the class from the details trailer's text when the grpc-message is empty", () => {
    const message = "[PARSE_SYNTAX_ERROR] Syntax error at or near 'SELEC'.(line 1, pos 0)"
    const e = Classify.classify(
      spark35Failure(message, ["org.apache.spark.sql.catalyst.parser.ParseException"], "")
    )
    expect(e).toMatchObject({
      _tag: "SparkParseError",
      errorClass: "PARSE_SYNTAX_ERROR",
      sqlState: "42601",
      message
    })
  })

  it("leaves errorClass and sqlState empty when the message names no class", () => {
    const message = abortedJob("java.lang.RuntimeException: boom")
    const e = Classify.classify(spark35Failure(message, ["org.apache.spark.SparkException"]))
    expect(e._tag).toBe("SparkExecutionError")
    expect(e.errorClass).toBeUndefined()
    expect(e.sqlState).toBeUndefined()
    expect(e.message).toBe(message)
  })

  it("does not read the message when the ErrorInfo has an errorClass (Spark 4.x)", () => {
    const info = sparkInfo(
      ["org.apache.spark.sql.catalyst.ExtendedAnalysisException", "org.apache.spark.sql.AnalysisException"],
      "TABLE_OR_VIEW_NOT_FOUND",
      "42P01"
    )
    const { statusDetails } = failure(Rpc.Status.INTERNAL, info, "org.apache.spark.sql.AnalysisException")
    const message = "[PARSE_SYNTAX_ERROR] Syntax error at or near 'SELEC'.(line 1, pos 0)"
    const e = Classify.classify({ code: Rpc.Status.INTERNAL, details: message, statusDetails })
    expect(e).toMatchObject({
      _tag: "SparkAnalysisError",
      errorClass: "TABLE_OR_VIEW_NOT_FOUND",
      sqlState: "42P01",
      message
    })
  })
})
