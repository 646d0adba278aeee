/**
 * Where a run keeps its state, where Spark and Kafka are, and how to reach them. A flag wins
 * over its environment variable (read through Effect's Config from the current ConfigProvider:
 * the process environment, or a test's), which wins over the site config (SiteConfig), which
 * wins over the default. An empty variable counts as unset. Each setting keeps its origin, for
 * `spark-etl config` and for naming what to fix.
 */
import * as Config from "effect/Config"
import * as ConfigProvider from "effect/ConfigProvider"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import type * as Redacted from "effect/Redacted"
import * as os from "node:os"
import * as path from "node:path"
import * as Origin from "./Origin.js"
import * as SiteConfig from "./SiteConfig.js"

/** The environment variables spark-etl reads, by the setting they give. */
export const variables = {
  remote: "SPARK_REMOTE",
  stateDir: "SPARK_ETL_STATE_DIR",
  logDir: "SPARK_ETL_LOG_DIR",
  kafkaBrokers: "KAFKA_BROKERS",
  kafkaTopic: "SPARK_ETL_KAFKA_TOPIC",
  pluginPath: "SPARK_ETL_PLUGIN_PATH",
  sparkTimeout: "SPARK_ETL_SPARK_TIMEOUT",
  localSparkVersion: "SPARK_ETL_LOCAL_SPARK_VERSION",
  kafkaTls: "SPARK_ETL_KAFKA_TLS",
  kafkaCaFile: "SPARK_ETL_KAFKA_CA_FILE",
  kafkaCertFile: "SPARK_ETL_KAFKA_CERT_FILE",
  kafkaKeyFile: "SPARK_ETL_KAFKA_KEY_FILE",
  kafkaServername: "SPARK_ETL_KAFKA_SERVERNAME",
  kafkaSaslMechanism: "SPARK_ETL_KAFKA_SASL_MECHANISM",
  kafkaUsername: "SPARK_ETL_KAFKA_USERNAME",
  kafkaPassword: "SPARK_ETL_KAFKA_PASSWORD",
  kafkaPasswordFile: "SPARK_ETL_KAFKA_PASSWORD_FILE"
} as const

export const defaultTopic = "spark-etl.events"
export const defaultSparkTimeoutSeconds = 60

/**
 * The Spark version of the embedded server (`local` / `local[N]`): LocalServer's default, the
 * version the protocol stubs come from. Said here rather than imported, because the local entry
 * of runner-spark-connect loads gRPC, which `validate`, `plan`, `config` and `--help` never read
 * (a test holds the two equal).
 */
export const defaultLocalSparkVersion = "4.2.0"

/** TLS towards the brokers; present when on. Paths are absolute. */
interface Tls {
  readonly caFile?: string
  readonly certFile?: string
  readonly keyFile?: string
  readonly servername?: string
}

/** The Kafka password: given (from a variable), or a file to read when Kafka is used. */
export type Password =
  | { readonly _tag: "Given"; readonly value: Redacted.Redacted<string> }
  | { readonly _tag: "File"; readonly path: string }

/** SASL as given; what is missing is refused where Kafka is configured (Layers.reporterConfig). */
export interface Sasl {
  readonly mechanism?: SiteConfig.SaslMechanism
  readonly username?: string
  readonly password?: Password
}

export interface Kafka {
  readonly brokers: ReadonlyArray<string>
  readonly topic: string
  readonly tls?: Tls
  readonly sasl?: Sasl
}

/** The settings spark-etl tells apart, each with an origin. */
export type Setting =
  | "siteConfig"
  | "remote"
  | "sparkTimeout"
  | "localSparkVersion"
  | "stateDir"
  | "logDir"
  | "pluginPath"
  | "kafkaBrokers"
  | "kafkaTopic"
  | "kafkaTls"
  | "kafkaCaFile"
  | "kafkaCertFile"
  | "kafkaKeyFile"
  | "kafkaServername"
  | "kafkaSaslMechanism"
  | "kafkaUsername"
  | "kafkaPassword"

