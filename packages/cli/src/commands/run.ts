/**
 * `spark-etl run`: refuses what can be refused before any side effect (a remote that cannot be
 * right, a place it writes that takes no write), then runs the batch and prints its rule table
 * and summary line. `--dry-run` only loads the batch and shows what a run would do. `--resume`
 * asks core to resume a failed run (a refusal is exit 3, RESUME_REFUSED, printed like any
 * rejection).
 */
import * as NodeServices from "@effect/platform-node/NodeServices"
import * as Console from "effect/Console"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Result from "effect/Result"
import * as Command from "effect/cli/Command"
import * as Flag from "effect/cli/Flag"
import { Batch, Dag, ExitCode, type Failure, Run } from "@spark-etl/core"
import * as ConnectionString from "@spark-etl/runner-spark-connect/ConnectionString"
import type * as SparkSession from "@spark-etl/runner-spark-connect/SparkSession"
import { randomUUID } from "node:crypto"
import * as path from "node:path"
import * as ExitStatus from "../ExitStatus.js"
import type * as Layers from "../Layers.js"
import * as Locations from "../Locations.js"
import * as Plugins from "../Plugins.js"
import * as Logging from "../Logging.js"
import * as ResumePreview from "../ResumePreview.js"
import type * as Settings from "../Settings.js"
import * as Signals from "../Signals.js"
import * as Summary from "../Summary.js"
import {
  batchFile,
  kafkaBrokers,
  kafkaTopic,
  localSparkVersion,
  logDir,
  logFile,
  params,
  remote,
  resume,
  siteConfig,
  sparkTimeout,
  stateDir
} from "./flags.js"
import {
  checkLocalEngine,
  checkRemote,
  fencing,
  loadThen,
  paramsOf,
  rejected,
  reportRejection,
  runServices,
  settingsOf,
  usage
} from "./shared.js"

/** A batch name made safe for a file name (a batch name is free text in its file). */
const safeFileName = (name: string): string => name.replace(/[^A-Za-z0-9_.-]/g, "_")

/**
 * The run's log file: the flag's, else `<batch>-<UTC stamp>-<first 8 of the run id>.jsonl` in
 * the log directory, so one job's logs sort together whatever its file is called.
 */
export const logFileOf = (
  settings: Settings.Resolved,
  flag: Option.Option<string>,
  batch: string,
  runId: string,
  now: Date
): string =>
  Option.getOrElse(flag, () => {
    const stamp = now.toISOString().replace(/[-:]/g, "").slice(0, 15)
    return path.join(settings.logDir, `${safeFileName(batch)}-${stamp}-${runId.slice(0, 8)}.jsonl`)
  })

/** The batch's name from its file, else the file's base name (also for a file that is refused). */
export const batchNameOf = (named: Option.Option<string>, file: string): string =>
  Option.getOrElse(named, () => path.basename(file).replace(/\.ya?ml$/, ""))

/** The places a run writes on this host, each with the setting that moves it. */
export const locationsOf = (
  settings: Settings.Resolved,
  logFile: string
): ReadonlyArray<Locations.Location> => [
  { path: settings.ledgerDir, setting: "--state-dir / SPARK_ETL_STATE_DIR", kind: "directory" },
  { path: path.dirname(logFile), setting: "--log-dir / --log-file / SPARK_ETL_LOG_DIR", kind: "directory" },
  // The outbox is written only when events go to Kafka.
  ...(Option.isSome(settings.kafka)
    ? [
        {
          path: settings.outboxFile,
          setting: "--state-dir / SPARK_ETL_STATE_DIR (outbox)",
          kind: "file" as const
        }
      ]
    : [])
]

/** The summary line of a run refused before its log was opened (exit 3). */
export const refusedSummary = (runId: string, batch: string, failure: Failure.ConfigRejected): string =>
  Summary.line(
    {
      runId,
      batch,
      status: "rejected",
      exitCode: ExitCode.Rejected,
      failure,
      targetsTouched: false,
      unfenced: false
    },
    "(none: refused before the log was opened)"
  )

