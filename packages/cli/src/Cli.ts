/**
 * The `spark-etl` command line: run, validate, plan, status and outbox flush. Each handler
 * ends with the process exit code of the contract table (core's ExitCode).
 */
import * as NodeServices from "@effect/platform-node/NodeServices"
import { Clock, Console, Duration, Effect, Option } from "effect"
import { Argument, Command, Flag } from "effect/cli"
import { Batch, Dag, Event, ExitCode, Failure, Ledger, Run } from "@spark-etl/core"
import { KafkaReporter, ReporterConfig, type ReporterError } from "@spark-etl/kafka-reporter"
import { SparkSession } from "@spark-etl/runner-spark-connect"
import { randomUUID } from "node:crypto"
import * as os from "node:os"
import * as path from "node:path"
import * as Fence from "./Fence.js"
import * as Layers from "./Layers.js"
import * as Locations from "./Locations.js"
import * as Logging from "./Logging.js"
import * as Settings from "./Settings.js"
import * as Signals from "./Signals.js"
import * as Summary from "./Summary.js"

/**
 * Set by each handler; read by main once the command has finished. It starts as a usage error:
 * when effect/cli rejects the command line it prints why and runs no handler.
 */
export let exitCode: ExitCode = ExitCode.Usage
const exitWith = (code: ExitCode) => Effect.sync(() => void (exitCode = code))

const batchFile = Argument.String("batch-file").pipe(Argument.withDescription("the batch file (YAML)"))
const params = Flag.KeyValuePair("param").pipe(
  Flag.withDescription("a batch parameter, name=value (repeat for several)"),
  Flag.optional
)
/** A string flag that may be absent (its default then comes from the environment). */
const optionalString = (name: string, description: string) =>
  Flag.String(name).pipe(Flag.withDescription(description), Flag.optional)

const remote = optionalString(
  "remote",
  "Spark Connect: sc://host:port/;token=…, or local / local[N] for an embedded server (default: $SPARK_REMOTE, else local)"
)
const stateDir = optionalString(
  "state-dir",
  "run ledger and outbox (default: $SPARK_ETL_STATE_DIR, else ~/.spark-etl)"
)
const logDir = optionalString(
  "log-dir",
  "directory of the JSON log files (default: $SPARK_ETL_LOG_DIR, else <state-dir>/logs)"
)
const logFile = optionalString("log-file", "the JSON log file of this run (overrides --log-dir)")
const kafkaBrokers = optionalString(
  "kafka-brokers",
  "Kafka bootstrap servers host:port,… for events (default: $KAFKA_BROKERS; none: events go to the log)"
)
const kafkaTopic = optionalString(
  "kafka-topic",
  `topic of the events (default: the batch file's escalation.topic, else $SPARK_ETL_KAFKA_TOPIC, else ${Settings.defaultTopic})`
)
const parallelism = Flag.Int("parallelism").pipe(
  Flag.withDescription(
    "how many rules may run at once (default: the batch file's engine.parallelism, else 1)"
  ),
  Flag.optional
)
const sparkTimeout = Flag.Int("spark-timeout").pipe(
  Flag.withDescription("seconds: deadline of each Spark call and of connecting (default 60)"),
  Flag.withDefault(60)
)
const dryRun = Flag.Boolean("dry-run").pipe(
  Flag.withDescription("validate, plan and show the cleanup it would do, touching nothing"),
  Flag.withDefault(false)
)

const settingsOf = (flags: {
  readonly remote?: Option.Option<string>
  readonly stateDir: Option.Option<string>
  readonly logDir?: Option.Option<string>
  readonly kafkaBrokers: Option.Option<string>
  readonly kafkaTopic: Option.Option<string>
}) =>
  Settings.resolve(
    {
      remote: flags.remote ?? Option.none(),
      stateDir: flags.stateDir,
      logDir: flags.logDir ?? Option.none(),
      kafkaBrokers: flags.kafkaBrokers,
      kafkaTopic: flags.kafkaTopic
    },
    Settings.readEnv(process.env)
  )