export interface Resolved {
  readonly remote: string
  readonly stateDir: string
  readonly ledgerDir: string
  readonly logDir: string
  readonly outboxFile: string
  readonly kafka: Option.Option<Kafka>
  /** Folders where plugin packages are looked for after the batch file's own (`:`-separated). */
  readonly pluginPath: ReadonlyArray<string>
  /** Deadline of each Spark call and budget of connecting (`--spark-timeout`). */
  readonly sparkTimeout: Duration.Duration
  /** The Spark version the embedded server runs, for a `local` remote; unused for `sc://`. */
  readonly localSparkVersion: string
  /** The site config read, if any. */
  readonly siteConfig: Option.Option<string>
  /** Where each setting came from. */
  readonly origins: Readonly<Record<Setting, Origin.Origin>>
}

/** Flag values as parsed (absent = not given; a command without the flag leaves it out). */
export interface Flags {
  readonly remote: Option.Option<string>
  readonly stateDir: Option.Option<string>
  readonly logDir: Option.Option<string>
  readonly kafkaBrokers: Option.Option<string>
  readonly kafkaTopic: Option.Option<string>
  readonly sparkTimeout?: Option.Option<number>
  readonly localSparkVersion?: Option.Option<string>
}

/** A value with where it came from. */
interface Sourced<A> {
  readonly value: A
  readonly origin: Origin.Origin
}

type Layered<A> = Config.Config<Option.Option<Sourced<A>>>

/** The site config's field at `path`, with its position; none without a file or the field. */
const inFile = <A>(
  site: Option.Option<SiteConfig.Loaded>,
  at: ReadonlyArray<string>,
  pick: (file: SiteConfig.File) => A | undefined
): Option.Option<Sourced<A>> =>
  Option.flatMap(site, (loaded) =>
    Option.map(Option.fromUndefinedOr(pick(loaded.values)), (value) => ({
      value,
      origin: loaded.origins(at)
    }))
  )

/** A path in the site config is relative to the file's folder. */
const besideFile = (site: Option.Option<SiteConfig.Loaded>, p: string): string =>
  Option.match(site, { onNone: () => path.resolve(p), onSome: (s) => path.resolve(path.dirname(s.file), p) })

/**
 * The flag when given; else its variable (read only then: a flag makes the variable moot);
 * else the site config's field.
 */
const layered = <A>(options: {
  readonly flag?: { readonly name: string; readonly value: Option.Option<A> }
  readonly variable: string
  readonly env: (variable: string) => Config.Config<A>
  readonly file: Option.Option<Sourced<A>>
}): Layered<A> => {
  const { flag } = options
  if (flag !== undefined && Option.isSome(flag.value))
    return Config.succeed(Option.some({ value: flag.value.value, origin: Origin.flag(flag.name) }))
  return Config.option(options.env(options.variable)).pipe(
    Config.map((fromEnv) =>
      Option.match(fromEnv, {
        onSome: (value) => Option.some({ value, origin: Origin.env(options.variable) }),
        onNone: () => options.file
      })
    )
  )
}

const list = (separator: string) => (text: string) =>
  text
    .split(separator)
    .map((s) => s.trim())
    .filter((s) => s !== "")

/** A failure of the settings, told like Config's own (exit 64: fix the command line or environment). */
const invalid = (message: string) =>
  Effect.fail(new Config.ConfigError(new ConfigProvider.SourceError({ message })))

/** The first of `layers` that gives a value; a later one is read only when the earlier give none. */
const firstOf = <A>(...layers: ReadonlyArray<Layered<A>>): Layered<A> =>
  layers.reduce((earlier, later) =>
    earlier.pipe(Config.flatMap((found) => (Option.isSome(found) ? Config.succeed(found) : later)))
  )

