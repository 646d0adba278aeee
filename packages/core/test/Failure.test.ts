import { Cause, Effect, Exit } from "effect"
import { describe, expect, it } from "vitest"
import * as Failure from "../src/Failure.js"
import { ExitCode } from "../src/ExitCode.js"

describe("Failure", () => {
  it("maps each category to its exit code", () => {
    expect(Failure.toExitCode(new Failure.SqlError({ message: "bad" }))).toBe(ExitCode.BatchFailed)
    expect(Failure.toExitCode(new Failure.DataError({ message: "bad" }))).toBe(ExitCode.BatchFailed)
    expect(Failure.toExitCode(new Failure.ExpectationFailed({ message: "bad" }))).toBe(ExitCode.BatchFailed)
    expect(Failure.toExitCode(new Failure.TargetError({ message: "bad" }))).toBe(ExitCode.BatchFailed)
    expect(Failure.toExitCode(new Failure.EngineUnreachable({ message: "down" }))).toBe(
      ExitCode.SystemFailure
    )
    expect(Failure.toExitCode(new Failure.SessionLost({ message: "gone" }))).toBe(ExitCode.SystemFailure)
    expect(Failure.toExitCode(new Failure.DeadlineExceeded({ message: "late" }))).toBe(ExitCode.SystemFailure)
    expect(Failure.toExitCode(new Failure.Defect({ message: "bug" }))).toBe(ExitCode.SystemFailure)
    expect(Failure.toExitCode(Failure.rejected([]))).toBe(ExitCode.Rejected)
    expect(Failure.toExitCode(new Failure.Interrupted({ message: "x", signal: "SIGINT" }))).toBe(130)
    expect(Failure.toExitCode(new Failure.Interrupted({ message: "x", signal: "SIGTERM" }))).toBe(143)
  })

  it("carries a stable code, defaulting to the class's own", () => {
    expect(new Failure.ExpectationFailed({ message: "m" }).code).toBe("EXPECTATION_FAILED")
    const sql = new Failure.SqlError({
      message: "[UNRESOLVED_COLUMN] x",
      code: "UNRESOLVED_COLUMN.WITH_SUGGESTION",
      sqlState: "42703",
      ruleId: "r1",
      engineDetail: "at org.apache.spark…"
    })
    expect(sql).toMatchObject({
      _tag: "SqlError",
      category: "capturable",
      code: "UNRESOLVED_COLUMN.WITH_SUGGESTION",
      sqlState: "42703",
      ruleId: "r1"
    })
  })

  it("says whether a plain restart may help, overridable per failure", () => {
    expect(Failure.restartMayHelp(new Failure.SqlError({ message: "m" }))).toBe(false)
    expect(Failure.restartMayHelp(new Failure.SessionLost({ message: "m" }))).toBe(true)
    expect(Failure.restartMayHelp(new Failure.TargetError({ message: "disk full", restartable: true }))).toBe(
      true
    )
  })

  it("builds the event payload, bounding the engine detail", () => {
    const payload = Failure.toEventPayload(
      new Failure.DataError({
        message: "div by zero",
        code: "DIVIDE_BY_ZERO",
        sqlState: "22012",
        engineDetail: "x".repeat(20000)
      })
    )
    expect(payload).toMatchObject({
      category: "capturable",
      code: "DIVIDE_BY_ZERO",
      sqlState: "22012",
      restartMayHelp: false
    })
    // Bounded at 8192 characters, then marked.
    expect(payload.engineDetail).toBe(`${"x".repeat(8192)}… (truncated)`)
  })

  it("classifies causes: typed failures kept, defects become system failures with their stack", async () => {
    const typed = new Failure.SqlError({ message: "m" })
    expect(Failure.fromCause(Cause.fail(typed))).toBe(typed)
    const exit = await Effect.runPromiseExit(Effect.die(new Error("boom")))
    if (Exit.isSuccess(exit)) throw new Error("expected a defect")
    const defect = Failure.fromCause(exit.cause, "r9")
    expect(defect).toMatchObject({ _tag: "Defect", category: "system", code: "DEFECT", ruleId: "r9" })
    expect(defect.message).toContain("boom")
    expect(defect.engineDetail).toContain("Error: boom")
    expect(Failure.fromCause(Cause.fail("a string"))._tag).toBe("Defect")
    expect(Failure.fromCause(Cause.interrupt())._tag).toBe("Interrupted")
  })

  // Whatever a runner throws, the message goes on after its colon.
  it("a defect without a message still says what was thrown", async () => {
    const defectOf = async (thrown: unknown) => {
      const exit = await Effect.runPromiseExit(Effect.die(thrown))
      if (Exit.isSuccess(exit)) throw new Error("expected a defect")
      return Failure.fromCause(exit.cause).message
    }
    expect(await defectOf(new Error(""))).toBe("unexpected defect: Error without a message")
    expect(await defectOf(new TypeError("  "))).toBe("unexpected defect: TypeError without a message")
    expect(await defectOf({ code: 7 })).toBe('unexpected defect: {"code":7}')
    expect(await defectOf("")).toBe("unexpected defect: an empty string")
    expect(await defectOf(undefined)).toBe("unexpected defect: no error value (undefined)")
  })

  it("mapText keeps the operations a failed fence leaves to the next one", () => {
    const failure = new Failure.EngineUnreachable({
      code: "FENCE_FAILED",
      message: "could not fence, token s3cr3t",
      pendingOperations: ["op-1"]
    })
    const mapped = Failure.mapText(failure, (t) => t.replaceAll("s3cr3t", "***"))
    expect(mapped).toMatchObject({ message: "could not fence, token ***", pendingOperations: ["op-1"] })
  })

  it("formats config issues as file:line:column: field: message", () => {
    const r = Failure.rejected([{ file: "b.yaml", line: 3, column: 5, field: "rules[0].id", message: "bad" }])
    expect(r.message).toBe("batch rejected (1 problem):\nb.yaml:3:5: rules[0].id: bad")
    expect(r.category).toBe("rejected")
  })
})
