/** `spark-etl outbox flush`: delivers the events waiting in the outbox to Kafka, in order. */
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as Command from "effect/cli/Command"
import { ExitCode } from "@spark-etl/core"
import * as ExitStatus from "../ExitStatus.js"
import { kafkaBrokers, kafkaTopic, siteConfig, stateDir } from "./flags.js"
import { usage, withKafka } from "./shared.js"

/** Why flush cannot run without Kafka (exit 64). */
const needsKafka =
  "outbox flush needs Kafka: give --kafka-brokers, set KAFKA_BROKERS or kafka.brokers in the site config"

/** What a drain left, as flush says it, and its exit code: anything left is a system failure. */
export const flushed = (
  outboxFile: string,
  result: { readonly delivered: number; readonly remaining: number; readonly quarantined: number }
): { readonly line: string; readonly exitCode: ExitCode } => ({
  line: `outbox ${outboxFile}: delivered ${result.delivered}, remaining ${result.remaining}, quarantined ${result.quarantined}`,
  exitCode: result.remaining === 0 ? ExitCode.Success : ExitCode.SystemFailure
})

const config = { siteConfig, stateDir, kafkaBrokers, kafkaTopic }

/** Exit 0 once the outbox is empty; 2 when events remain or it cannot be read; 3 for a bad site config; 64 without Kafka. */
export const handler = (flags: Command.Command.Config.Infer<typeof config>): Effect.Effect<ExitCode> =>
  withKafka(flags, needsKafka, (reporter, { KafkaReporter }, settings) =>
    Effect.gen(function* () {
      const done = flushed(settings.outboxFile, yield* KafkaReporter.flushOutbox(reporter))
      yield* Console.log(done.line)
      return done.exitCode
    })
  ).pipe(
    Effect.catchTag("ConfigError", usage),
    Effect.catchTag("OutboxError", (e) =>
      Effect.as(Console.error(`outbox: ${e.message}`), ExitCode.SystemFailure)
    )
  )

const flush = Command.make("flush", config, ExitStatus.recorded(handler)).pipe(
  Command.withDescription("deliver the events waiting in the outbox to Kafka, in order")
)

export const command = Command.make("outbox").pipe(
  Command.withDescription("the durable outbox of events Kafka did not take in time"),
  Command.withSubcommands([flush])
)
