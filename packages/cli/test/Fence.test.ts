// Fencing decides from the remote alone when no server can be asked, and a run's own fence gives
// up soon on a server that refuses it; the sc:// rewriting it relies on
// (ConnectionString.isShared, withSessionId) is tested in runner-spark-connect.
import { Duration, Effect, Exit, Logger } from "effect"
import * as net from "node:net"
import { describe, expect, it } from "vitest"
import * as Fence from "../src/Fence.js"
import { runningRecord } from "./support/LedgerRecord.js"

const record = (engineSessionId?: string) => runningRecord("r1", engineSessionId)

describe("Fence on an embedded local remote", () => {
  it("lets a run's own fence pass: its server ends with the run", async () => {
    expect(
      await Effect.runPromise(Fence.self("local[2]", "U", () => Duration.seconds(1), Effect.succeed([])))
    ).toEqual({
      confirmed: true
    })
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

// A port nothing listens on: taken from the system, then let go.
const closedPort = async (): Promise<number> => {
  const server = net.createServer()
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
  const { port } = server.address() as net.AddressInfo
  await new Promise<void>((resolve) => server.close(() => resolve()))
  return port
}

describe("a run's own fence on a server that refuses the connection", () => {
  it("gives up after a second of retries, not the whole deadline: unfenced, for the next run", async () => {
    const port = await closedPort()
    const errors: Array<string> = []
    const capture = Logger.layer([Logger.make(({ message }) => void errors.push(String(message)))])
    const started = Date.now()
    const fenced = await Effect.runPromise(
      Fence.self(
        `sc://127.0.0.1:${port}/;user_id=etl`,
        crypto.randomUUID(),
        () => Duration.seconds(20),
        // A command a rule interrupted without seeing its end.
        Effect.succeed(["6f1c0000-0000-4000-8000-000000000001"])
      ).pipe(Effect.provide(capture))
    )
    const ms = Date.now() - started
    // Nothing it could look at: what the rules left unsettled goes to the next fence, whole.
    expect(fenced).toEqual({ confirmed: false, pendingOperations: ["6f1c0000-0000-4000-8000-000000000001"] })
    // What the log says of it names the refusal, for L2.
    expect(errors).toEqual([
      expect.stringMatching(
        new RegExp(`^could not stop this run's work on the server: .*ECONNREFUSED 127.0.0.1:${port}`)
      )
    ])
    // The retries stop at 1 s; the rest is headroom for a loaded machine, far below the 20 s
    // that the predecessor's fence (and this one, before) would wait.
    expect(ms).toBeLessThan(8_000)
  })
})
