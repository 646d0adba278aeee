// What the producer hands kafkajs, and the configuration errors a user can reach before any
// connection is made (the producer connects lazily, on the first send).
import { NodeFileSystem } from "@effect/platform-node"
import { describe, expect, layer } from "@effect/vitest"
import { Effect, Layer } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import * as KafkaReporter from "../src/KafkaReporter.js"
import * as Producer from "../src/internal/producer.js"
import * as ReporterConfig from "../src/ReporterConfig.js"
import * as Topic from "../src/Topic.js"

const input = {
  brokers: ["kafka-1:9093"],
  topic: "spark-etl.events",
  outboxFile: path.join(os.tmpdir(), "never-written", "outbox.jsonl")
}

layer(NodeFileSystem.layer, { excludeTestServices: true })("Producer", (it) => {
  it.effect("configures kafkajs with our retries, timeouts, client id, TLS files and SASL", () =>
    Effect.gen(function* () {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), "tls-"))
      fs.writeFileSync(
        path.join(dir, "ca.pem"),
        "-----BEGIN CERTIFICATE-----\nCA\n-----END CERTIFICATE-----\n"
      )
      const config = yield* ReporterConfig.decode(
        {
          ...input,
          clientId: "etl-prod",
          tls: { caFile: path.join(dir, "ca.pem"), servername: "kafka.internal" },
          sasl: { mechanism: "plain", username: "etl", password: "hunter2" }
        },
        "test"
      )
      const options = yield* Producer.kafkaConfig(config)
      expect(options).toMatchObject({
        clientId: "etl-prod",
        brokers: ["kafka-1:9093"],
        connectionTimeout: 1000,
        requestTimeout: 3000,
        enforceRequestTimeout: true,
        retry: { retries: 2 },
        ssl: { rejectUnauthorized: true, servername: "kafka.internal", ca: [expect.stringContaining("CA")] },
        sasl: { mechanism: "plain", username: "etl", password: "hunter2" }
      })
    })
  )

  it.effect("fails with a ConfigError naming the TLS file that cannot be read", () =>
    Effect.gen(function* () {
      const config = yield* ReporterConfig.decode(
        { ...input, tls: { caFile: "/nonexistent/ca.pem" } },
        "test"
      )
      const error = yield* Effect.scoped(Producer.make(config)).pipe(Effect.flip)
      expect(error._tag).toBe("ConfigError")
      expect(error.source).toBe("/nonexistent/ca.pem")
      expect(error.issues.map((i) => i.path)).toEqual(["tls.caFile"])
    })
  )

  it.effect("the reporter layer refuses invalid input before any side effect", () =>
    Effect.gen(function* () {
      const error = yield* Effect.scoped(
        Layer.build(
          KafkaReporter.layerFromInput({ ...input, brokers: ["no-port"] }, "/etc/spark-etl/reporter.yaml")
        )
      ).pipe(Effect.flip)
      expect(error._tag).toBe("ConfigError")
      expect(error.message).toMatch(/reporter\.yaml: brokers\.0: /)
      expect(fs.existsSync(path.dirname(input.outboxFile))).toBe(false)
    })
  )

  it.effect("the reporter layer builds from valid input without touching Kafka or the outbox", () =>
    Effect.gen(function* () {
      const context = yield* Effect.scoped(Layer.build(KafkaReporter.layerFromInput(input, "test")))
      expect(context).toBeDefined()
      expect(fs.existsSync(input.outboxFile)).toBe(false)
    })
  )
})

describe("Topic.command", () => {
  layer(Layer.empty)((it) => {
    it.effect("uses the given settings", () =>
      Effect.gen(function* () {
        const config = yield* ReporterConfig.decode(input, "test")
        expect(
          Topic.command(config, {
            partitions: 1,
            replicationFactor: 1,
            minInsyncReplicas: 1,
            retentionMs: 1000
          })
        ).toBe(
          "kafka-topics.sh --bootstrap-server kafka-1:9093 --create --topic spark-etl.events --partitions 1 --replication-factor 1 --config min.insync.replicas=1 --config retention.ms=1000 --config cleanup.policy=delete"
        )
      })
    )
  })
})
