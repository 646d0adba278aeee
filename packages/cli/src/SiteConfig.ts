/**
 * The site config: one YAML file per host with the settings every job there shares (Spark,
 * Kafka and its security, state and log folders, plugin path, Spark timeout), so that an AutoSys
 * command line names only the batch. It is `--config <file>`, else `$SPARK_ETL_CONFIG`, else
 * /etc/spark-etl/config.yaml when that exists. A file that is named but missing, or that does
 * not decode, is refused (exit 3) with file:line:column and the field. It is read by core's
 * YamlSource, the batch file's reader, so both report their YAML alike.
 */
import { Failure, YamlSource } from "@spark-etl/core"
import * as Config from "effect/Config"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as FileSystem from "effect/FileSystem"
import * as Option from "effect/Option"
import * as Path from "effect/Path"
import * as Result from "effect/Result"
import * as Schema from "effect/Schema"
import * as SchemaIssue from "effect/SchemaIssue"
import * as Origin from "./Origin.js"

/** The variable naming the site config. */
export const variable = "SPARK_ETL_CONFIG"

/** The file read when neither `--config` nor `$SPARK_ETL_CONFIG` names one, if it exists. */
export const defaultPath = "/etc/spark-etl/config.yaml"

/** Where the default file is looked for; a test points it elsewhere. */
export const DefaultPath = Context.Reference<string>("@spark-etl/cli/SiteConfig/DefaultPath", {
  defaultValue: () => defaultPath
})

export const saslMechanisms = ["plain", "scram-sha-256", "scram-sha-512"] as const
export type SaslMechanism = (typeof saslMechanisms)[number]

const NonEmpty = Schema.String.check(Schema.isMinLength(1))

// The same shapes the Kafka reporter accepts, checked here so that a mistake in the file is
// reported at its line (kafka-reporter itself is loaded only by the commands that use Kafka).
const Broker = Schema.String.check(
  Schema.isPattern(/^[^\s:/]+:\d{1,5}$/, { expected: "a broker as host:port, e.g. kafka-1:9092" })
)
const Topic = Schema.String.check(
  Schema.isPattern(/^[A-Za-z0-9._-]{1,249}$/, {
    expected: "a Kafka topic name ([A-Za-z0-9._-], 1-249 chars)"
  })
)
const VariableName = Schema.String.check(
  Schema.isPattern(/^[A-Za-z_][A-Za-z0-9_]*$/, { expected: "the name of an environment variable" })
)

/**
 * What a Spark version looks like: major.minor.patch, as Maven Central names Spark's jars. The
 * flag and the variable are held to the same shape (Settings), so each is refused where it was given.
 */
const sparkVersionPattern = /^\d+\.\d+\.\d+$/
export const sparkVersionExpected = "major.minor.patch, e.g. 4.0.1"
export const isSparkVersion = (text: string): boolean => sparkVersionPattern.test(text)
const SparkVersion = Schema.String.check(
  Schema.isPattern(sparkVersionPattern, { expected: `a Spark version, ${sparkVersionExpected}` })
)

/** The file's shape; every field is optional (the environment and the defaults fill in). */
export const File = Schema.Struct({
  spark: Schema.optionalKey(
    Schema.Struct({
      remote: Schema.optionalKey(NonEmpty),
      /** Seconds: the deadline of each Spark call and of connecting (`--spark-timeout`). */
      timeout_seconds: Schema.optionalKey(Schema.Int.check(Schema.isGreaterThan(0))),
      /** The embedded server's Spark version (`--local-spark-version`); unused for an sc:// remote. */
      local_version: Schema.optionalKey(SparkVersion)
    })
  ),
  state_dir: Schema.optionalKey(NonEmpty),
  log_dir: Schema.optionalKey(NonEmpty),
  plugin_path: Schema.optionalKey(Schema.Array(NonEmpty)),
  kafka: Schema.optionalKey(
    Schema.Struct({
      brokers: Schema.optionalKey(Schema.NonEmptyArray(Broker)),
      topic: Schema.optionalKey(Topic),
      tls: Schema.optionalKey(
        Schema.Struct({
          enabled: Schema.optionalKey(Schema.Boolean),
          ca_file: Schema.optionalKey(NonEmpty),
          cert_file: Schema.optionalKey(NonEmpty),
          key_file: Schema.optionalKey(NonEmpty),
          servername: Schema.optionalKey(NonEmpty)
        })
      ),
      sasl: Schema.optionalKey(
        Schema.Struct({
          mechanism: Schema.optionalKey(Schema.Literals(saslMechanisms)),
          username: Schema.optionalKey(NonEmpty),
          /** The variable holding the password: the password itself never goes in this file. */
          password_env: Schema.optionalKey(VariableName),
          password_file: Schema.optionalKey(NonEmpty)
        })
      )
    })
  )
})
export type File = typeof File.Type