/** The password the site config points to: the variable `password_env` names (it must be set), or `password_file`. */
const passwordInFile = (site: Option.Option<SiteConfig.Loaded>): Layered<Password> =>
  Option.match(
    inFile(site, ["kafka", "sasl", "password_env"], (f) => f.kafka?.sasl?.password_env),
    {
      onSome: ({ value: variable, origin }) =>
        Config.option(Config.Redacted(variable)).pipe(
          Config.mapEffect((given) =>
            Option.match(given, {
              onSome: (value) =>
                Effect.succeed(
                  Option.some<Sourced<Password>>({
                    value: { _tag: "Given", value },
                    origin: origin._tag === "File" ? { ...origin, via: variable } : origin
                  })
                ),
              onNone: () =>
                invalid(
                  `${Origin.describe(origin)}: kafka.sasl.password_env names ${variable}, which is not set`
                )
            })
          )
        ),
      onNone: () =>
        Config.succeed(
          Option.map(
            inFile(site, ["kafka", "sasl", "password_file"], (f) => f.kafka?.sasl?.password_file),
            ({ value, origin }): Sourced<Password> => ({
              value: { _tag: "File", path: besideFile(site, value) },
              origin
            })
          )
        )
    }
  )

/**
 * The password: `$SPARK_ETL_KAFKA_PASSWORD`, else `$SPARK_ETL_KAFKA_PASSWORD_FILE`, else what the
 * site config points to. Never a flag (a flag's value shows in `ps`), never the file's own text.
 */
const password = (site: Option.Option<SiteConfig.Loaded>): Layered<Password> =>
  firstOf<Password>(
    layered({
      variable: variables.kafkaPassword,
      env: (name) => Config.Redacted(name).pipe(Config.map((value): Password => ({ _tag: "Given", value }))),
      file: Option.none()
    }),
    layered({
      variable: variables.kafkaPasswordFile,
      env: (name) =>
        Config.String(name).pipe(Config.map((p): Password => ({ _tag: "File", path: path.resolve(p) }))),
      file: Option.none()
    }),
    passwordInFile(site)
  )

