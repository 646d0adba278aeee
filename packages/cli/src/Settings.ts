/**
 * Where a run keeps its state and how it escalates. A flag wins over its environment variable
 * (read through Effect's Config from the current ConfigProvider: the process environment, or a
 * test's), which wins over the default. An empty variable counts as unset.
 */
import { Config, Option } from "effect"
import * as os from "node:os"
import * as path from "node:path"

/** The environment variables spark-etl reads, by the setting they give. */
export const variables = {
  remote: "SPARK_REMOTE",
  stateDir: "SPARK_ETL_STATE_DIR",
  logDir: "SPARK_ETL_LOG_DIR",
  kafkaBrokers: "KAFKA_BROKERS",
  kafkaTopic: "SPARK_ETL_KAFKA_TOPIC",
  pluginPath: "SPARK_ETL_PLUGIN_PATH"
} as const

export const defaultTopic = "spark-etl.events"

export interface Resolved {
  readonly remote: string
  readonly stateDir: string
  readonly ledgerDir: string
  readonly logDir: string
  readonly outboxFile: string
  readonly kafka: Option.Option<{ readonly brokers: ReadonlyArray<string>; readonly topic: string }>
  /** Folders where plugin packages are looked for after the batch file's own (`:`-separated). */
  readonly pluginPath: ReadonlyArray<string>
}

/** Flag values as parsed (absent = not given). */
export interface Flags {
  readonly remote: Option.Option<string>
  readonly stateDir: Option.Option<string>
  readonly logDir: Option.Option<string>
  readonly kafkaBrokers: Option.Option<string>
  readonly kafkaTopic: Option.Option<string>
}

/** The flag when given; else its variable, read only then (a flag makes the variable moot). */
const flagOrEnv = (flags: Flags, key: keyof Flags): Config.Config<Option.Option<string>> =>
  Option.isSome(flags[key]) ? Config.succeed(flags[key]) : Config.option(Config.String(variables[key]))

/** Combines flags, environment and defaults; `.parse(provider)` reads another environment. */
export const resolve = (flags: Flags): Config.Config<Resolved> =>
  Config.all({
    remote: flagOrEnv(flags, "remote"),
    stateDir: flagOrEnv(flags, "stateDir"),
    logDir: flagOrEnv(flags, "logDir"),
    brokers: flagOrEnv(flags, "kafkaBrokers"),
    topic: flagOrEnv(flags, "kafkaTopic"),
    pluginPath: Config.option(Config.String(variables.pluginPath))
  }).pipe(
    Config.map((given): Resolved => {
      const stateDir = path.resolve(
        Option.getOrElse(given.stateDir, () => path.join(os.homedir(), ".spark-etl"))
      )
      return {
        remote: Option.getOrElse(given.remote, () => "local"),
        stateDir,
        ledgerDir: path.join(stateDir, "ledger"),
        logDir: path.resolve(Option.getOrElse(given.logDir, () => path.join(stateDir, "logs"))),
        outboxFile: path.join(stateDir, "outbox.jsonl"),
        kafka: Option.map(given.brokers, (brokers) => ({
          brokers: brokers
            .split(",")
            .map((b) => b.trim())
            .filter((b) => b.length > 0),
          topic: Option.getOrElse(given.topic, () => defaultTopic)
        })),
        pluginPath: Option.match(given.pluginPath, {
          onNone: () => [],
          onSome: (dirs) => dirs.split(path.delimiter).filter((d) => d.trim() !== "")
        })
      }
    })
  )
