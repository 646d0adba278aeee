/**
 * Assembles the services of a run: runners (connecting to Spark on first use), the target
 * store, the event sink (Kafka, or the log when Kafka is not configured) and Node's platform.
 */
import * as NodeServices from "@effect/platform-node/NodeServices"
import * as Context from "effect/Context"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as FileSystem from "effect/FileSystem"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as path from "node:path"
import { Event, Plugin, TargetStore } from "@spark-etl/core"
import * as ReporterConfig from "@spark-etl/kafka-reporter/ReporterConfig"
import * as ReporterError from "@spark-etl/kafka-reporter/ReporterError"
import * as SparkSession from "@spark-etl/runner-spark-connect/SparkSession"
import * as EventLog from "./EventLog.js"
import * as LazyRunner from "./LazyRunner.js"
import * as Origin from "./Origin.js"
import type * as Plugins from "./Plugins.js"
import * as Signals from "./Signals.js"
import * as Settings from "./Settings.js"
import * as ValidationOnly from "./ValidationOnly.js"

export interface Options {
  readonly settings: Settings.Resolved
  /** The plugin packages whose runners the run registers (Plugins.load). */
  readonly plugins: ReadonlyArray<Plugins.Loaded>
  /** Deadline of each Spark RPC and budget of connection retries. */
  readonly sparkTimeout: Duration.Duration
  /**
   * Completed with the engine session when the first rule opens it: the run's own fence asks it
   * which operations its rules interrupted without seeing their end.
   */
  readonly engineSession?: Deferred.Deferred<SparkSession.Session>
}

/**
 * The runner registry: every plugin's runners share one Spark session, opened when the first
 * rule runs (validation never opens it).
 */
const registry = (options: Options): Layer.Layer<Plugin.Registry> =>
  Layer.effect(
    Plugin.Registry,
    Effect.gen(function* () {
      const session = yield* LazyRunner.shared(
        SparkSession.layer({
          remote: options.settings.remote,
          rpcTimeout: options.sparkTimeout,
          retry: { budget: options.sparkTimeout },
          // A silent link (a black hole drops packets, nothing resets) is noticed by an unanswered
          // ping: at most keepalive + keepaliveTimeout after it went silent.
          keepalive: Duration.min(options.sparkTimeout, Duration.seconds(30)),
          keepaliveTimeout: Duration.min(options.sparkTimeout, Duration.seconds(10)),
          // Read only for a local remote (an sc:// server runs its own version). The data dir is
          // the one SparkSession picks when given no local options: where it has always been.
          local: {
            dataDir: path.resolve(".spark-etl", "local"),
            sparkVersion: options.settings.localSparkVersion
          }
        }).pipe(
          Layer.provide(NodeServices.layer),
          Layer.tap((context) =>
            options.engineSession === undefined
              ? Effect.void
              : Deferred.succeed(options.engineSession, Context.get(context, SparkSession.SparkSession))
          )
        ),
        // The version the server itself reports, so the log shows which engine ran the batch.
        (context) => {
          const spark = Context.get(context, SparkSession.SparkSession)
          return `Spark ${spark.sparkVersion} at ${spark.remote}`
        }
      )
      const runners = yield* Effect.forEach(
        options.plugins.flatMap((p) => p.pkg.runners),
        (entry) => entry.use((runner) => LazyRunner.load(runner, session, ValidationOnly.sparkSession))
      )
      return yield* Plugin.makeRegistry(runners)
    })
  )

/** The setting each field of the reporter's configuration comes from, most specific first. */
const settingOfField: ReadonlyArray<readonly [string, Settings.Setting]> = [
  ["brokers", "kafkaBrokers"],
  ["topic", "kafkaTopic"],
  ["tls.caFile", "kafkaCaFile"],
  ["tls.certFile", "kafkaCertFile"],
  ["tls.keyFile", "kafkaKeyFile"],
  ["tls.servername", "kafkaServername"],
  ["tls", "kafkaTls"],
  ["outboxFile", "stateDir"]
]

/** Where the field at `path` was given (`flag --kafka-topic`, `env KAFKA_BROKERS`, `file …:3`). */
const sourceOfField =
  (origins: Settings.Resolved["origins"]) =>
  (path: string): string => {
    const found = settingOfField.find(([field]) => path === field || path.startsWith(`${field}.`))
    return found === undefined ? "the Kafka settings" : Origin.describe(origins[found[1]])
  }

const refused = (source: string, path: string, message: string) =>
  new ReporterError.ConfigError({ source, issues: [{ path, message }], message })

/** The password's text: given, or read from its file (without the final newline). */
const passwordOf = (
  password: Settings.Password,
  origin: Origin.Origin
): Effect.Effect<Redacted.Redacted<string>, ReporterError.ConfigError, FileSystem.FileSystem> => {
  if (password._tag === "Given") return Effect.succeed(password.value)
  const source = Origin.describe(origin)
  return Effect.gen(function* () {
    const fs = yield* FileSystem.FileSystem
    return yield* fs.readFileString(password.path)
  }).pipe(
    Effect.mapError((e) =>
      refused(
        source,
        "sasl.password",
        `cannot read the Kafka password file ${password.path} (${source}): ${e.message}`
      )
    ),
    Effect.map((text) => text.replace(/\r?\n$/, "")),
    Effect.filterOrFail(
      (text) => text !== "",
      () => refused(source, "sasl.password", `the Kafka password file ${password.path} (${source}) is empty`)
    ),
    Effect.map((text) => Redacted.make(text))
  )
}

