/**
 * Where a run keeps its state and how it escalates, from flags and the environment, validated
 * with Schema. Flags win over the environment; the environment over defaults.
 */
import { Option, Schema } from "effect"
import * as os from "node:os"
import * as path from "node:path"

/** The process environment variables spark-etl reads. */
export const Env = Schema.Struct({
  SPARK_REMOTE: Schema.optionalKey(Schema.String),
  KAFKA_BROKERS: Schema.optionalKey(Schema.String),
  SPARK_ETL_KAFKA_TOPIC: Schema.optionalKey(Schema.String),
  SPARK_ETL_STATE_DIR: Schema.optionalKey(Schema.String),
  SPARK_ETL_LOG_DIR: Schema.optionalKey(Schema.String)
})
export type Env = typeof Env.Type

/** Reads the variables above (others are ignored). */
export const readEnv = (env: Readonly<Record<string, string | undefined>>): Env =>
  Schema.decodeUnknownSync(Env)(
    Object.fromEntries(Object.entries(env).filter(([k, v]) => v !== undefined && v !== "" && k in Env.fields))
  )

export const defaultTopic = "spark-etl.events"

export interface Resolved {
  readonly remote: string
  readonly stateDir: string
  readonly ledgerDir: string
  readonly logDir: string
  readonly outboxFile: string
  readonly kafka: Option.Option<{ readonly brokers: ReadonlyArray<string>; readonly topic: string }>
}

/** Flag values as parsed (absent = not given). */
export interface Flags {
  readonly remote: Option.Option<string>
  readonly stateDir: Option.Option<string>
  readonly logDir: Option.Option<string>
  readonly kafkaBrokers: Option.Option<string>
  readonly kafkaTopic: Option.Option<string>
}

/** Combines flags, environment and defaults. */
export const resolve = (flags: Flags, env: Env): Resolved => {
  const stateDir = path.resolve(
    Option.getOrElse(flags.stateDir, () => env.SPARK_ETL_STATE_DIR ?? path.join(os.homedir(), ".spark-etl"))
  )
  const brokers = Option.getOrUndefined(flags.kafkaBrokers) ?? env.KAFKA_BROKERS
  const topic = Option.getOrUndefined(flags.kafkaTopic) ?? env.SPARK_ETL_KAFKA_TOPIC ?? defaultTopic
  return {
    remote: Option.getOrElse(flags.remote, () => env.SPARK_REMOTE ?? "local"),
    stateDir,
    ledgerDir: path.join(stateDir, "ledger"),
    logDir: path.resolve(
      Option.getOrElse(flags.logDir, () => env.SPARK_ETL_LOG_DIR ?? path.join(stateDir, "logs"))
    ),
    outboxFile: path.join(stateDir, "outbox.jsonl"),
    kafka:
      brokers === undefined
        ? Option.none()
        : Option.some({
            brokers: brokers
              .split(",")
              .map((b) => b.trim())
              .filter((b) => b.length > 0),
            topic
          })
  }
}