const paramsOf = (p: Option.Option<Record<string, string>>) => Option.getOrElse(p, () => ({}))

/** Prints a rejected batch's issues, one per line, each with file:line:column and field. */
const reportRejection = (failure: Failure.ConfigRejected) =>
  Console.error(
    `batch rejected (${failure.code}):\n${failure.issues.map((i) => `  ${Failure.formatIssue(i)}`).join("\n")}`
  )

const loadOnly = (file: string, p: Record<string, string>, options: Layers.Options) =>
  Batch.load(file, { params: p, env: process.env }).pipe(
    Effect.provide(Layers.validation(options)),
    Effect.provide(Logging.quiet)
  )

/** A batch name made safe for a file name (a batch name is free text in its file). */
const safeFileName = (name: string): string => name.replace(/[^A-Za-z0-9_.-]/g, "_")

/** The Spark remote, checked without connecting; a malformed one is a rejected configuration. */
const remoteOf = (
  remote: string,
  flag: Option.Option<string>
): Effect.Effect<void, Failure.ConfigRejected> => {
  const parsed = SparkSession.validateRemote(remote)
  if (parsed._tag === "Success") return Effect.void
  const source = Option.isSome(flag) ? "command line" : "environment"
  return Effect.fail(
    Failure.rejected(
      [
        {
          file: source,
          line: 1,
          column: 1,
          field: `${Option.isSome(flag) ? "--remote" : "SPARK_REMOTE"} (${parsed.failure.field})`,
          message: parsed.failure.message
        }
      ],
      "REMOTE_INVALID"
    )
  )
}

