import { create } from "@bufbuild/protobuf"
import { Effect, Stream } from "effect"
import * as net from "node:net"
import { describe, expect, it } from "vitest"
import { PlanSchema, UserContextSchema } from "../src/generated/spark/connect/base_pb.js"
import * as Connection from "../src/internal/Connection.js"
import * as Execute from "../src/internal/Execute.js"
import * as Retry from "../src/Retry.js"

const context = (address = "127.0.0.1:1"): Execute.Context => ({
  client: Connection.make({ address, useSsl: false }),
  sessionId: "s",
  userContext: create(UserContextSchema, { userId: "u" }),
  clientType: "test",
  metadata: {},
  rpcTimeoutMs: 1000,
  streamTimeoutMs: 1000,
  interruptWaitMs: 1000,
  retry: Retry.schedule({ budget: "0 millis" }),
  serverSession: { id: undefined },
  background: () => Effect.void,
  unsettled: new Set()
})

describe("Execute.checkServerSession", () => {
  it("remembers the first server-side session id and accepts it again", () => {
    const ctx = context()
    expect(Execute.checkServerSession(ctx, "a")).toBeUndefined()
    expect(Execute.checkServerSession(ctx, "a")).toBeUndefined()
    expect(Execute.checkServerSession(ctx, "")).toBeUndefined()
    expect(ctx.serverSession.id).toBe("a")
    ctx.client.close()
  })

  it("reports a replaced server-side session as SparkSessionLost (SESSION_CHANGED)", () => {
    const ctx = context()
    Execute.checkServerSession(ctx, "a")
    expect(Execute.checkServerSession(ctx, "b")).toMatchObject({
      _tag: "SparkSessionLost",
      errorClass: "INVALID_HANDLE.SESSION_CHANGED"
    })
    ctx.client.close()
  })
})

// A black hole: accepts TCP connections, reads and drops every byte, never answers or resets.
const blackHole = (): Promise<{ readonly port: number; readonly close: () => void }> =>
  new Promise((resolve) => {
    const sockets = new Set<net.Socket>()
    const server = net.createServer((s) => {
      sockets.add(s)
      s.on("data", () => undefined)
      s.on("error", () => s.destroy())
    })
    server.listen(0, "127.0.0.1", () => {
      const address = server.address() as net.AddressInfo
      resolve({
        port: address.port,
        close: () => {
          for (const s of sockets) s.destroy()
          server.close()
        }
      })
    })
  })

describe("Execute.execute", () => {
  it("fails as SparkUnavailable within the unary deadline when the server never answers, not the stream's", async () => {
    const hole = await blackHole()
    const ctx = { ...context(`127.0.0.1:${hole.port}`), rpcTimeoutMs: 500, streamTimeoutMs: 600_000 }
    const started = Date.now()
    const error = await Effect.runPromise(
      Stream.runDrain(Execute.execute(ctx, create(PlanSchema, {}))).pipe(Effect.flip)
    )
    const ms = Date.now() - started
    ctx.client.close()
    hole.close()
    expect(error).toMatchObject({ _tag: "SparkUnavailable" })
    expect(error.message).toMatch(/no connection to the server within 500 ms/)
    expect(ms).toBeGreaterThanOrEqual(450)
    expect(ms).toBeLessThan(10_000)
  })
})
