/**
 * Where integration tests find Spark Connect, Kafka and PostgreSQL, in order: SPARK_REMOTE /
 * KAFKA_BROKERS / PG_HOST (with PG_PORT, PG_USER, PG_PASSWORD, PG_DATABASE) when set; else Spark
 * and Kafka start as containers or as local processes, as SPARK_ETL_TEST_INFRA says
 * (containers | processes | auto, the default: containers when a Docker engine answers a ping);
 * an explicit `containers` never falls back. Containers run our own images (Images: built here,
 * cached by content) on the host's network, bound to 127.0.0.1, so they reach PostgreSQL as a
 * local Spark does. PostgreSQL is always a local process (Debian's package). The secured Kafka
 * (SASL_SSL, SCRAM-SHA-512) comes from KAFKA_SECURE_BROKERS (with KAFKA_SECURE_CA_FILE, _USER,
 * _PASSWORD_FILE, _MTLS_BROKERS, _CERT_FILE and _KEY_FILE), else is always a local process: its
 * certificates and users are made by the harness. HDFS comes from HDFS_URI, else is a local
 * process (Hadoop's mini cluster). Whatever is started lives in the caller's scope. No endpoint
 * at all is an error, never a skip. Spark's version is a parameter (default
 * LocalServer.defaultSparkVersion): the local server's jars and the image's tag; a server named
 * by SPARK_REMOTE is asked its version.
 */
import * as Config from "effect/Config"
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as Result from "effect/Result"
import * as Scope from "effect/Scope"
import type * as ChildProcessSpawner from "effect/process/ChildProcessSpawner"
import * as ConnectionString from "@spark-etl/runner-spark-connect/ConnectionString"
import { LocalServer } from "@spark-etl/runner-spark-connect/local"
import * as path from "node:path"
import * as Containers from "./Containers.js"
import * as Docker from "./Docker.js"
import * as Images from "./Images.js"
import * as KafkaSecurity from "./KafkaSecurity.js"
import * as LocalHdfs from "./LocalHdfs.js"
import * as LocalKafka from "./LocalKafka.js"
import * as LocalPostgres from "./LocalPostgres.js"

export class NoEndpoint extends Data.TaggedError("NoEndpoint")<{ readonly message: string }> {}

export interface Endpoints {
  readonly sparkRemote: string
  readonly kafkaBrokers: string
  /** Present when needed. */
  readonly postgres: LocalPostgres.PostgresEndpoint | undefined
  /** The broker that requires SASL_SSL with SCRAM-SHA-512; present when needed. */
  readonly kafkaSecure: KafkaSecurity.SecureEndpoint | undefined
  /** HDFS's URI (`hdfs://127.0.0.1:<port>`); present when needed. */
  readonly hdfsUri: string | undefined
  /**
   * Spark's version, e.g. `3.5.7`; present when spark is needed: as the server reports it, else
   * (a server that does not answer the probe, e.g. one requiring a token) the one requested.
   */
  readonly sparkVersion: string | undefined
  /** How each endpoint was obtained, for the test log. */
  readonly origin: { readonly [N in Need]: Origin }
  /** Whether Spark and Kafka were to start as containers or processes, and why, for the test log. */
  readonly infra: { readonly path: "containers" | "processes"; readonly reason: string }
}

export type Origin = "environment" | "container" | "local-process"

export type Need = "spark" | "kafka" | "postgres" | "kafka-secure" | "hdfs"

/**
 * Whether `version` looks like a Spark release (`3.5.7`): it ends up in Maven coordinates, a
 * folder name and an image tag, so nothing but three numbers.
 */
export const isSparkVersion = (version: string): boolean => /^\d+\.\d+\.\d+$/.test(version)

/** The line that says whether Spark and Kafka were to be containers or processes, and why. */
export const describePath = (endpoints: Endpoints): string =>
  `Spark and Kafka as ${endpoints.infra.path}: ${endpoints.infra.reason}`

/** One line per endpoint for the run's log, by need. */
export const describe = (endpoints: Endpoints): { readonly [N in Need]: string } => ({
  spark: `spark=${endpoints.sparkRemote} (${endpoints.origin.spark}${endpoints.sparkVersion ? `, Spark ${endpoints.sparkVersion}` : ""})`,
  kafka: `kafka=${endpoints.kafkaBrokers} (${endpoints.origin.kafka})`,
  postgres: `postgres=${endpoints.postgres?.url ?? ""} (${endpoints.origin.postgres})`,
  "kafka-secure": `kafka-secure=${endpoints.kafkaSecure?.brokers ?? ""} (${endpoints.origin["kafka-secure"]})`,
  hdfs: `hdfs=${endpoints.hdfsUri ?? ""} (${endpoints.origin.hdfs})`
})

