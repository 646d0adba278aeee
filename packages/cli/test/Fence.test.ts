// Fencing decides from the remote alone when no server can be asked; the sc:// rewriting it relies
// on (ConnectionString.isShared, withSessionId) is tested in runner-spark-connect.
import { Duration, Effect, Exit } from "effect"
import { describe, expect, it } from "vitest"
import * as Fence from "../src/Fence.js"
import { runningRecord } from "./support/LedgerRecord.js"

const record = (engineSessionId?: string) => runningRecord("r1", engineSessionId)

describe("Fence on an embedded local remote", () => {
  it("lets a run's own fence pass: its server ends with the run", async () => {
    expect(await Effect.runPromise(Fence.self("local[2]", "U", () => Duration.seconds(1)))).toBe(true)
  })

  it("refuses to fence a predecessor's shared session from a local remote", async () => {
    const exit = await Effect.runPromiseExit(Fence.predecessor("local[2]", Duration.seconds(1))(record("U")))
    expect(exit).toMatchObject({ _tag: "Failure" })
    expect(Exit.findErrorOption(exit)).toMatchObject({
      value: { _tag: "EngineUnreachable", code: "FENCE_FAILED", restartable: true }
    })
  })

  it("has nothing to fence for a predecessor without a session", async () => {
    const exit = await Effect.runPromiseExit(Fence.predecessor("local[2]", Duration.seconds(1))(record()))
    expect(exit._tag).toBe("Success")
  })
})
