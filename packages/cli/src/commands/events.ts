/**
 * `spark-etl events check | create-topic`: the events topic through Kafka's admin API, so that
 * an operator needs no Kafka tooling on the AutoSys host. The reporter never creates a topic
 * as it sends; the topic is created once, here or by the Kafka team.
 */
import type * as NodeServices from "@effect/platform-node/NodeServices"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as Command from "effect/cli/Command"
import * as Flag from "effect/cli/Flag"
import { ExitCode } from "@spark-etl/core"
import type { ReporterConfig, ReporterError, Topic } from "@spark-etl/kafka-reporter"
import * as ExitStatus from "../ExitStatus.js"
import { kafkaBrokers, kafkaTopic, siteConfig, stateDir } from "./flags.js"
import { usage, withKafka } from "./shared.js"

const needsKafka =
  "events needs Kafka: give --kafka-brokers, set KAFKA_BROKERS or kafka.brokers in the site config"

const config = { siteConfig, stateDir, kafkaBrokers, kafkaTopic }

const days = (ms: number | undefined) => (ms === undefined ? "?" : `${(ms / 86_400_000).toFixed(1)} days`)

/** What `check` prints about a topic that exists. */
const described = (found: Topic.Description, brokers: ReadonlyArray<string>): string =>
  `events topic ${found.topic} on ${brokers.join(",")}: ${found.partitions} partition(s), replication ${found.replicationFactor}, min.insync.replicas ${found.minInsyncReplicas ?? "?"}, retention ${days(found.retentionMs)}; events written with payload schema ${found.schemaVersion}`

// The reporter's configuration (see withKafka); a broker's refusal or silence is exit 2.
const withTopic = (
  flags: Command.Command.Config.Infer<typeof config>,
  use: (
    reporter: ReporterConfig.ReporterConfig,
    topic: typeof Topic
  ) => Effect.Effect<
    ExitCode,
    ReporterError.ProducerError | ReporterError.ConfigError,
    NodeServices.NodeServices
  >
): Effect.Effect<ExitCode> =>
  withKafka(flags, needsKafka, (reporter, kafka) => use(reporter, kafka.Topic)).pipe(
    Effect.catchTag("ConfigError", usage),
    Effect.catchTag("ProducerError", (e) =>
      Effect.as(
        Console.error(`events: Kafka ${e.operation} failed (${e.code}): ${e.message}`),
        ExitCode.SystemFailure
      )
    )
  )

/** Exit 0 when the topic can take events; 3 when it is missing or cannot (fix it); 2 when Kafka cannot be reached. */
export const checkHandler = (flags: Command.Command.Config.Infer<typeof config>): Effect.Effect<ExitCode> =>
  withTopic(flags, (reporter, Topic) =>
    Effect.gen(function* () {
      const found = yield* Topic.describe(reporter)
      if (found.exists) yield* Console.log(described(found, reporter.brokers))
      if (found.problems.length === 0) return ExitCode.Success
      yield* Console.error(
        [
          ...found.problems.map((p) => `events: ${p}`),
          ...(found.exists
            ? []
            : ["events: create it with `spark-etl events create-topic` (see docs/operations.md)"])
        ].join("\n")
      )
      return ExitCode.Rejected
    })
  )

const topicFlags = {
  ...config,
  partitions: Flag.Int("partitions").pipe(
    Flag.withDescription("partitions of the topic (events of one batch keep their order in one)"),
    Flag.withDefault(6)
  ),
  replicationFactor: Flag.Int("replication-factor").pipe(
    Flag.withDescription("copies of each partition (production: 3)"),
    Flag.withDefault(3)
  ),
  minInsyncReplicas: Flag.Int("min-insync-replicas").pipe(
    Flag.withDescription("replicas that must have an event before Kafka acknowledges it (production: 2)"),
    Flag.withDefault(2)
  ),
  retentionDays: Flag.Int("retention-days").pipe(
    Flag.withDescription("days Kafka keeps the events"),
    Flag.withDefault(14)
  )
}

/** Exit 0 when the topic was created or exists already; 2 when Kafka refused or cannot be reached. */
export const createHandler = (
  flags: Command.Command.Config.Infer<typeof topicFlags>
): Effect.Effect<ExitCode> =>
  withTopic(flags, (reporter, Topic) =>
    Effect.gen(function* () {
      const invalid = Object.entries({
        "--partitions": flags.partitions,
        "--replication-factor": flags.replicationFactor,
        "--min-insync-replicas": flags.minInsyncReplicas,
        "--retention-days": flags.retentionDays
      }).find(([, n]) => n < 1)
      if (invalid !== undefined) return yield* usage({ message: `${invalid[0]} must be at least 1` })
      const created = yield* Topic.create(reporter, {
        partitions: flags.partitions,
        replicationFactor: flags.replicationFactor,
        minInsyncReplicas: flags.minInsyncReplicas,
        retentionMs: flags.retentionDays * 86_400_000
      })
      yield* Console.log(
        created
          ? `events topic ${reporter.topic} created: ${flags.partitions} partition(s), replication ${flags.replicationFactor}, min.insync.replicas ${flags.minInsyncReplicas}, retention ${flags.retentionDays} days`
          : `events topic ${reporter.topic} exists already: left as it is (spark-etl events check shows it)`
      )
      return ExitCode.Success
    })
  )

const check = Command.make("check", config, ExitStatus.recorded(checkHandler)).pipe(
  Command.withDescription("whether the events topic exists and can take events (acks=all)")
)

const createTopic = Command.make("create-topic", topicFlags, ExitStatus.recorded(createHandler)).pipe(
  Command.withDescription("create the events topic once, with the production settings by default")
)

export const command = Command.make("events").pipe(
  Command.withDescription("the Kafka topic of the events"),
  Command.withSubcommands([check, createTopic])
)