const run = Command.make(
  "run",
  {
    batchFile,
    params,
    remote,
    parallelism,
    dryRun,
    stateDir,
    logDir,
    logFile,
    kafkaBrokers,
    kafkaTopic,
    sparkTimeout
  },
  (flags) =>
    Effect.gen(function* () {
      const settings = settingsOf(flags)
      const options: Layers.Options = { settings, sparkTimeout: Duration.seconds(flags.sparkTimeout) }
      if (flags.dryRun) return yield* dryRunOf(flags.batchFile, paramsOf(flags.params), options)
      const runId = randomUUID()
      // Named after the batch (its file's name only when the file names none): one job's
      // logs sort together, whatever its file is called.
      const batchName = Option.getOrElse(
        (yield* Batch.peek(flags.batchFile).pipe(Effect.provide(NodeServices.layer))).name,
        () => path.basename(flags.batchFile).replace(/\.ya?ml$/, "")
      )
      const stamp = new Date().toISOString().replace(/[-:]/g, "").slice(0, 15)
      const log = Option.getOrElse(flags.logFile, () =>
        path.join(settings.logDir, `${safeFileName(batchName)}-${stamp}-${runId.slice(0, 8)}.jsonl`)
      )
      // Refused before any side effect, each naming what to fix: a connection string that
      // cannot be right (a configuration error, exit 3: a restart would not help), and the
      // places this run writes on this host that do not take a write.
      const refused = yield* Effect.result(
        Effect.andThen(
          remoteOf(settings.remote, flags.remote),
          Locations.check([
            { path: settings.ledgerDir, setting: "--state-dir / SPARK_ETL_STATE_DIR", kind: "directory" },
            {
              path: path.dirname(log),
              setting: "--log-dir / --log-file / SPARK_ETL_LOG_DIR",
              kind: "directory"
            },
            ...(Option.isSome(settings.kafka)
              ? [
                  {
                    path: settings.outboxFile,
                    setting: "--state-dir / SPARK_ETL_STATE_DIR (outbox)",
                    kind: "file" as const
                  }
                ]
              : [])
          ])
        )
      )
      if (refused._tag === "Failure") {
        yield* reportRejection(refused.failure)
        yield* Console.log(
          Summary.line(
            {
              runId,
              batch: batchName,
              status: "rejected",
              exitCode: ExitCode.Rejected,
              failure: refused.failure,
              targetsTouched: false,
              unfenced: false
            },
            "(none: refused before the log was opened)"
          )
        )
        return yield* exitWith(ExitCode.Rejected)
      }
      // The session id is ours, recorded in the ledger, so a successor can fence this run.
      const engineSessionId = randomUUID()
      const sessionSettings = Fence.isShared(settings.remote)
        ? { ...settings, remote: Fence.withSessionId(settings.remote, engineSessionId) }
        : settings
      const fenceTimeout = Duration.seconds(Math.min(flags.sparkTimeout, 10))
      const outcome = yield* Run.run({
        batchFile: flags.batchFile,
        params: paramsOf(flags.params),
        env: process.env,
        ledgerDir: settings.ledgerDir,
        runId,
        logFile: log,
        stop: Signals.stop,
        stopGrace: Duration.millis(Signals.stopGraceMs),
        fence: Fence.predecessor(settings.remote, fenceTimeout),
        // After a signal, what is left of its grace; otherwise the usual fence deadline.
        fenceSelf: Fence.self(settings.remote, engineSessionId, () => {
          const left = Signals.fenceBudgetMs()
          return left === undefined ? fenceTimeout : Duration.millis(left)
        }),
        ...(Fence.isShared(settings.remote) ? { engineSessionId } : {}),
        // The flag wins over the batch file's escalation.topic, which wins over the environment.
        ...(Option.isSome(flags.kafkaTopic) ? { topic: flags.kafkaTopic.value } : {}),
        ...(Option.isSome(flags.parallelism) ? { parallelism: flags.parallelism.value } : {})
      }).pipe(
        // Reported before the services are released: after a signal, the forced exit may cut
        // that release short, never the summary.
        Effect.tap((outcome) =>
          Effect.gen(function* () {
            if (outcome.failure?._tag === "ConfigRejected") yield* reportRejection(outcome.failure)
            const table = Summary.table(outcome)
            if (table) yield* Console.error(table)
            yield* Console.log(Summary.line(outcome, log))
            yield* Signals.exitEarly(outcome.unfenced, outcome.exitCode)
          })
        ),
        Effect.provide(Layers.app({ ...options, settings: sessionSettings })),
        Effect.provide(Logging.layer({ file: log }))
      )
      yield* exitWith(outcome.exitCode)
    }).pipe(
      Effect.catchTag("ConfigError", (e) =>
        Effect.andThen(Console.error(e.message), exitWith(ExitCode.Usage))
      )
    )
).pipe(Command.withDescription("run a batch: clean its targets, run its rules on Spark, escalate failures"))

const dryRunOf = (file: string, p: Record<string, string>, options: Layers.Options) =>
  loadOnly(file, p, options).pipe(
    Effect.flatMap((batch) =>
      Effect.gen(function* () {
        yield* Console.log(
          `batch ${batch.name}: ${batch.rules.length} rules, valid (dry run: nothing was touched)`
        )
        yield* Console.log(`plan:\n${Dag.toText(batch.plan)}`)
        yield* Console.log(
          batch.targets.targets.length === 0
            ? "cleanup: no targets"
            : `cleanup (delete-and-load) would empty:\n${batch.targets.targets.map((t) => `  ${t.ruleId}: ${t.location}`).join("\n")}`
        )
        yield* Console.log(`spark: ${options.settings.remote} (not contacted)`)
        yield* exitWith(ExitCode.Success)
      })
    ),
    Effect.catchTag("ConfigRejected", (f) => Effect.andThen(reportRejection(f), exitWith(ExitCode.Rejected)))
  )

/** Loads a batch without touching anything, shows it, exits 0; a rejected batch exits 3. */
const withLoaded = (
  flags: Parameters<typeof settingsOf>[0] & {
    readonly batchFile: string
    readonly params: Option.Option<Record<string, string>>
  },
  show: (batch: Batch.Batch) => string
) =>
  loadOnly(flags.batchFile, paramsOf(flags.params), {
    settings: settingsOf(flags),
    sparkTimeout: Duration.seconds(60)
  }).pipe(
    Effect.flatMap((batch) => Effect.andThen(Console.log(show(batch)), exitWith(ExitCode.Success))),
    Effect.catchTag("ConfigRejected", (f) => Effect.andThen(reportRejection(f), exitWith(ExitCode.Rejected)))
  )

