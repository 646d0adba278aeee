// Settings come from the flag, else its documented variable (read through Effect's Config), else
// the default; a value that cannot be used is refused naming the flag and the variable.
import * as NodeServices from "@effect/platform-node/NodeServices"
import { ConfigProvider, Effect, Option } from "effect"
import * as os from "node:os"
import * as path from "node:path"
import { describe, expect, it } from "vitest"
import * as Settings from "../src/Settings.js"
import * as Layers from "../src/Layers.js"
import * as Origin from "../src/Origin.js"
import { remoteRejection } from "../src/commands/shared.js"
import { LocalServer } from "@spark-etl/runner-spark-connect/local"
import { byDefault } from "./support/Settings.js"

const none: Settings.Flags = {
  remote: Option.none(),
  stateDir: Option.none(),
  logDir: Option.none(),
  kafkaBrokers: Option.none(),
  kafkaTopic: Option.none()
}

const resolve = (flags: Partial<Settings.Flags>, env: Record<string, string>) =>
  Effect.runSync(Settings.resolve({ ...none, ...flags }).parse(ConfigProvider.fromEnv({ env })))

describe("Settings.resolve", () => {
  it("without flags or variables: the defaults", () => {
    const home = path.join(os.homedir(), ".spark-etl")
    expect(resolve({}, {})).toEqual({
      remote: "local",
      stateDir: home,
      ledgerDir: path.join(home, "ledger"),
      logDir: path.join(home, "logs"),
      outboxFile: path.join(home, "outbox.jsonl"),
      kafka: Option.none(),
      pluginPath: [],
      ...byDefault
    })
  })

  it("the embedded server's Spark version by default is LocalServer's own (said apart, not imported)", () => {
    expect(Settings.defaultLocalSparkVersion).toBe(LocalServer.defaultSparkVersion)
    expect(resolve({}, {}).localSparkVersion).toBe(LocalServer.defaultSparkVersion)
  })

  it("SPARK_ETL_PLUGIN_PATH: its folders, in order, empty entries dropped", () => {
    expect(resolve({}, { SPARK_ETL_PLUGIN_PATH: "/opt/plugins::/srv/more" }).pluginPath).toEqual([
      "/opt/plugins",
      "/srv/more"
    ])
  })

  it("takes each documented variable", () => {
    const s = resolve(
      {},
      {
        SPARK_REMOTE: "sc://spark:15002",
        SPARK_ETL_STATE_DIR: "/srv/etl",
        SPARK_ETL_LOG_DIR: "/var/log/etl",
        KAFKA_BROKERS: "k1:9092, k2:9092,",
        SPARK_ETL_KAFKA_TOPIC: "etl.events"
      }
    )
    expect(s).toMatchObject({
      remote: "sc://spark:15002",
      ledgerDir: "/srv/etl/ledger",
      logDir: "/var/log/etl",
      outboxFile: "/srv/etl/outbox.jsonl"
    })
    expect(s.kafka).toEqual(Option.some({ brokers: ["k1:9092", "k2:9092"], topic: "etl.events" }))
  })

  it("a flag wins over its variable; an empty variable counts as unset", () => {
    const s = resolve(
      { stateDir: Option.some("/flag/state"), kafkaTopic: Option.some("flag.topic") },
      {
        SPARK_ETL_STATE_DIR: "/env/state",
        KAFKA_BROKERS: "k:1",
        SPARK_ETL_KAFKA_TOPIC: "env.topic",
        SPARK_REMOTE: ""
      }
    )
    expect(s.stateDir).toBe("/flag/state")
    expect(s.logDir).toBe("/flag/state/logs")
    expect(s.remote).toBe("local")
    expect(Option.map(s.kafka, (k) => k.topic)).toEqual(Option.some("flag.topic"))
  })
})

const refusedReporterConfig = (settings: Settings.Resolved) =>
  Effect.runPromise(
    Effect.flip(Layers.reporterConfig(settings, Option.getOrThrow(settings.kafka))).pipe(
      Effect.provide(NodeServices.layer)
    )
  )

describe("a value that cannot be used is refused naming its variable", () => {
  it("KAFKA_BROKERS without ports", async () => {
    const refused = await refusedReporterConfig(resolve({}, { KAFKA_BROKERS: "kafka-1,kafka-2" }))
    expect(refused.message).toMatch(
      /^invalid Kafka reporter configuration: brokers\.0 \(env KAFKA_BROKERS\): .*host:port/
    )
    expect(refused.source).toBe("env KAFKA_BROKERS")
  })

  it("a bad topic names where the topic was given, not the brokers", async () => {
    const fromFlag = await refusedReporterConfig(
      resolve({ kafkaTopic: Option.some("bad topic!") }, { KAFKA_BROKERS: "kafka-1:9092" })
    )
    expect(fromFlag.message).toMatch(
      /^invalid Kafka reporter configuration: topic \(flag --kafka-topic\): Expected a Kafka topic name/
    )
    expect(fromFlag.message).not.toContain("KAFKA_BROKERS")
    const fromEnv = await refusedReporterConfig(
      resolve({}, { KAFKA_BROKERS: "kafka-1:9092", SPARK_ETL_KAFKA_TOPIC: "bad topic!" })
    )
    expect(fromEnv.source).toBe("env SPARK_ETL_KAFKA_TOPIC")
    // Both wrong: each field with its own source.
    const both = await refusedReporterConfig(
      resolve({ kafkaBrokers: Option.some("kafka-1") }, { SPARK_ETL_KAFKA_TOPIC: "bad topic!" })
    )
    expect(both.message).toContain("brokers.0 (flag --kafka-brokers): ")
    expect(both.message).toContain("topic (env SPARK_ETL_KAFKA_TOPIC): ")
    expect(both.source).toBe("flag --kafka-brokers, env SPARK_ETL_KAFKA_TOPIC")
  })

  it("SPARK_REMOTE with a token over plaintext, without echoing the token", () => {
    const remote = "sc://spark:15002/;token=s3cr3t;use_ssl=false"
    const fromEnv = resolve({}, { SPARK_REMOTE: remote })
    const refused = Option.getOrThrow(remoteRejection(fromEnv.remote, fromEnv.origins.remote))
    expect(refused.code).toBe("REMOTE_INVALID")
    expect(refused.issues[0]).toMatchObject({ file: "environment", field: "SPARK_REMOTE (token)" })
    expect(JSON.stringify(refused.issues)).not.toContain("s3cr3t")
    // Given as the flag, the flag is named.
    const fromFlag = Option.getOrThrow(remoteRejection(remote, Origin.flag("--remote")))
    expect(fromFlag.issues[0]).toMatchObject({ file: "command line", field: "--remote (token)" })
    expect(Option.isNone(remoteRejection("sc://spark:15002", Origin.env("SPARK_REMOTE")))).toBe(true)
  })
})
