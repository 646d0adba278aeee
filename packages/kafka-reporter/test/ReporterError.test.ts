// kafkajs' real error classes, as its producer raises them, mapped to our stable codes.
import { describe, expect, it } from "vitest"
import {
  KafkaJSConnectionError,
  KafkaJSError,
  KafkaJSNumberOfRetriesExceeded,
  KafkaJSProtocolError
} from "kafkajs"
import { classify } from "../src/internal/classify.js"
import { retryable } from "../src/ReporterError.js"

// kafkajs builds protocol errors from its decoded error table entries (message, type, code).
const protocol = (type: string) =>
  new KafkaJSProtocolError(Object.assign(new Error(`protocol ${type}`), { type, code: 0, retriable: false }))

describe("classify", () => {
  it("sees a refused connection behind the retries wrapper", () => {
    const error = classify(
      "connect",
      new KafkaJSNumberOfRetriesExceeded(
        new KafkaJSConnectionError("Connection error: connect ECONNREFUSED"),
        { retryCount: 2, retryTime: 300 }
      )
    )
    expect(error.code).toBe("BROKER_UNREACHABLE")
    expect(error.operation).toBe("connect")
    expect(error.retryable).toBe(true)
    expect(error.message).toContain("ECONNREFUSED")
  })

  it("maps Kafka protocol errors that need an operator to non-retryable codes", () => {
    expect(classify("send", protocol("UNKNOWN_TOPIC_OR_PARTITION")).code).toBe("TOPIC_MISSING")
    expect(classify("send", protocol("TOPIC_AUTHORIZATION_FAILED")).code).toBe("AUTHORIZATION_FAILED")
    expect(classify("connect", protocol("SASL_AUTHENTICATION_FAILED")).code).toBe("AUTHENTICATION_FAILED")
    expect(classify("send", protocol("MESSAGE_TOO_LARGE")).code).toBe("MESSAGE_REJECTED")
    expect(classify("send", protocol("UNKNOWN_TOPIC_OR_PARTITION")).retryable).toBe(false)
  })

  it("prefers the operator-actionable reason anywhere in the chain", () => {
    const wrapped = new KafkaJSNumberOfRetriesExceeded(protocol("UNKNOWN_TOPIC_OR_PARTITION"), {
      retryCount: 2,
      retryTime: 300
    })
    expect(classify("send", wrapped).code).toBe("TOPIC_MISSING")
  })

  it("gives its message on one line", () => {
    const alert =
      "Connection error: C0CCECCF277F0000:error:0A000416:SSL routines:ssl3_read_bytes:ssl/tls alert certificate unknown:../deps/openssl/openssl/ssl/record/rec_layer_s3.c:916:SSL alert number 46\n"
    const error = classify("connect", new KafkaJSConnectionError(alert))
    expect(error.code).toBe("BROKER_UNREACHABLE")
    expect(error.message).toBe(alert.trim())
    expect(classify("send", new KafkaJSError("first\n  second\n")).message).toBe("first second")
  })

  it("keeps anything else as UNKNOWN with its message", () => {
    const error = classify("send", new KafkaJSError("something odd"))
    expect(error.code).toBe("UNKNOWN")
    expect(error.message).toBe("something odd")
    expect(classify("send", "a string").message).toBe("a string")
  })

  it("has a retry policy for every code", () => {
    expect(Object.keys(retryable).sort()).toEqual([
      "AUTHENTICATION_FAILED",
      "AUTHORIZATION_FAILED",
      "BROKER_UNREACHABLE",
      "DEADLINE_EXCEEDED",
      "MESSAGE_REJECTED",
      "TOPIC_MISSING",
      "UNKNOWN"
    ])
  })
})
