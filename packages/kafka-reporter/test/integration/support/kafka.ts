// Helpers of the integration tests: a unique topic per test on the real broker, a reporter
// configuration for it, readers (kafkajs and the independent kcat), and captured logs.
import { Effect, Layer, Logger } from "effect"
import { Kafka, type KafkaConfig, logLevel } from "kafkajs"
import { execFile } from "node:child_process"
import { randomUUID } from "node:crypto"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { promisify } from "node:util"
import * as ReporterConfig from "../../../src/ReporterConfig.js"
import * as Topic from "../../../src/Topic.js"

/** A unique name for a test's topic, outbox, batch. */
export const unique = (prefix: string): string => `${prefix}-${randomUUID().slice(0, 8)}`

/** A decoded reporter configuration for `brokers` and `topic`, with a fresh outbox file. */
export const reporterConfig = (
  brokers: string,
  topic: string,
  overrides: Partial<ReporterConfig.ReporterConfigInput> = {}
): Effect.Effect<ReporterConfig.ReporterConfig> =>
  ReporterConfig.decode(
    {
      brokers: brokers.split(","),
      topic,
      clientId: "spark-etl-test",
      outboxFile: path.join(fs.mkdtempSync(path.join(os.tmpdir(), "kr-outbox-")), "outbox.jsonl"),
      publishTimeoutMs: 3000,
      flushTimeoutMs: 10000,
      retryAfterMs: 1,
      ...overrides
    },
    "integration test"
  ).pipe(Effect.orDie)

/** Settings for a one-node test broker. */
const singleNode: Topic.Settings = {
  partitions: 3,
  replicationFactor: 1,
  minInsyncReplicas: 1,
  retentionMs: 3600_000
}

/** Creates the topic of `config` on the broker (fails the test if it cannot). */
export const createTopic = (config: ReporterConfig.ReporterConfig) =>
  Topic.create(config, singleNode).pipe(Effect.orDie)

/** A record as a consumer sees it. */
export interface Received {
  readonly key: string
  readonly value: string
  readonly headers: Readonly<Record<string, string>>
  readonly partition: number
  readonly offset: string
}

/**
 * Reads the topic from the beginning with kafkajs until `count` records arrived, or until
 * `count` says enough (for at-least-once streams with duplicates), or `timeoutMs` passed.
 * `security`: TLS and SASL options for a secured broker.
 */
export const consume = (
  brokers: string,
  topic: string,
  count: number | ((received: ReadonlyArray<Received>) => boolean),
  timeoutMs = 30_000,
  security: Pick<KafkaConfig, "ssl" | "sasl"> = {}
): Promise<Array<Received>> => {
  const enough = typeof count === "number" ? (r: ReadonlyArray<Received>) => r.length >= count : count
  const kafka = new Kafka({
    clientId: "spark-etl-test-reader",
    brokers: brokers.split(","),
    logLevel: logLevel.NOTHING,
    ...security
  })
  const consumer = kafka.consumer({ groupId: unique("reader") })
  const received: Array<Received> = []
  return new Promise<Array<Received>>((resolve, reject) => {
    const timer = setTimeout(() => resolve(received), timeoutMs)
    const done = () => {
      clearTimeout(timer)
      resolve(received)
    }
    consumer
      .connect()
      .then(() => consumer.subscribe({ topic, fromBeginning: true }))
      .then(() =>
        consumer.run({
          eachMessage: async ({ message, partition }) => {
            received.push({
              key: message.key?.toString() ?? "",
              value: message.value?.toString() ?? "",
              headers: Object.fromEntries(
                Object.entries(message.headers ?? {}).map(([k, v]) => [k, v?.toString() ?? ""])
              ),
              partition,
              offset: message.offset
            })
            if (enough(received)) done()
          }
        })
      )
      .catch(reject)
  }).finally(() => consumer.disconnect())
}

const run = promisify(execFile)

/** Reads every record of the topic with Debian's kcat, an independent (librdkafka) client. */
export const kcat = async (brokers: string, topic: string): Promise<Array<Received>> => {
  const { stdout } = await run(
    "kcat",
    ["-C", "-b", brokers, "-t", topic, "-o", "beginning", "-e", "-q", "-J"],
    {
      timeout: 30_000,
      maxBuffer: 64 * 1024 * 1024
    }
  )
  return stdout
    .split("\n")
    .filter((l) => l.trim() !== "")
    .map((line) => {
      const m = JSON.parse(line) as {
        key: string | null
        payload: string | null
        headers?: ReadonlyArray<string>
        partition: number
        offset: number
      }
      const pairs = m.headers ?? []
      const headers: Record<string, string> = {}
      for (let i = 0; i + 1 < pairs.length; i += 2) headers[pairs[i]!] = pairs[i + 1]!
      return {
        key: m.key ?? "",
        value: m.payload ?? "",
        headers,
        partition: m.partition,
        offset: String(m.offset)
      }
    })
}

/** Collects every log line of the effects it is provided to. */
export const captureLogs = () => {
  const lines: Array<string> = []
  const logger = Logger.make(({ logLevel: level, message }) => {
    const text = Array.isArray(message) ? message.map(String).join(" ") : String(message)
    lines.push(`${level} ${text}`)
  })
  return { lines, layer: Logger.layer([logger]) as Layer.Layer<never> }
}
