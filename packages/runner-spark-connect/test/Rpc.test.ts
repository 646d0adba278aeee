import * as grpc from "@grpc/grpc-js"
import { describe, expect, it } from "vitest"
import * as Rpc from "../src/internal/Rpc.js"
import * as Classify from "../src/internal/Classify.js"

// What grpc-js hands a callback when nothing listens: an Error with the status fields on it.
const serviceError = (code: grpc.status, details: string): grpc.ServiceError =>
  Object.assign(new Error(`${code} ${grpc.status[code]}: ${details}`), {
    code,
    details,
    metadata: new grpc.Metadata()
  })

const refused =
  "No connection established. Last error: Error: connect ECONNREFUSED 127.0.0.1:1. Resolution note: "

describe("Rpc.toRpcFailure", () => {
  it("drops grpc-js's empty trailing 'Resolution note: ' and keeps the cause", () => {
    const failure = Rpc.toRpcFailure(serviceError(grpc.status.UNAVAILABLE, refused))
    expect(failure.details).toBe(
      "No connection established. Last error: Error: connect ECONNREFUSED 127.0.0.1:1."
    )
    expect(Classify.classify(failure)).toMatchObject({
      _tag: "SparkUnavailable",
      message: "No connection established. Last error: Error: connect ECONNREFUSED 127.0.0.1:1."
    })
  })

  it("keeps text whose colons are followed by something", () => {
    for (const details of [
      "Name resolution failed for target dns:no-such-host.invalid:1",
      "Last error: Error: connect ECONNREFUSED 127.0.0.1:1.",
      "Resolution note: DNS timed out"
    ])
      expect(Rpc.toRpcFailure(serviceError(grpc.status.UNAVAILABLE, details)).details).toBe(details)
  })

  it("drops any trailing label left empty, and a text that is only one falls back to the code", () => {
    expect(Rpc.tidyDetails("Stream closed. Reason: \n")).toBe("Stream closed.")
    expect(Rpc.tidyDetails("Stream closed; last frame:")).toBe("Stream closed")
    expect(Rpc.tidyDetails("Resolution note: ")).toBe("")
    expect(
      Classify.classify(Rpc.toRpcFailure(serviceError(grpc.status.UNAVAILABLE, "Resolution note: ")))
    ).toMatchObject({
      message: "UNAVAILABLE without a message"
    })
  })
})

describe("Rpc.deadlineOrCancel", () => {
  const cancelled = Rpc.toRpcFailure(serviceError(grpc.status.CANCELLED, "Call cancelled"))
  const call = { cancelledHere: false, deadline: 10_000, timeoutMs: 1500 }

  it("reads a CANCELLED this client did not cause, at its deadline, as the deadline (the server's timer won the race)", () => {
    const failure = Rpc.deadlineOrCancel(cancelled, call, 10_000)
    expect(failure.code).toBe(grpc.status.DEADLINE_EXCEEDED)
    expect(failure.details).toBe("deadline of 1500 ms exceeded (the server ended the call: Call cancelled)")
    expect(Classify.classify(failure)).toMatchObject({ _tag: "SparkDeadlineExceeded" })
  })

  it("keeps CANCELLED when this client cancelled, or long before the deadline", () => {
    expect(Rpc.deadlineOrCancel(cancelled, { ...call, cancelledHere: true }, 10_000).code).toBe(
      grpc.status.CANCELLED
    )
    expect(Rpc.deadlineOrCancel(cancelled, call, 5_000).code).toBe(grpc.status.CANCELLED)
  })

  it("leaves every other status as it is", () => {
    const unavailable = Rpc.toRpcFailure(serviceError(grpc.status.UNAVAILABLE, "gone"))
    expect(Rpc.deadlineOrCancel(unavailable, call, 20_000)).toBe(unavailable)
  })
})
