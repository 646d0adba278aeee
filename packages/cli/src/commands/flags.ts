/** The arguments and flags the commands share; each command module takes the ones it reads. */
import * as Option from "effect/Option"
import * as Argument from "effect/cli/Argument"
import * as Flag from "effect/cli/Flag"
import type * as ResumePreview from "../ResumePreview.js"
import * as Settings from "../Settings.js"
import * as SiteConfig from "../SiteConfig.js"

export const batchFile = Argument.String("batch-file").pipe(Argument.withDescription("the batch file (YAML)"))

export const params = Flag.KeyValuePair("param").pipe(
  Flag.withDescription("a batch parameter, name=value (repeat for several)"),
  Flag.optional
)

/** A string flag that may be absent (its default then comes from the environment). */
const optionalString = (name: string, description: string) =>
  Flag.String(name).pipe(Flag.withDescription(description), Flag.optional)

export const siteConfig = optionalString(
  "config",
  `the site config (YAML): Spark, Kafka and its security, folders, plugin path, Spark timeout (default: $SPARK_ETL_CONFIG, else ${SiteConfig.defaultPath} if it exists); flags and variables win over it`
)

export const remote = optionalString(
  "remote",
  "Spark Connect: sc://host:port/;token=…, or local / local[N] for an embedded server (default: $SPARK_REMOTE, else the site config's spark.remote, else local)"
)

export const stateDir = optionalString(
  "state-dir",
  "run ledger and outbox (default: $SPARK_ETL_STATE_DIR, else the site config's state_dir, else ~/.spark-etl)"
)

export const logDir = optionalString(
  "log-dir",
  "directory of the JSON log files (default: $SPARK_ETL_LOG_DIR, else the site config's log_dir, else <state-dir>/logs)"
)

export const logFile = optionalString("log-file", "the JSON log file of this run (overrides --log-dir)")

export const kafkaBrokers = optionalString(
  "kafka-brokers",
  "Kafka bootstrap servers host:port,… for events (default: $KAFKA_BROKERS, else the site config's kafka.brokers; none: events go to the log)"
)

export const kafkaTopic = optionalString(
  "kafka-topic",
  `topic of the events (default: the batch file's escalation.topic, else $SPARK_ETL_KAFKA_TOPIC, else the site config's kafka.topic, else ${Settings.defaultTopic})`
)

export const sparkTimeout = Flag.Int("spark-timeout").pipe(
  Flag.withDescription(
    `seconds: deadline of each Spark call and of connecting (default: $SPARK_ETL_SPARK_TIMEOUT, else the site config's spark.timeout_seconds, else ${Settings.defaultSparkTimeoutSeconds})`
  ),
  Flag.optional
)

export const localSparkVersion = optionalString(
  "local-spark-version",
  `Spark version of the embedded server that --remote local / local[N] starts, e.g. 4.0.1 (default: $SPARK_ETL_LOCAL_SPARK_VERSION, else the site config's spark.local_version, else ${Settings.defaultLocalSparkVersion}); no effect on an sc:// remote`
)

/** What a bare `--resume` stands for: the latest run of the batch with the same parameters. */
const resumeLatest = "latest"

/** The request a `--resume` value makes; none for an empty run id (`--resume=`). */
export const resumeRequest = (value: string): Option.Option<ResumePreview.Request> => {
  const runId = value.trim()
  if (runId === "") return Option.none()
  return Option.some(runId === resumeLatest ? { _tag: "Latest" } : { _tag: "Run", runId })
}

/**
 * `--resume` or `--resume=<run-id>`, GNU style: a value is attached with `=`, so a bare
 * `--resume` never takes the next word for a run id (`--resume batch.yaml` stays the batch).
 * Absent: a fresh run (or what the batch file's `resume:` says).
 */
export const resume = Flag.String("resume").pipe(
  Flag.withMetavar("run-id"),
  Flag.withOptionalValue(resumeLatest),
  Flag.filterMap(resumeRequest, () => "a run id after --resume= (or --resume alone for the latest run)"),
  Flag.withDescription(
    "resume a failed run, skipping the rules whose checkpoints are still valid: --resume alone, the latest run with the same parameters; --resume=<run-id>, that run"
  ),
  Flag.optional
)

/**
 * What to tell someone whose command line effect/cli refused after a bare `--resume` followed by
 * a word: `--resume <run-id>` leaves the id as a stray argument, and the fix is an `=`.
 */
export const resumeHint = (argv: ReadonlyArray<string>): Option.Option<string> => {
  const at = argv.indexOf("--resume")
  const next = at >= 0 ? argv[at + 1] : undefined
  return next !== undefined && !next.startsWith("-")
    ? Option.some(
        `spark-etl: a run id goes with an "=": --resume=${next} (a bare --resume resumes the latest run)`
      )
    : Option.none()
}
