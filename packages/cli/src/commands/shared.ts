/**
 * What the command handlers share: their settings, loading a batch without side effects, and
 * how a refusal is told (each ends in an exit code of the contract table).
 */
import * as NodeServices from "@effect/platform-node/NodeServices"
import type * as Config from "effect/Config"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import { Batch, ExitCode, Failure } from "@spark-etl/core"
import type * as KafkaReporterModule from "@spark-etl/kafka-reporter"
import type { ReporterConfig } from "@spark-etl/kafka-reporter"
import * as ConnectionString from "@spark-etl/runner-spark-connect/ConnectionString"
import * as Logging from "../Logging.js"
import * as Origin from "../Origin.js"
import * as Plugins from "../Plugins.js"
import * as Settings from "../Settings.js"
import * as SiteConfig from "../SiteConfig.js"
import * as ValidationOnly from "../ValidationOnly.js"

/** The setting flags of a command; one it does not have counts as not given. */
export interface SettingFlags {
  readonly siteConfig?: Option.Option<string>
  readonly remote?: Option.Option<string>
  readonly stateDir: Option.Option<string>
  readonly logDir?: Option.Option<string>
  readonly kafkaBrokers: Option.Option<string>
  readonly kafkaTopic: Option.Option<string>
  readonly sparkTimeout?: Option.Option<number>
  readonly localSparkVersion?: Option.Option<string>
}

/**
 * The flags, then the environment, then the site config, then the defaults. A site config that
 * cannot be read or decoded is refused (exit 3); a variable that cannot be used is a
 * ConfigError (exit 64).
 */
export const settingsOf = (
  flags: SettingFlags
): Effect.Effect<Settings.Resolved, Failure.ConfigRejected | Config.ConfigError> =>
  Effect.gen(function* () {
    const site = yield* SiteConfig.load(flags.siteConfig ?? Option.none())
    return yield* Settings.resolve(
      {
        remote: flags.remote ?? Option.none(),
        stateDir: flags.stateDir,
        logDir: flags.logDir ?? Option.none(),
        kafkaBrokers: flags.kafkaBrokers,
        kafkaTopic: flags.kafkaTopic,
        sparkTimeout: flags.sparkTimeout ?? Option.none(),
        localSparkVersion: flags.localSparkVersion ?? Option.none()
      },
      site
    )
  }).pipe(Effect.provide(NodeServices.layer))

export const paramsOf = (p: Option.Option<Record<string, string>>) => Option.getOrElse(p, () => ({}))

// What a refusal is of, when not of the batch.
const rejectedWhat: Record<string, string> = {
  ENGINE_SETTING_INVALID: "engine setting rejected",
  RESUME_REFUSED: "resume refused",
  SITE_CONFIG_INVALID: "site config rejected"
}

/**
 * Prints a rejected batch's issues, one per line, each with file:line:column and field. A
 * refused resume is said as such: the batch itself is fine, the run to resume is not.
 */
export const reportRejection = (failure: Failure.ConfigRejected) =>
  Console.error(
    `${rejectedWhat[failure.code] ?? "batch rejected"} (${failure.code}):\n${failure.issues.map((i) => `  ${Failure.formatIssue(i)}`).join("\n")}`
  )

/** A rejected batch or setting: its issues, exit 3. */
export const rejected = (failure: Failure.ConfigRejected) =>
  Effect.as(reportRejection(failure), ExitCode.Rejected)

/** A configuration the command cannot use (e.g. a malformed broker list): why, exit 64. */
export const usage = (error: { readonly message: string }) =>
  Effect.as(Console.error(error.message), ExitCode.Usage)

/**
 * The services of a run (Spark, Kafka) and the fencing of sessions, loaded when a command first
 * needs them: `--help`, `validate` and `plan` never read gRPC, Arrow or kafkajs from disk.
 */
export const runServices = Effect.promise(() => import("../Layers.js"))
export const fencing = Effect.promise(() => import("../Fence.js"))

/**
 * Loads a batch without an event sink or an engine session (its plugin packages, then it), and
 * goes on with `then` among the same services: its runners (which can validate and fingerprint,
 * never run) and the filesystem target store.
 */
export const loadThen = <A, E>(
  file: string,
  p: Record<string, string>,
  pluginPath: ReadonlyArray<string>,
  then: (batch: Batch.Batch) => Effect.Effect<A, E, ValidationOnly.Services>
): Effect.Effect<A, E | Failure.ConfigRejected> =>
  Batch.peek(file).pipe(
    Effect.flatMap((peeked) => Plugins.load(file, peeked.plugins, pluginPath)),
    Effect.provide(NodeServices.layer),
    Effect.flatMap((plugins) =>
      Batch.load(file, { params: p, env: process.env }).pipe(
        Effect.flatMap(then),
        Effect.provide(ValidationOnly.layer(plugins))
      )
    ),
    Effect.provide(Logging.quiet)
  )