/** A site config read and decoded. */
export interface Loaded {
  /** Its absolute path. */
  readonly file: string
  /** What named it: `--config`, `$SPARK_ETL_CONFIG` or the default path. */
  readonly origin: Origin.Origin
  readonly values: File
  /** Where the field at `path` is, e.g. `["kafka", "brokers"]`. */
  readonly origins: (path: ReadonlyArray<string>) => Origin.Origin
}

const refused = (issues: ReadonlyArray<Failure.ConfigIssue>) =>
  Failure.rejected(issues, "SITE_CONFIG_INVALID")

const formatter = SchemaIssue.makeFormatterStandardSchemaV1()

// Schema's wording for the commonest mistakes, said as core says them of a batch file.
const messages: Record<string, string> = {
  "Missing key": "required field is missing",
  "Expected no excess property": "unknown field"
}

const fieldOf = (path: ReadonlyArray<string | number>): string =>
  path.reduce<string>(
    (acc, seg) => (typeof seg === "number" ? `${acc}[${seg}]` : acc === "" ? seg : `${acc}.${seg}`),
    ""
  ) || "(document)"

/** Every leaf of a decoding error, at its line and column (an unknown field at its key). */
const issuesOf = (
  error: Schema.SchemaError,
  source: YamlSource.Source,
  file: string
): ReadonlyArray<Failure.ConfigIssue> =>
  formatter(error.issue)
    .issues.map((issue) => {
      const path = (issue.path ?? []).map((segment) => {
        const key = typeof segment === "object" ? segment.key : segment
        return typeof key === "number" ? key : String(key)
      })
      const unknown = issue.message === "Expected no excess property"
      const field = fieldOf(path)
      const message =
        unknown && field === "kafka.sasl.password"
          ? "the password never goes in the site config: give password_env (a variable's name) or password_file"
          : (messages[issue.message] ?? issue.message)
      return { file, ...source.position(path, unknown), field, message }
    })
    .toSorted((a, b) => a.line - b.line || a.column - b.column)

/** Decodes a site config's text, as read from `file`. */
export const decode = (
  text: string,
  file: string,
  origin: Origin.Origin
): Result.Result<Loaded, Failure.ConfigRejected> => {
  const source = YamlSource.read(text, file)
  if (Result.isFailure(source)) return Result.fail(refused(source.failure))
  const decoded = Schema.decodeUnknownResult(File)(source.success.value ?? {}, {
    errors: "all",
    onExcessProperty: "error"
  })
  if (Result.isFailure(decoded)) return Result.fail(refused(issuesOf(decoded.failure, source.success, file)))
  const sasl = decoded.success.kafka?.sasl
  if (sasl?.password_env !== undefined && sasl.password_file !== undefined)
    return Result.fail(
      refused([
        {
          file,
          ...source.success.position(["kafka", "sasl", "password_file"], true),
          field: "kafka.sasl.password_file",
          message: "give password_env or password_file, not both"
        }
      ])
    )
  const { position } = source.success
  return Result.succeed({
    file,
    origin,
    values: decoded.success,
    origins: (path) => ({ _tag: "File", file, ...position(path), field: fieldOf(path) })
  })
}

/** The file named by `--config` or `$SPARK_ETL_CONFIG`, with what named it; none when neither does. */
const named = (flag: Option.Option<string>) =>
  Option.isSome(flag)
    ? Config.succeed(Option.some({ path: flag.value, origin: Origin.flag("--config") }))
    : Config.option(Config.String(variable)).pipe(
        Config.map(Option.map((path) => ({ path, origin: Origin.env(variable) })))
      )

/** A site config that cannot be read, told at what named it (the default file: at itself). */
const unreadable = (origin: Origin.Origin, file: string, reason: string) =>
  refused([
    {
      file: origin._tag === "Flag" ? "command line" : origin._tag === "Env" ? "environment" : file,
      line: 1,
      column: 1,
      field: origin._tag === "Flag" ? "--config" : origin._tag === "Env" ? variable : "(file)",
      message: `cannot read the site config ${file}: ${reason}`
    }
  ])

/**
 * The site config in effect: the one named (which must exist), else the default file if it
 * exists, else none.
 */
export const load = (
  flag: Option.Option<string>
): Effect.Effect<
  Option.Option<Loaded>,
  Failure.ConfigRejected | Config.ConfigError,
  FileSystem.FileSystem | Path.Path
> =>
  Effect.gen(function* () {
    const fs = yield* FileSystem.FileSystem
    const path = yield* Path.Path
    const given = yield* named(flag)
    const fallback = yield* DefaultPath
    if (Option.isNone(given) && !(yield* fs.exists(fallback).pipe(Effect.orElseSucceed(() => false))))
      return Option.none()
    const { path: file, origin } = Option.getOrElse(given, () => ({
      path: fallback,
      origin: Origin.byDefault()
    }))
    const absolute = path.resolve(file)
    const text = yield* fs
      .readFileString(absolute)
      .pipe(
        Effect.mapError((e) =>
          unreadable(origin, absolute, e.reason._tag === "NotFound" ? "no such file" : e.message)
        )
      )
    return Option.some(yield* Effect.fromResult(decode(text, absolute, origin)))
  })
