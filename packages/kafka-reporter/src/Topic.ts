/**
 * The events topic. The reporter never creates topics as it sends, so an operator creates each
 * one once, with the documented settings: the command printed here, or through the admin API.
 */
import * as Effect from "effect/Effect"
import type * as FileSystem from "effect/FileSystem"
import { Event } from "@spark-etl/core"
import * as Producer from "./internal/producer.js"
import type { ReporterConfig } from "./ReporterConfig.js"
import type { ConfigError, ProducerError } from "./ReporterError.js"

/** Settings of the events topic. */
export interface Settings {
  readonly partitions: number
  readonly replicationFactor: number
  /** With acks=all, a write needs this many in-sync replicas; 2 of 3 survives one broker down. */
  readonly minInsyncReplicas: number
  readonly retentionMs: number
}

/** Production defaults: 6 partitions, 3 replicas, min.insync.replicas 2, 14 days. */
export const defaults: Settings = {
  partitions: 6,
  replicationFactor: 3,
  minInsyncReplicas: 2,
  retentionMs: 14 * 24 * 3600 * 1000
}

const configEntries = (settings: Settings) => [
  { name: "min.insync.replicas", value: String(settings.minInsyncReplicas) },
  { name: "retention.ms", value: String(settings.retentionMs) },
  { name: "cleanup.policy", value: "delete" }
]

/**
 * The `kafka-topics.sh` command that creates the configuration's topic.
 *
 * @example
 * Topic.command(config) // "kafka-topics.sh --bootstrap-server kafka-1:9092 --create --topic ..."
 */
export const command = (config: ReporterConfig, settings: Settings = defaults): string =>
  [
    "kafka-topics.sh",
    `--bootstrap-server ${config.brokers.join(",")}`,
    "--create",
    `--topic ${config.topic}`,
    `--partitions ${settings.partitions}`,
    `--replication-factor ${settings.replicationFactor}`,
    ...configEntries(settings).map((e) => `--config ${e.name}=${e.value}`)
  ].join(" ")

/**
 * Creates the configuration's topic with the admin API, within the flush deadline; `false` if it
 * existed.
 *
 * @example
 * yield* Topic.create(config, { ...Topic.defaults, replicationFactor: 1, minInsyncReplicas: 1 })
 */
export const create = (
  config: ReporterConfig,
  settings: Settings = defaults
): Effect.Effect<boolean, ProducerError | ConfigError, FileSystem.FileSystem> =>
  Producer.createTopic(config, {
    topic: config.topic,
    partitions: settings.partitions,
    replicationFactor: settings.replicationFactor,
    configEntries: configEntries(settings)
  })

/** What `describe` found: the topic's shape, and each reason the reporter could not write. */
export interface Description {
  readonly topic: string
  readonly exists: boolean
  readonly partitions: number
  readonly replicationFactor: number
  readonly minInsyncReplicas: number | undefined
  readonly retentionMs: number | undefined
  /** Why a send would fail (with acks=all); empty when the topic can take events. */
  readonly problems: ReadonlyArray<string>
  /** The version of the events' payload schema this reporter writes. */
  readonly schemaVersion: string
}

const asNumber = (value: string | undefined): number | undefined =>
  value === undefined || value === "" ? undefined : Number(value)

/** Judges a topic's state as the reporter writes: idempotent, acks=all. */
export const judge = (topic: string, state: Producer.TopicState | undefined): Description => {
  if (state === undefined)
    return {
      topic,
      exists: false,
      partitions: 0,
      replicationFactor: 0,
      minInsyncReplicas: undefined,
      retentionMs: undefined,
      problems: [`topic ${topic} does not exist (the reporter never creates one)`],
      schemaVersion: Event.schemaVersion
    }
  const minInsync = asNumber(state.config["min.insync.replicas"])
  const leaderless = state.partitions.filter((p) => p.leader < 0).map((p) => p.partition)
  const shortOfReplicas = state.partitions
    .filter((p) => minInsync !== undefined && p.inSync < minInsync)
    .map((p) => p.partition)
  return {
    topic,
    exists: true,
    partitions: state.partitions.length,
    replicationFactor: Math.min(...state.partitions.map((p) => p.replicas)),
    minInsyncReplicas: minInsync,
    retentionMs: asNumber(state.config["retention.ms"]),
    problems: [
      ...(leaderless.length > 0 ? [`partition(s) ${leaderless.join(", ")} have no leader`] : []),
      ...(shortOfReplicas.length > 0
        ? [
            `partition(s) ${shortOfReplicas.join(", ")} have fewer in-sync replicas than min.insync.replicas ${minInsync}: every send would fail (NOT_ENOUGH_REPLICAS)`
          ]
        : [])
    ],
    schemaVersion: Event.schemaVersion
  }
}

/**
 * Describes the configuration's topic through the admin API, within the flush deadline: whether
 * it exists, its partitions and replicas, and why a send would fail. Whether this client may
 * write to it is not asked: Kafka answers that only to a write.
 *
 * @example
 * const found = yield* Topic.describe(config)
 * if (found.problems.length > 0) yield* Console.error(found.problems.join("\n"))
 */
export const describe = (
  config: ReporterConfig
): Effect.Effect<Description, ProducerError | ConfigError, FileSystem.FileSystem> =>
  Effect.map(Producer.describeTopic(config, config.topic, ["min.insync.replicas", "retention.ms"]), (state) =>
    judge(config.topic, state)
  )