/** What a dry run shows of a valid batch, line by line. */
const dryRunLines = (batch: Batch.Batch, remote: string): ReadonlyArray<string> => [
  `batch ${batch.name}: ${batch.rules.length} rules, valid (dry run: nothing was touched)`,
  `plan:\n${Dag.toText(batch.plan)}`,
  batch.targets.targets.length === 0
    ? "cleanup: no targets"
    : `cleanup (delete-and-load) would empty:\n${batch.targets.targets.map((t) => `  ${t.ruleId}: ${t.location}`).join("\n")}`,
  `spark: ${remote} (not contacted)`
]

/**
 * What a dry run of a resume shows: the plan, what the resume would skip and run and why, and
 * the cleanup of only the targets of the rules it runs (what it skips is left as it is).
 */
const dryResumeLines = (
  batch: Batch.Batch,
  remote: string,
  shown: ResumePreview.Shown
): ReadonlyArray<string> => {
  const runs = ResumePreview.running(shown)
  const cleaned = batch.targets.targets.filter((t) => runs.has(t.ruleId))
  return [
    `batch ${batch.name}: ${batch.rules.length} rules, valid (dry run: nothing was touched)`,
    `plan:\n${Dag.toText(batch.plan)}`,
    ResumePreview.lines(shown).join("\n"),
    cleaned.length === 0
      ? "cleanup: none (every target is a skipped rule's output, kept as it is)"
      : `cleanup (delete-and-load) would empty:\n${cleaned.map((t) => `  ${t.ruleId}: ${t.location}`).join("\n")}`,
    `spark: ${remote} (not contacted)`
  ]
}

/**
 * A batch that says `resume: auto` resumes without `--resume` when it can, and otherwise runs
 * fresh, saying why: so does its dry run.
 */
const dryAutoResume = (batch: Batch.Batch, settings: Settings.Resolved) =>
  Effect.map(ResumePreview.attempt(settings.ledgerDir, batch, { _tag: "Latest" }), (shown) => {
    if (Result.isSuccess(shown)) return dryResumeLines(batch, settings.remote, shown.success)
    const [batchLine, planLines, ...rest] = dryRunLines(batch, settings.remote)
    return [
      batchLine!,
      planLines!,
      `resume: auto: ${shown.failure}; running fresh (delete-and-load)`,
      ...rest
    ]
  })

const dryRun = (
  file: string,
  p: Record<string, string>,
  settings: Settings.Resolved,
  resume: Option.Option<ResumePreview.Request>
): Effect.Effect<ExitCode> =>
  loadThen(file, p, settings.pluginPath, (batch) =>
    Option.match(resume, {
      onNone: () =>
        batch.resume === "auto"
          ? dryAutoResume(batch, settings)
          : Effect.succeed(dryRunLines(batch, settings.remote)),
      onSome: (request) =>
        Effect.map(ResumePreview.preview(settings.ledgerDir, batch, request), (shown) =>
          dryResumeLines(batch, settings.remote, shown)
        )
    })
  ).pipe(
    Effect.flatMap((lines) =>
      Effect.as(
        Effect.forEach(lines, (l) => Console.log(l)),
        ExitCode.Success
      )
    ),
    Effect.catchTag("ConfigRejected", rejected)
  )

const parallelism = Flag.Int("parallelism").pipe(
  Flag.withDescription(
    "how many rules may run at once (default: the batch file's engine.parallelism, else 1)"
  ),
  Flag.optional
)

const dryRunFlag = Flag.Boolean("dry-run").pipe(
  Flag.withDescription("validate, plan and show the cleanup it would do, touching nothing"),
  Flag.withDefault(false)
)

const config = {
  batchFile,
  params,
  siteConfig,
  remote,
  parallelism,
  dryRun: dryRunFlag,
  resume,
  stateDir,
  logDir,
  logFile,
  kafkaBrokers,
  kafkaTopic,
  sparkTimeout,
  localSparkVersion
}

/**
 * The run's exit code (the outcome's); 3 when refused before any side effect (a site config
 * that cannot be used included), 64 for bad Kafka settings.
 */