/** The version a Spark Connect server reports, or undefined when it does not answer in 3 s. */
const reportedSparkVersion = (remote: string): Effect.Effect<string | undefined> => {
  const parsed = ConnectionString.parse(remote, { allowTokenOverLoopbackPlaintext: true })
  if (Result.isFailure(parsed) || parsed.success._tag !== "Endpoint") return Effect.succeed(undefined)
  return LocalServer.probe(ConnectionString.address(parsed.success), 3000).pipe(
    Effect.map((v): string | undefined => v),
    Effect.catch(() => Effect.succeed(undefined))
  )
}

/** Where Spark and Kafka run when the environment names none: `SPARK_ETL_TEST_INFRA`. */
export type InfraMode = "containers" | "processes" | "auto"

const infraMode = Config.Literals(["containers", "processes", "auto"] as const, "SPARK_ETL_TEST_INFRA").pipe(
  Config.withDefault("auto" as const)
)

/**
 * containers or processes, and why: an explicit mode is obeyed (containers never fall back: no
 * engine is an error); auto takes containers when an engine answers a ping, else processes.
 */
export const choosePath = Effect.gen(function* () {
  const mode = yield* infraMode.pipe(
    Effect.catch(() =>
      Config.String("SPARK_ETL_TEST_INFRA").pipe(
        Effect.orElseSucceed(() => ""),
        Effect.flatMap(
          (raw) =>
            new NoEndpoint({
              message: `SPARK_ETL_TEST_INFRA=${JSON.stringify(raw)}: expected containers, processes or auto`
            })
        )
      )
    )
  )
  if (mode === "processes") return { path: "processes" as const, reason: "SPARK_ETL_TEST_INFRA=processes" }
  const engine = yield* Effect.result(Docker.ping())
  if (Result.isSuccess(engine))
    return {
      path: "containers" as const,
      reason: `${mode === "auto" ? "SPARK_ETL_TEST_INFRA=auto and " : "SPARK_ETL_TEST_INFRA=containers; "}a Docker engine answers at ${Docker.host()} (${engine.success})`
    }
  if (mode === "containers")
    return yield* new NoEndpoint({
      message: `SPARK_ETL_TEST_INFRA=containers, but ${engine.failure.message} (containers never fall back to processes)`
    })
  return { path: "processes" as const, reason: `SPARK_ETL_TEST_INFRA=auto and ${engine.failure.message}` }
})

const fromContainers = (needs: ReadonlyArray<Need>, sparkVersion: string, workDir: string) =>
  Effect.gen(function* () {
    const built = yield* Images.buildAll({ sparkVersion }).pipe(
      Effect.mapError((e) => new NoEndpoint({ message: `containers: ${e.message}` }))
    )
    for (const image of built.filter((b) => b.built))
      console.info(`[infra] built ${image.image} in ${image.seconds.toFixed(1)} s`)
    const run = yield* Containers.run
    const spark = needs.includes("spark")
      ? (yield* Containers.startSpark({ run, sparkVersion, dataDir: path.join(workDir, "spark") })).remote
      : ""
    const kafka = needs.includes("kafka")
      ? (yield* Containers.startKafka({ run, dataDir: path.join(workDir, "kafka") })).brokers
      : ""
    return { spark, kafka }
  }).pipe(
    Effect.mapError((e) =>
      e instanceof NoEndpoint ? e : new NoEndpoint({ message: `containers: ${e.message}` })
    )
  )

/**
 * Resolves the endpoints a test run needs, starting what is missing inside the scope.
 *
 * @example
 * const { sparkRemote } = yield* Endpoints.resolve({ needs: ["spark"], workDir: ".spark-etl/test" })
 * // another version: Endpoints.resolve({ needs: ["spark"], workDir, sparkVersion: "3.5.7" })
 */