const validate = Command.make(
  "validate",
  { batchFile, params, stateDir, kafkaBrokers, kafkaTopic },
  (flags) =>
    withLoaded(
      flags,
      (batch) =>
        `${batch.file}: batch ${batch.name} is valid (${batch.rules.length} rules, ${batch.targets.targets.length} targets)`
    )
).pipe(
  Command.withDescription(
    "check a batch file without touching anything: schema, parameters, rules, DAG, targets"
  )
)

const format = Flag.Literals("format", ["text", "mermaid"]).pipe(
  Flag.withDescription("text (default) or mermaid"),
  Flag.withDefault("text")
)

const plan = Command.make(
  "plan",
  { batchFile, params, format, stateDir, kafkaBrokers, kafkaTopic },
  (flags) =>
    withLoaded(flags, (batch) =>
      flags.format === "mermaid" ? Dag.toMermaid(batch.plan) : Dag.toText(batch.plan)
    )
).pipe(Command.withDescription("show the order in which a batch's rules run (text or Mermaid)"))

const batchName = Argument.String("batch").pipe(
  Argument.withDescription("the batch name (as in the batch file)")
)

/**
 * A run that died without a word (SIGKILL, a host crash) holds its batch with a stale heartbeat:
 * fence its Spark session, report batch.crashed, mark it crashed, free the batch — what the
 * next run would do first. Says what it did, if anything.
 */
const reapStale = (settings: Settings.Resolved, batch: string, timeout: Duration.Duration) =>
  Effect.gen(function* () {
    const sink = yield* Event.EventSink
    const found = yield* Ledger.reap({
      dir: settings.ledgerDir,
      batch,
      host: os.hostname(),
      fence: Fence.predecessor(settings.remote, timeout),
      report: (p) =>
        Effect.flatMap(Clock.currentTimeMillis, (now) =>
          sink.publish(Run.crashedEvent(p, new Date(now).toISOString()))
        )
    }).pipe(Effect.ensuring(sink.flush))
    if (found._tag === "Reaped" && Option.isSome(found.crashed)) {
      const p = found.crashed.value
      yield* Console.log(
        `run ${p.runId} (pid ${p.pid} on ${p.host}) had crashed: fenced, batch.crashed reported, batch freed`
      )
    }
    // A live run settles earlier runs itself; a free batch is settled here, as its next run would.
    if (found._tag === "Held") return
    // An unsent terminal event is sent only where Kafka is configured; else the next run does.
    const settled = yield* Ledger.settle({
      dir: settings.ledgerDir,
      batch,
      fence: Fence.predecessor(settings.remote, timeout),
      ...(Option.isSome(settings.kafka) ? { republish: sink.publish } : {})
    }).pipe(Effect.ensuring(sink.flush))
    for (const r of settled.republished)
      yield* Console.log(`run ${r.runId}: its recorded ${r.terminalEvent?.type ?? "terminal event"} sent`)
    for (const r of settled.fenced)
      yield* Console.log(`run ${r.runId} had ended unfenced: its Spark session is fenced now`)
  }).pipe(Effect.provide(Layers.eventSink(settings)))

