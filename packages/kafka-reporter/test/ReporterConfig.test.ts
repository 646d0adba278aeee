import { describe, expect, it } from "@effect/vitest"
import { Effect, Redacted } from "effect"
import * as ReporterConfig from "../src/ReporterConfig.js"

const minimal = {
  brokers: ["kafka-1:9092"],
  topic: "spark-etl.events",
  outboxFile: "/var/lib/spark-etl/outbox.jsonl"
}

describe("ReporterConfig.decode", () => {
  it.effect("applies the documented defaults", () =>
    Effect.gen(function* () {
      const config = yield* ReporterConfig.decode(minimal, "reporter.yaml")
      expect(config).toEqual({
        ...minimal,
        clientId: "spark-etl",
        publishTimeoutMs: 5000,
        flushTimeoutMs: 30000,
        retryAfterMs: 15000,
        connectionTimeoutMs: 1000,
        requestTimeoutMs: 3000,
        retries: 2,
        maxDetailBytes: 8192
      })
    })
  )

  it.effect("decodes SASL and TLS, keeping the password Redacted", () =>
    Effect.gen(function* () {
      const config = yield* ReporterConfig.decode(
        {
          ...minimal,
          tls: { caFile: "/etc/ssl/kafka-ca.pem" },
          sasl: { mechanism: "scram-sha-512", username: "etl", password: "hunter2" }
        },
        "reporter.yaml"
      )
      expect(config.tls).toEqual({ caFile: "/etc/ssl/kafka-ca.pem", rejectUnauthorized: true })
      expect(Redacted.isRedacted(config.sasl?.password)).toBe(true)
      expect(Redacted.value(config.sasl!.password)).toBe("hunter2")
      expect(String(config.sasl?.password)).not.toContain("hunter2")
      expect(JSON.stringify(config)).not.toContain("hunter2")
    })
  )

  it.effect("names the source and every bad field", () =>
    Effect.gen(function* () {
      const error = yield* ReporterConfig.decode(
        {
          brokers: ["kafka-1"],
          topic: "bad topic!",
          outboxFile: "",
          publishTimeoutMs: -5,
          retries: 0,
          sasl: { mechanism: "gssapi", username: "etl", password: "hunter2" },
          colour: "blue"
        },
        "/etc/spark-etl/reporter.yaml"
      ).pipe(Effect.flip)
      expect(error._tag).toBe("ConfigError")
      expect(error.source).toBe("/etc/spark-etl/reporter.yaml")
      const paths = error.issues.map((i) => i.path)
      expect(paths).toEqual(
        expect.arrayContaining([
          "brokers.0",
          "topic",
          "outboxFile",
          "publishTimeoutMs",
          "retries",
          "sasl.mechanism",
          "colour"
        ])
      )
      expect(error.message).toMatch(
        /^invalid Kafka reporter configuration in \/etc\/spark-etl\/reporter\.yaml: /
      )
      expect(error.message).toContain("host:port")
      expect(error.message).not.toContain("hunter2")
    })
  )

  it.effect("rejects a config without brokers", () =>
    Effect.gen(function* () {
      const error = yield* ReporterConfig.decode({ ...minimal, brokers: [] }, "reporter.yaml").pipe(
        Effect.flip
      )
      expect(error.issues.map((i) => i.path)).toEqual(["brokers.0"])
      expect(error.message).toContain("brokers.0")
    })
  )

  it.effect("names each bad field's own source when given a source per field", () =>
    Effect.gen(function* () {
      const sourceOf = (path: string) => (path.startsWith("brokers") ? "flag --brokers" : "env TOPIC")
      const error = yield* ReporterConfig.decode({ ...minimal, topic: "a b" }, sourceOf).pipe(Effect.flip)
      expect(error.source).toBe("env TOPIC")
      expect(error.message).toMatch(/^invalid Kafka reporter configuration: topic \(env TOPIC\): Expected/)
      expect(error.message).not.toContain("--brokers")
    })
  )
})
