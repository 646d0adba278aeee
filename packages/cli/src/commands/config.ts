/**
 * `spark-etl config`: the settings a command would use here, one per line, each with where it
 * came from (flag, environment variable, site config line, default). Secrets show as `***`.
 */
import * as Console from "effect/Console"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Result from "effect/Result"
import * as Command from "effect/cli/Command"
import { ExitCode } from "@spark-etl/core"
import * as ConnectionString from "@spark-etl/runner-spark-connect/ConnectionString"
import * as ExitStatus from "../ExitStatus.js"
import * as Origin from "../Origin.js"
import type * as Settings from "../Settings.js"
import {
  kafkaBrokers,
  kafkaTopic,
  localSparkVersion,
  logDir,
  remote,
  siteConfig,
  sparkTimeout,
  stateDir
} from "./flags.js"
import { rejected, settingsOf, usage } from "./shared.js"

const secret = "***"
const none = "(none)"

/** A Spark Connect string without its token's value. */
const withoutToken = (remote: string): string => remote.replace(/(;token=)[^;]*/gi, `$1${secret}`)

/**
 * The embedded server's version, said to be unused when the remote is not local: a reader must
 * not take it for the version of the sc:// server the runs go to.
 */
const localVersionShown = (s: Settings.Resolved): string => {
  const remote = ConnectionString.parse(s.remote)
  return Result.isSuccess(remote) && remote.success._tag === "Local"
    ? s.localSparkVersion
    : `${s.localSparkVersion} (unused: spark.remote is not local)`
}

const passwordShown = (password: Settings.Password | undefined): string =>
  password === undefined ? none : password._tag === "File" ? `${secret} (read from ${password.path})` : secret

/** Each setting as it is named in the site config, its value as shown, and the setting it is. */
const shown = (s: Settings.Resolved): ReadonlyArray<readonly [string, string, Settings.Setting]> => {
  const kafka = Option.getOrUndefined(s.kafka)
  const tls = kafka?.tls
  const sasl = kafka?.sasl
  const orNone = (value: string | undefined) => value ?? none
  return [
    ["config", Option.getOrElse(s.siteConfig, () => none), "siteConfig"],
    ["spark.remote", withoutToken(s.remote), "remote"],
    ["spark.timeout_seconds", String(Duration.toSeconds(s.sparkTimeout)), "sparkTimeout"],
    ["spark.local_version", localVersionShown(s), "localSparkVersion"],
    ["state_dir", s.stateDir, "stateDir"],
    ["log_dir", s.logDir, "logDir"],
    ["plugin_path", s.pluginPath.length === 0 ? none : s.pluginPath.join(":"), "pluginPath"],
    [
      "kafka.brokers",
      kafka === undefined ? `${none}: events go to the log` : kafka.brokers.join(","),
      "kafkaBrokers"
    ],
    ["kafka.topic", kafka?.topic ?? none, "kafkaTopic"],
    ["kafka.tls.enabled", String(tls !== undefined), "kafkaTls"],
    ["kafka.tls.ca_file", orNone(tls?.caFile), "kafkaCaFile"],
    ["kafka.tls.cert_file", orNone(tls?.certFile), "kafkaCertFile"],
    ["kafka.tls.key_file", orNone(tls?.keyFile), "kafkaKeyFile"],
    ["kafka.tls.servername", orNone(tls?.servername), "kafkaServername"],
    ["kafka.sasl.mechanism", orNone(sasl?.mechanism), "kafkaSaslMechanism"],
    ["kafka.sasl.username", orNone(sasl?.username), "kafkaUsername"],
    ["kafka.sasl.password", passwordShown(sasl?.password), "kafkaPassword"]
  ]
}

/** The lines `spark-etl config` prints: name, value, origin, in aligned columns. */
const lines = (settings: Settings.Resolved): ReadonlyArray<string> => {
  const rows = shown(settings)
  const nameWidth = Math.max(...rows.map(([name]) => name.length))
  const valueWidth = Math.max(...rows.map(([, value]) => value.length))
  return rows.map(
    ([name, value, setting]) =>
      `${name.padEnd(nameWidth)}  ${value.padEnd(valueWidth)}  ${Origin.describe(settings.origins[setting])}`
  )
}

const config = {
  siteConfig,
  remote,
  stateDir,
  logDir,
  kafkaBrokers,
  kafkaTopic,
  sparkTimeout,
  localSparkVersion
}

/** Exit 0 with the settings; 3 for a site config that cannot be used; 64 for a variable that cannot. */
export const handler = (flags: Command.Command.Config.Infer<typeof config>): Effect.Effect<ExitCode> =>
  settingsOf(flags).pipe(
    Effect.flatMap((settings) => Effect.as(Console.log(lines(settings).join("\n")), ExitCode.Success)),
    Effect.catchTag("ConfigRejected", rejected),
    Effect.catchTag("ConfigError", usage)
  )

export const command = Command.make("config", config, ExitStatus.recorded(handler)).pipe(
  Command.withDescription(
    "show the settings in effect (flags, environment, site config, defaults), each with where it came from; secrets as ***"
  )
)