export const resolve = (options: {
  readonly needs: ReadonlyArray<Need>
  readonly workDir: string
  readonly sparkVersion?: string
}): Effect.Effect<Endpoints, NoEndpoint, Scope.Scope | ChildProcessSpawner.ChildProcessSpawner> =>
  Effect.gen(function* () {
    if (options.sparkVersion !== undefined && !isSparkVersion(options.sparkVersion))
      return yield* new NoEndpoint({
        message: `not a Spark version: ${JSON.stringify(options.sparkVersion)} (digits.digits.digits, e.g. 3.5.7)`
      })
    const sparkVersion = options.sparkVersion ?? LocalServer.defaultSparkVersion
    let sparkRemote = process.env["SPARK_REMOTE"] ?? ""
    let kafkaBrokers = process.env["KAFKA_BROKERS"] ?? ""
    const pgFromEnv = LocalPostgres.fromEnv(process.env)
    if (pgFromEnv instanceof LocalPostgres.LocalPostgresError)
      return yield* new NoEndpoint({ message: pgFromEnv.message })
    let postgres = options.needs.includes("postgres") ? pgFromEnv : undefined
    const secureFromEnv = KafkaSecurity.fromEnv(process.env)
    if (secureFromEnv instanceof KafkaSecurity.KafkaSecurityError)
      return yield* new NoEndpoint({ message: secureFromEnv.message })
    let kafkaSecure = options.needs.includes("kafka-secure") ? secureFromEnv : undefined
    const origin = {
      spark: (sparkRemote ? "environment" : "local-process") as Origin,
      kafka: (kafkaBrokers ? "environment" : "local-process") as Origin,
      postgres: (pgFromEnv ? "environment" : "local-process") as Origin,
      "kafka-secure": (secureFromEnv ? "environment" : "local-process") as Origin,
      hdfs: (process.env["HDFS_URI"] ? "environment" : "local-process") as Origin
    }
    const missing = options.needs.filter(
      (n) => (n === "spark" && !sparkRemote) || (n === "kafka" && !kafkaBrokers)
    )
    let startedVersion: string | undefined
    // Chosen even when the environment names every server: tests that start servers of their
    // own (fault tests) start them on the same path.
    const infra =
      options.needs.includes("spark") || options.needs.includes("kafka")
        ? yield* choosePath
        : { path: "processes" as const, reason: "neither Spark nor Kafka is needed" }
    if (missing.length > 0 && infra.path === "containers") {
      const started = yield* fromContainers(missing, sparkVersion, options.workDir)
      if (started.spark)
        [sparkRemote, origin.spark, startedVersion] = [started.spark, "container", sparkVersion]
      if (started.kafka) [kafkaBrokers, origin.kafka] = [started.kafka, "container"]
    }
    if (options.needs.includes("spark") && !sparkRemote) {
      const server = yield* LocalServer.start({
        dataDir: path.join(options.workDir, "spark"),
        sparkVersion,
        master: "local[2]",
        ui: true
      }).pipe(
        Effect.mapError(
          (e) => new NoEndpoint({ message: `no Spark Connect endpoint: ${e.message}\n${e.logTail ?? ""}` })
        )
      )
      sparkRemote = server.remote
      startedVersion = server.sparkVersion
    }
    if (options.needs.includes("kafka") && !kafkaBrokers) {
      const kafka = yield* LocalKafka.start({ dataDir: path.join(options.workDir, "kafka") }).pipe(
        Effect.mapError((e) => new NoEndpoint({ message: `no Kafka endpoint: ${e.message}` }))
      )
      kafkaBrokers = kafka.brokers
    }
    if (options.needs.includes("postgres") && !postgres) {
      const started = yield* LocalPostgres.start({ dataDir: path.join(options.workDir, "postgres") }).pipe(
        Effect.mapError((e) => new NoEndpoint({ message: `no PostgreSQL endpoint: ${e.message}` }))
      )
      postgres = started.endpoint
    }
    if (options.needs.includes("kafka-secure") && !kafkaSecure) {
      const started = yield* LocalKafka.start({
        dataDir: path.join(options.workDir, "kafka-secure"),
        security: "sasl_ssl"
      }).pipe(Effect.mapError((e) => new NoEndpoint({ message: `no secured Kafka endpoint: ${e.message}` })))
      kafkaSecure = started.secure
    }
    let hdfsUri = options.needs.includes("hdfs") ? process.env["HDFS_URI"] || undefined : undefined
    if (options.needs.includes("hdfs") && !hdfsUri) {
      const started = yield* LocalHdfs.start({ dataDir: path.join(options.workDir, "hdfs") }).pipe(
        Effect.mapError((e) => new NoEndpoint({ message: `no HDFS endpoint: ${e.message}` }))
      )
      hdfsUri = started.uri
    }
    // A server started here, process or container of that version's image, runs the version
    // asked for; SPARK_REMOTE's server may run anything, so it is asked.
    const foundVersion = !options.needs.includes("spark")
      ? undefined
      : (startedVersion ?? (yield* reportedSparkVersion(sparkRemote)) ?? sparkVersion)
    return {
      sparkRemote,
      kafkaBrokers,
      postgres,
      kafkaSecure,
      hdfsUri,
      sparkVersion: foundVersion,
      origin,
      infra
    }
  })