export const handler = (flags: Command.Command.Config.Infer<typeof config>) =>
  Effect.gen(function* () {
    const settings = yield* settingsOf(flags)
    if (flags.dryRun) return yield* dryRun(flags.batchFile, paramsOf(flags.params), settings, flags.resume)
    const runId = randomUUID()
    const peeked = yield* Batch.peek(flags.batchFile).pipe(Effect.provide(NodeServices.layer))
    const batchName = batchNameOf(peeked.name, flags.batchFile)
    const log = logFileOf(settings, flags.logFile, batchName, runId, new Date())
    // Refused before any side effect, each naming what to fix: a connection string that
    // cannot be right (a configuration error, exit 3: a restart would not help), the places
    // this run writes on this host that do not take a write, and plugin packages that cannot
    // be used.
    const admitted = yield* Effect.result(
      checkRemote(settings).pipe(
        Effect.andThen(checkLocalEngine(settings)),
        Effect.andThen(Locations.check(locationsOf(settings, log))),
        Effect.andThen(Plugins.load(flags.batchFile, peeked.plugins, settings.pluginPath)),
        Effect.provide(NodeServices.layer)
      )
    )
    if (admitted._tag === "Failure") {
      yield* reportRejection(admitted.failure)
      yield* Console.log(refusedSummary(runId, batchName, admitted.failure))
      return ExitCode.Rejected
    }
    // The engine session once a rule opened it: what its rules interrupted without seeing the
    // end, this run's own fence follows too.
    const engineSession = yield* Deferred.make<SparkSession.Session>()
    const options: Layers.Options = {
      settings,
      plugins: admitted.success,
      sparkTimeout: settings.sparkTimeout,
      engineSession
    }
    const unsettled = Effect.flatMap(
      Deferred.poll(engineSession),
      Option.match({
        onNone: () => Effect.succeed<ReadonlyArray<string>>([]),
        onSome: (opened) => Effect.flatMap(opened, (spark) => spark.unsettled)
      })
    )
    // The session id is ours, recorded in the ledger, so a successor can fence this run.
    const engineSessionId = randomUUID()
    const sessionSettings = ConnectionString.isShared(settings.remote)
      ? { ...settings, remote: ConnectionString.withSessionId(settings.remote, engineSessionId) }
      : settings
    const fenceTimeout = Duration.min(settings.sparkTimeout, Duration.seconds(10))
    const [Layers, Fence] = yield* Effect.all([runServices, fencing])
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
      fenceSelf: Fence.self(
        settings.remote,
        engineSessionId,
        () => {
          const left = Signals.fenceBudgetMs()
          return left === undefined ? fenceTimeout : Duration.millis(left)
        },
        unsettled
      ),
      ...(ConnectionString.isShared(settings.remote) ? { engineSessionId } : {}),
      // The flag wins over the batch file's escalation.topic, which wins over the environment.
      ...(Option.isSome(flags.kafkaTopic) ? { topic: flags.kafkaTopic.value } : {}),
      ...(Option.isSome(flags.parallelism) ? { parallelism: flags.parallelism.value } : {}),
      ...(Option.isSome(flags.resume) ? { resume: flags.resume.value } : {})
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
    return outcome.exitCode
  }).pipe(
    Effect.catchTag("ConfigRejected", (failure) => refusedBeforeSettings(flags.batchFile, failure)),
    Effect.catchTag("ConfigError", usage)
  )

/** A site config that cannot be used: its issues, and the summary line AutoSys' stdout ends with. */
const refusedBeforeSettings = (batchFile: string, failure: Failure.ConfigRejected) =>
  Effect.gen(function* () {
    const peeked = yield* Batch.peek(batchFile).pipe(Effect.provide(NodeServices.layer))
    yield* reportRejection(failure)
    yield* Console.log(refusedSummary(randomUUID(), batchNameOf(peeked.name, batchFile), failure))
    return ExitCode.Rejected
  })

export const command = Command.make("run", config, ExitStatus.recorded(handler)).pipe(
  Command.withDescription("run a batch: clean its targets, run its rules on Spark, escalate failures")
)