const status = Command.make(
  "status",
  { batchName, stateDir, remote, kafkaBrokers, kafkaTopic, sparkTimeout },
  (flags) =>
    Effect.gen(function* () {
      const settings = settingsOf(flags)
      yield* remoteOf(settings.remote, flags.remote)
      yield* reapStale(settings, flags.batchName, Duration.seconds(Math.min(flags.sparkTimeout, 10)))
      const records = yield* Ledger.list(settings.ledgerDir, flags.batchName)
      if (records.length === 0) {
        yield* Console.log(`no runs of ${flags.batchName} in ${settings.ledgerDir}`)
        return yield* exitWith(ExitCode.Success)
      }
      for (const r of records.slice(0, 10)) {
        const failed = r.outcome?.ruleId ? ` rule=${r.outcome.ruleId}` : ""
        const code = r.outcome?.failure ? ` code=${r.outcome.failure.code}` : ""
        const exit = r.outcome ? ` exit=${r.outcome.exitCode}` : ""
        const unfenced = r.unfenced === true ? " UNFENCED" : ""
        yield* Console.log(
          `${r.startedAt}  ${r.status.padEnd(9)} run=${r.runId} pid=${r.pid}@${r.host}${exit}${failed}${code}${unfenced} heartbeat=${r.heartbeatAt}`
        )
      }
      yield* exitWith(ExitCode.Success)
    }).pipe(
      Effect.provide(Logging.quiet),
      Effect.provide(NodeServices.layer),
      Effect.catchTag("ConfigRejected", (f) =>
        Effect.andThen(reportRejection(f), exitWith(ExitCode.Rejected))
      ),
      Effect.catchTag("LedgerError", (e) =>
        Effect.andThen(
          Console.error(`cannot read the run ledger: ${e.message}`),
          exitWith(ExitCode.SystemFailure)
        )
      ),
      Effect.catchTag("EngineUnreachable", (e) =>
        Effect.andThen(Console.error(e.message), exitWith(ExitCode.SystemFailure))
      ),
      Effect.catchTag("ConfigError", (e) =>
        Effect.andThen(Console.error(e.message), exitWith(ExitCode.Usage))
      )
    )
).pipe(
  Command.withDescription(
    "show the latest runs of a batch from the run ledger; a run found crashed is fenced, reported and its batch freed"
  )
)

const flush = Command.make("flush", { stateDir, kafkaBrokers, kafkaTopic }, (flags) =>
  Effect.gen(function* () {
    const settings = settingsOf(flags)
    if (Option.isNone(settings.kafka)) {
      yield* Console.error("outbox flush needs Kafka: give --kafka-brokers or set KAFKA_BROKERS")
      return yield* exitWith(ExitCode.Usage)
    }
    const config = yield* ReporterConfig.decode(
      {
        brokers: settings.kafka.value.brokers,
        topic: settings.kafka.value.topic,
        outboxFile: settings.outboxFile
      },
      "--kafka-brokers / KAFKA_BROKERS"
    )
    const result = yield* KafkaReporter.flushOutbox(config)
    yield* Console.log(
      `outbox ${settings.outboxFile}: delivered ${result.delivered}, remaining ${result.remaining}, quarantined ${result.quarantined}`
    )
    yield* exitWith(result.remaining === 0 ? ExitCode.Success : ExitCode.SystemFailure)
  }).pipe(
    Effect.provide(Logging.quiet),
    Effect.provide(NodeServices.layer),
    Effect.catchTag("ConfigError", (e) => Effect.andThen(Console.error(e.message), exitWith(ExitCode.Usage))),
    Effect.catchTag("OutboxError", (e) =>
      Effect.andThen(Console.error(`outbox: ${e.message}`), exitWith(ExitCode.SystemFailure))
    )
  )
).pipe(Command.withDescription("deliver the events waiting in the outbox to Kafka, in order"))

const outbox = Command.make("outbox").pipe(
  Command.withDescription("the durable outbox of events Kafka did not take in time"),
  Command.withSubcommands([flush])
)

/** The root command (typed out so its declaration names the reporter's errors). */
type NoInput = Record<never, never>
export const command: Command.Command<
  "spark-etl",
  NoInput,
  NoInput,
  ReporterError.ConfigError | ReporterError.OutboxError,
  NodeServices.NodeServices
> = Command.make("spark-etl").pipe(
  Command.withDescription("Run batches of SQL ETL rules on Apache Spark over Spark Connect."),
  Command.withSubcommands([run, validate, plan, status, outbox])
)
