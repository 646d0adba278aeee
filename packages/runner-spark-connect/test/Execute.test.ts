import * as grpc from "@grpc/grpc-js"
import { create } from "@bufbuild/protobuf"
import { Effect } from "effect"
import { describe, expect, it } from "vitest"
import { UserContextSchema } from "../src/generated/spark/connect/base_pb.js"
import * as Execute from "../src/internal/Execute.js"
import * as Retry from "../src/Retry.js"

const context = (): Execute.Context => ({
  client: new grpc.Client("127.0.0.1:1", grpc.credentials.createInsecure()),
  sessionId: "s",
  userContext: create(UserContextSchema, { userId: "u" }),
  clientType: "test",
  metadata: new grpc.Metadata(),
  rpcTimeoutMs: 1000,
  streamTimeoutMs: 1000,
  retry: Retry.schedule({ budget: "0 millis" }),
  serverSession: { id: undefined },
  background: () => Effect.void
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
