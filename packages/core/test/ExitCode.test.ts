import { describe, expect, it } from "vitest"
import { ExitCode, forSignal, restartMayHelp } from "../src/ExitCode.js"

describe("ExitCode", () => {
  it("keeps the documented numbers, all distinct", () => {
    expect(ExitCode).toEqual({
      Success: 0,
      BatchFailed: 1,
      SystemFailure: 2,
      Rejected: 3,
      Usage: 64,
      Interrupted: 130,
      Terminated: 143
    })
    expect(new Set(Object.values(ExitCode)).size).toBe(7)
  })

  it("maps signals to 128 + signal number", () => {
    expect(forSignal("SIGINT")).toBe(128 + 2)
    expect(forSignal("SIGTERM")).toBe(128 + 15)
  })

  it("tells L2 a restart may help only for system failures and signals", () => {
    expect(restartMayHelp(ExitCode.SystemFailure)).toBe(true)
    expect(restartMayHelp(ExitCode.Interrupted)).toBe(true)
    expect(restartMayHelp(ExitCode.BatchFailed)).toBe(false)
    expect(restartMayHelp(ExitCode.Rejected)).toBe(false)
  })
})