/** Combines flags, environment, site config and defaults; `.parse(provider)` reads another environment. */
export const resolve = (
  flags: Flags,
  site: Option.Option<SiteConfig.Loaded> = Option.none()
): Config.Config<Resolved> => {
  const file = <A>(at: ReadonlyArray<string>, pick: (f: SiteConfig.File) => A | undefined) =>
    inFile(site, at, pick)
  const filePath = (at: ReadonlyArray<string>, pick: (f: SiteConfig.File) => string | undefined) =>
    Option.map(file(at, pick), (s) => ({ ...s, value: besideFile(site, s.value) }))
  const absolute = (name: string) => Config.String(name).pipe(Config.map((p) => path.resolve(p)))
  return Config.all({
    remote: layered({
      flag: { name: "--remote", value: flags.remote },
      variable: variables.remote,
      env: Config.String,
      file: file(["spark", "remote"], (f) => f.spark?.remote)
    }),
    sparkTimeout: layered({
      flag: { name: "--spark-timeout", value: flags.sparkTimeout ?? Option.none() },
      variable: variables.sparkTimeout,
      env: Config.Int,
      file: file(["spark", "timeout_seconds"], (f) => f.spark?.timeout_seconds)
    }),
    localSparkVersion: layered({
      flag: { name: "--local-spark-version", value: flags.localSparkVersion ?? Option.none() },
      variable: variables.localSparkVersion,
      env: Config.String,
      file: file(["spark", "local_version"], (f) => f.spark?.local_version)
    }),
    stateDir: layered({
      flag: { name: "--state-dir", value: flags.stateDir },
      variable: variables.stateDir,
      env: Config.String,
      file: filePath(["state_dir"], (f) => f.state_dir)
    }),
    logDir: layered({
      flag: { name: "--log-dir", value: flags.logDir },
      variable: variables.logDir,
      env: Config.String,
      file: filePath(["log_dir"], (f) => f.log_dir)
    }),
    pluginPath: layered<ReadonlyArray<string>>({
      variable: variables.pluginPath,
      env: (name) => Config.String(name).pipe(Config.map(list(path.delimiter))),
      file: Option.map(
        file(["plugin_path"], (f) => f.plugin_path),
        (s) => ({
          ...s,
          value: s.value.map((dir) => besideFile(site, dir))
        })
      )
    }),
    kafkaBrokers: layered<ReadonlyArray<string>>({
      flag: { name: "--kafka-brokers", value: Option.map(flags.kafkaBrokers, list(",")) },
      variable: variables.kafkaBrokers,
      env: (name) => Config.String(name).pipe(Config.map(list(","))),
      file: file(["kafka", "brokers"], (f) => f.kafka?.brokers)
    }),
    kafkaTopic: layered({
      flag: { name: "--kafka-topic", value: flags.kafkaTopic },
      variable: variables.kafkaTopic,
      env: Config.String,
      file: file(["kafka", "topic"], (f) => f.kafka?.topic)
    }),
    kafkaTls: layered({
      variable: variables.kafkaTls,
      env: Config.Boolean,
      file: file(["kafka", "tls", "enabled"], (f) => f.kafka?.tls?.enabled)
    }),
    kafkaCaFile: layered({
      variable: variables.kafkaCaFile,
      env: absolute,
      file: filePath(["kafka", "tls", "ca_file"], (f) => f.kafka?.tls?.ca_file)
    }),
    kafkaCertFile: layered({
      variable: variables.kafkaCertFile,
      env: absolute,
      file: filePath(["kafka", "tls", "cert_file"], (f) => f.kafka?.tls?.cert_file)
    }),
    kafkaKeyFile: layered({
      variable: variables.kafkaKeyFile,
      env: absolute,
      file: filePath(["kafka", "tls", "key_file"], (f) => f.kafka?.tls?.key_file)
    }),
    kafkaServername: layered({
      variable: variables.kafkaServername,
      env: Config.String,
      file: file(["kafka", "tls", "servername"], (f) => f.kafka?.tls?.servername)
    }),
    kafkaSaslMechanism: layered({
      variable: variables.kafkaSaslMechanism,
      env: (name) => Config.Literals(SiteConfig.saslMechanisms, name),
      file: file(["kafka", "sasl", "mechanism"], (f) => f.kafka?.sasl?.mechanism)
    }),
    kafkaUsername: layered({
      variable: variables.kafkaUsername,
      env: Config.String,
      file: file(["kafka", "sasl", "username"], (f) => f.kafka?.sasl?.username)
    }),
    kafkaPassword: password(site)
  }).pipe(Config.mapEffect((given) => assemble(given, site)))
}

type Given = {
  readonly [K in Exclude<Setting, "siteConfig">]: Option.Option<Sourced<SettingValue<K>>>
}
type SettingValue<K extends Exclude<Setting, "siteConfig">> = K extends "sparkTimeout"
  ? number
  : K extends "pluginPath" | "kafkaBrokers"
    ? ReadonlyArray<string>
    : K extends "kafkaTls"
      ? boolean
      : K extends "kafkaSaslMechanism"
        ? SiteConfig.SaslMechanism
        : K extends "kafkaPassword"
          ? Password
          : string