/** Loads a batch without an event sink or an engine session: its plugin packages, then it. */
const loadOnly = (file: string, p: Record<string, string>, pluginPath: ReadonlyArray<string>) =>
  loadThen(file, p, pluginPath, Effect.succeed)

/** Where an issue about a setting is: the command line, the environment, or its line in the site config. */
const placeOf = (origin: Origin.Origin) => {
  switch (origin._tag) {
    case "Flag":
      return { file: "command line", line: 1, column: 1, field: origin.flag }
    case "Env":
      return { file: "environment", line: 1, column: 1, field: origin.variable }
    case "File":
      return { file: origin.file, line: origin.line, column: origin.column, field: origin.field }
    case "Default":
      return { file: "default", line: 1, column: 1, field: "(default)" }
  }
}

/**
 * Why the Spark remote cannot be right, checked without connecting, naming where it came from
 * (the flag, the variable or the site config's line) and never echoing a token; none when it
 * may be right.
 */
export const remoteRejection = (
  remote: string,
  origin: Origin.Origin
): Option.Option<Failure.ConfigRejected> => {
  const parsed = ConnectionString.parse(remote)
  if (parsed._tag === "Success") return Option.none()
  const place = placeOf(origin)
  return Option.some(
    Failure.rejected(
      [{ ...place, field: `${place.field} (${parsed.failure.field})`, message: parsed.failure.message }],
      "REMOTE_INVALID"
    )
  )
}

/** Fails with the remote's rejection, if any: a configuration error (a restart would not help). */
export const checkRemote = (settings: Settings.Resolved): Effect.Effect<void, Failure.ConfigRejected> =>
  Option.match(remoteRejection(settings.remote, settings.origins.remote), {
    onNone: () => Effect.void,
    onSome: Effect.fail
  })

/**
 * For an embedded engine (a `local` remote), refuses a class archive setting that cannot be
 * right before anything starts: the server would not start, which reads as a platform failure
 * (exit 2, a restart may help) though only the job's environment is wrong. Read as the server
 * reads it, from the process environment.
 */
export const checkLocalEngine = (
  settings: Settings.Resolved
): Effect.Effect<void, Failure.ConfigRejected> => {
  const parsed = ConnectionString.parse(settings.remote)
  if (parsed._tag === "Failure" || parsed.success._tag !== "Local") return Effect.void
  return Effect.flatMap(
    Effect.promise(() => import("@spark-etl/runner-spark-connect/local")),
    ({ ClassArchive }) => {
      const problem = ClassArchive.problemOf(process.env[ClassArchive.variable])
      return problem === undefined
        ? Effect.void
        : Effect.fail(
            Failure.rejected(
              [{ ...placeOf(Origin.env(ClassArchive.variable)), message: problem }],
              "ENGINE_SETTING_INVALID"
            )
          )
    }
  )
}

/** Loads a batch without touching anything and shows it: exit 0; a rejected batch exits 3. */
export const withLoaded = (
  flags: SettingFlags & {
    readonly batchFile: string
    readonly params: Option.Option<Record<string, string>>
  },
  show: (batch: Batch.Batch) => string
): Effect.Effect<ExitCode> =>
  settingsOf(flags).pipe(
    Effect.flatMap((settings) => loadOnly(flags.batchFile, paramsOf(flags.params), settings.pluginPath)),
    Effect.flatMap((batch) => Effect.as(Console.log(show(batch)), ExitCode.Success)),
    Effect.catchTag("ConfigRejected", rejected),
    Effect.catchTag("ConfigError", usage)
  )

/**
 * For the commands that talk to Kafka only (`outbox flush`, `events`): the settings, then the
 * reporter's configuration, kafka-reporter read from disk only then. Without Kafka configured,
 * `needsKafka` (exit 64); a bad site config exit 3; a broker list that cannot be right exit 64.
 * What `use` fails with is the caller's to settle.
 */
export const withKafka = <E>(
  flags: SettingFlags,
  needsKafka: string,
  use: (
    reporter: ReporterConfig.ReporterConfig,
    kafka: typeof KafkaReporterModule,
    settings: Settings.Resolved
  ) => Effect.Effect<ExitCode, E, NodeServices.NodeServices>
): Effect.Effect<ExitCode, E> => {
  const prepared = Effect.gen(function* () {
    const settings = yield* settingsOf(flags)
    if (Option.isNone(settings.kafka)) return yield* usage({ message: needsKafka })
    const [Layers, kafka] = yield* Effect.all([
      runServices,
      Effect.promise(() => import("@spark-etl/kafka-reporter"))
    ])
    const reporter = yield* Layers.reporterConfig(settings, settings.kafka.value)
    return { reporter, kafka, settings }
  }).pipe(Effect.catchTag("ConfigRejected", rejected), Effect.catchTag("ConfigError", usage))
  return Effect.flatMap(prepared, (ready) =>
    typeof ready === "number" ? Effect.succeed(ready) : use(ready.reporter, ready.kafka, ready.settings)
  ).pipe(Effect.provide(Logging.quiet), Effect.provide(NodeServices.layer))
}
