/**
 * The events topic. The reporter never creates topics as it sends, so an operator creates each
 * one once, with the documented settings: the command printed here, or through the admin API.
 */
import type { Effect, FileSystem } from "effect"
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