/** The settings from what was given, with the defaults and the origin of each. */
const assemble = (given: Given, site: Option.Option<SiteConfig.Loaded>) => {
  const timeout = Option.getOrElse(given.sparkTimeout, () => ({
    value: defaultSparkTimeoutSeconds,
    origin: Origin.byDefault()
  }))
  if (!Number.isInteger(timeout.value) || timeout.value < 1)
    return invalid(
      `${Origin.describe(timeout.origin)}: the Spark timeout must be a whole number of seconds, at least 1`
    )
  // The site config's value was checked by its Schema (at its line); the flag's and the
  // variable's are checked here, before a run fetches jars for a version that cannot exist.
  const localSparkVersion = Option.getOrElse(given.localSparkVersion, () => ({
    value: defaultLocalSparkVersion,
    origin: Origin.byDefault()
  }))
  if (!SiteConfig.isSparkVersion(localSparkVersion.value))
    return invalid(
      `${Origin.describe(localSparkVersion.origin)}: "${localSparkVersion.value}" is not a Spark version: ${SiteConfig.sparkVersionExpected}`
    )
  const value = <A>(s: Option.Option<Sourced<A>>): A | undefined =>
    Option.getOrUndefined(Option.map(s, (x) => x.value))
  const stateDir = path.resolve(value(given.stateDir) ?? path.join(os.homedir(), ".spark-etl"))
  const tlsFiles = {
    ...optional("caFile", value(given.kafkaCaFile)),
    ...optional("certFile", value(given.kafkaCertFile)),
    ...optional("keyFile", value(given.kafkaKeyFile)),
    ...optional("servername", value(given.kafkaServername))
  }
  const tlsOn = value(given.kafkaTls) ?? Object.keys(tlsFiles).length > 0
  const sasl: Sasl = {
    ...optional("mechanism", value(given.kafkaSaslMechanism)),
    ...optional("username", value(given.kafkaUsername)),
    ...optional("password", value(given.kafkaPassword))
  }
  const originOf = <A>(s: Option.Option<Sourced<A>>, fallback = Origin.byDefault()) =>
    Option.match(s, { onNone: () => fallback, onSome: (x) => x.origin })
  const origins: Record<Setting, Origin.Origin> = {
    siteConfig: Option.match(site, { onNone: () => Origin.byDefault("none"), onSome: (s) => s.origin }),
    remote: originOf(given.remote),
    sparkTimeout: timeout.origin,
    localSparkVersion: localSparkVersion.origin,
    stateDir: originOf(given.stateDir),
    logDir: originOf(given.logDir, Origin.byDefault("<state dir>/logs")),
    pluginPath: originOf(given.pluginPath),
    kafkaBrokers: originOf(given.kafkaBrokers),
    kafkaTopic: originOf(given.kafkaTopic),
    kafkaTls: originOf(
      given.kafkaTls,
      Origin.byDefault(tlsOn ? "on: a TLS file or server name is given" : undefined)
    ),
    kafkaCaFile: originOf(given.kafkaCaFile),
    kafkaCertFile: originOf(given.kafkaCertFile),
    kafkaKeyFile: originOf(given.kafkaKeyFile),
    kafkaServername: originOf(given.kafkaServername),
    kafkaSaslMechanism: originOf(given.kafkaSaslMechanism),
    kafkaUsername: originOf(given.kafkaUsername),
    kafkaPassword: originOf(given.kafkaPassword)
  }
  return Effect.succeed<Resolved>({
    remote: value(given.remote) ?? "local",
    stateDir,
    ledgerDir: path.join(stateDir, "ledger"),
    logDir: path.resolve(value(given.logDir) ?? path.join(stateDir, "logs")),
    outboxFile: path.join(stateDir, "outbox.jsonl"),
    kafka: Option.map(given.kafkaBrokers, (brokers) => ({
      brokers: brokers.value,
      topic: value(given.kafkaTopic) ?? defaultTopic,
      ...(tlsOn ? { tls: tlsFiles } : {}),
      ...(Object.keys(sasl).length > 0 ? { sasl } : {})
    })),
    pluginPath: value(given.pluginPath) ?? [],
    sparkTimeout: Duration.seconds(timeout.value),
    localSparkVersion: localSparkVersion.value,
    siteConfig: Option.map(site, (s) => s.file),
    origins
  })
}

/** `{ [key]: value }` when the value is there, else nothing (for optional fields). */
const optional = <K extends string, A>(key: K, value: A | undefined): { readonly [P in K]?: A } =>
  (value === undefined ? {} : { [key]: value }) as { readonly [P in K]?: A }