/** SASL once complete: mechanism, username and password, each missing one named with where to give it. */
const saslOf = (
  sasl: Settings.Sasl,
  origins: Settings.Resolved["origins"]
): Effect.Effect<ReporterConfig.Sasl, ReporterError.ConfigError, FileSystem.FileSystem> => {
  const { mechanism, username, password } = sasl
  if (mechanism === undefined || username === undefined || password === undefined) {
    const missing = [
      ...(mechanism === undefined
        ? [`a mechanism (${Settings.variables.kafkaSaslMechanism} or kafka.sasl.mechanism)`]
        : []),
      ...(username === undefined
        ? [`a username (${Settings.variables.kafkaUsername} or kafka.sasl.username)`]
        : []),
      ...(password === undefined
        ? [
            `a password (${Settings.variables.kafkaPassword}, ${Settings.variables.kafkaPasswordFile}, or kafka.sasl.password_env / password_file)`
          ]
        : [])
    ]
    return Effect.fail(
      refused(
        "Kafka SASL settings",
        "sasl",
        `Kafka SASL needs a mechanism, a username and a password; missing ${missing.join(", ")}`
      )
    )
  }
  return Effect.map(passwordOf(password, origins.kafkaPassword), (secret) => ({
    mechanism,
    username,
    password: secret
  }))
}

/**
 * The Kafka reporter's configuration for these settings, TLS and SASL included; a malformed
 * broker list or topic is refused naming where that value was given, an incomplete SASL naming
 * what is missing. The password stays Redacted: it is never put back into clear text here.
 */
export const reporterConfig = (
  settings: Settings.Resolved,
  kafka: Settings.Kafka
): Effect.Effect<ReporterConfig.ReporterConfig, ReporterError.ConfigError, FileSystem.FileSystem> =>
  Effect.gen(function* () {
    const { tls, sasl } = kafka
    if (tls !== undefined && (tls.certFile === undefined) !== (tls.keyFile === undefined))
      return yield* refused(
        "Kafka TLS settings",
        "tls",
        `Kafka TLS: a client certificate and its key go together: give both ${Settings.variables.kafkaCertFile} / kafka.tls.cert_file and ${Settings.variables.kafkaKeyFile} / kafka.tls.key_file, or neither`
      )
    const config = yield* ReporterConfig.decode(
      {
        brokers: kafka.brokers,
        topic: kafka.topic,
        outboxFile: settings.outboxFile,
        ...(tls !== undefined ? { tls } : {})
      },
      sourceOfField(settings.origins)
    )
    return sasl === undefined ? config : { ...config, sasl: yield* saslOf(sasl, settings.origins) }
  })

/**
 * The sink itself: Kafka when brokers are configured, else the log. The reporter (and kafkajs,
 * some 20 ms of a start) is loaded only when Kafka is.
 */
const eventSinkOf = (
  settings: Settings.Resolved
): Layer.Layer<Event.EventSink, ReporterError.ConfigError, FileSystem.FileSystem> =>
  Option.match(settings.kafka, {
    onNone: () => EventLog.layer,
    onSome: (kafka) =>
      Layer.unwrap(
        Effect.zipWith(
          reporterConfig(settings, kafka),
          Effect.promise(() => import("@spark-etl/kafka-reporter/KafkaReporter")),
          (config, KafkaReporter) => KafkaReporter.layer(config),
          { concurrent: true }
        )
      )
  })

/**
 * After SIGINT/SIGTERM an event has only what is left of the signal's grace period: a publish
 * still running then is interrupted, and the reporter spools the event instead (a frozen broker
 * must not cost the ledger its close).
 */
const withinSignalGrace = Layer.effect(
  Event.EventSink,
  Effect.gen(function* () {
    const sink = yield* Event.EventSink
    const { publishAll } = sink
    const bounded = (effect: Effect.Effect<void>) =>
      Effect.suspend(() => {
        const budget = Signals.publishBudgetMs()
        return budget === undefined ? effect : Effect.ignore(Effect.timeout(effect, budget))
      })
    return {
      publish: (event) => bounded(sink.publish(event)),
      ...(publishAll !== undefined
        ? { publishAll: (events: ReadonlyArray<Event.Event>) => bounded(publishAll(events)) }
        : {}),
      spool: sink.spool,
      flush: bounded(sink.flush),
      // A local count, for the summary: where the events not delivered are.
      ...(sink.undelivered !== undefined ? { undelivered: sink.undelivered } : {})
    }
  })
)

/** Core's EventSink, bounded by the signal grace period. */
export const eventSink = (
  settings: Settings.Resolved
): Layer.Layer<Event.EventSink, ReporterError.ConfigError, FileSystem.FileSystem> =>
  withinSignalGrace.pipe(Layer.provide(eventSinkOf(settings)))

/** Everything `Run.run` and `Batch.load` need. */
export type Services = Plugin.Registry | TargetStore.TargetStore | Event.EventSink | NodeServices.NodeServices

export const app = (options: Options): Layer.Layer<Services, ReporterError.ConfigError> =>
  Layer.mergeAll(registry(options), TargetStore.layerFileSystem, eventSink(options.settings)).pipe(
    Layer.provideMerge(NodeServices.layer)
  )
