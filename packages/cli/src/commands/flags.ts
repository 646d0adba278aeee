/** The arguments and flags the commands share; each command module takes the ones it reads. */
import { Argument, Flag } from "effect/cli"
import * as Settings from "../Settings.js"

export const batchFile = Argument.String("batch-file").pipe(Argument.withDescription("the batch file (YAML)"))

export const params = Flag.KeyValuePair("param").pipe(
  Flag.withDescription("a batch parameter, name=value (repeat for several)"),
  Flag.optional
)

/** A string flag that may be absent (its default then comes from the environment). */
const optionalString = (name: string, description: string) =>
  Flag.String(name).pipe(Flag.withDescription(description), Flag.optional)

export const remote = optionalString(
  "remote",
  "Spark Connect: sc://host:port/;token=…, or local / local[N] for an embedded server (default: $SPARK_REMOTE, else local)"
)

export const stateDir = optionalString(
  "state-dir",
  "run ledger and outbox (default: $SPARK_ETL_STATE_DIR, else ~/.spark-etl)"
)

export const logDir = optionalString(
  "log-dir",
  "directory of the JSON log files (default: $SPARK_ETL_LOG_DIR, else <state-dir>/logs)"
)

export const logFile = optionalString("log-file", "the JSON log file of this run (overrides --log-dir)")

export const kafkaBrokers = optionalString(
  "kafka-brokers",
  "Kafka bootstrap servers host:port,… for events (default: $KAFKA_BROKERS; none: events go to the log)"
)

export const kafkaTopic = optionalString(
  "kafka-topic",
  `topic of the events (default: the batch file's escalation.topic, else $SPARK_ETL_KAFKA_TOPIC, else ${Settings.defaultTopic})`
)

export const sparkTimeout = Flag.Int("spark-timeout").pipe(
  Flag.withDescription("seconds: deadline of each Spark call and of connecting (default 60)"),
  Flag.withDefault(60)
)
