/**
 * Where integration tests find Spark Connect, Kafka and PostgreSQL, in order: SPARK_REMOTE /
 * KAFKA_BROKERS / PG_HOST (with PG_PORT, PG_USER, PG_PASSWORD, PG_DATABASE) when set; else
 * containers for Spark and Kafka when a Docker engine answers; else local processes. PostgreSQL
 * is always a local process (Debian's package), and a run that needs it takes a local Spark too:
 * a containerised Spark would neither reach 127.0.0.1 here nor have the JDBC driver. The secured
 * Kafka (SASL_SSL, SCRAM-SHA-512) comes from KAFKA_SECURE_BROKERS (with KAFKA_SECURE_CA_FILE,
 * KAFKA_SECURE_USER, KAFKA_SECURE_PASSWORD_FILE), else is always a local process: its
 * certificates and users are made by the harness. HDFS comes from HDFS_URI, else is a local
 * process (Hadoop's mini cluster). Whatever is
 * started lives in the caller's scope. No endpoint at all is an error, never a skip.
 * Spark's version is a parameter (default LocalServer.defaultSparkVersion): the local server's
 * jars and the container's image tag; a server named by SPARK_REMOTE is asked its version.
 */
import { Data, Effect, Result, Scope } from "effect"
import type { ChildProcessSpawner } from "effect/process"
import { ConnectionString } from "@spark-etl/runner-spark-connect"
import { LocalServer } from "@spark-etl/runner-spark-connect/local"
import * as fs from "node:fs"
import * as path from "node:path"
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
}

export type Origin = "environment" | "container" | "local-process"

export type Need = "spark" | "kafka" | "postgres" | "kafka-secure" | "hdfs"

/**
 * Whether `version` looks like a Spark release (`3.5.7`): it ends up in Maven coordinates, a
 * folder name and an image tag, so nothing but three numbers.
 */
export const isSparkVersion = (version: string): boolean => /^\d+\.\d+\.\d+$/.test(version)

/** One line per endpoint for the run's log, by need. */
export const describe = (endpoints: Endpoints): { readonly [N in Need]: string } => ({
  spark: `spark=${endpoints.sparkRemote} (${endpoints.origin.spark}${endpoints.sparkVersion ? `, Spark ${endpoints.sparkVersion}` : ""})`,
  kafka: `kafka=${endpoints.kafkaBrokers} (${endpoints.origin.kafka})`,
  postgres: `postgres=${endpoints.postgres?.url ?? ""} (${endpoints.origin.postgres})`,
  "kafka-secure": `kafka-secure=${endpoints.kafkaSecure?.brokers ?? ""} (${endpoints.origin["kafka-secure"]})`,
  hdfs: `hdfs=${endpoints.hdfsUri ?? ""} (${endpoints.origin.hdfs})`
})

const dockerAnswers = (): boolean =>
  process.env["DOCKER_HOST"] !== undefined || fs.existsSync("/var/run/docker.sock")

/** The version a Spark Connect server reports, or undefined when it does not answer in 3 s. */
const reportedSparkVersion = (remote: string): Effect.Effect<string | undefined> => {
  const parsed = ConnectionString.parse(remote, { allowTokenOverLoopbackPlaintext: true })
  if (Result.isFailure(parsed) || parsed.success._tag !== "Endpoint") return Effect.succeed(undefined)
  return LocalServer.probe(ConnectionString.address(parsed.success), 3000).pipe(
    Effect.map((v): string | undefined => v),
    Effect.catch(() => Effect.succeed(undefined))
  )
}

// Spark 3.x images have no Connect server among their jars (it came into the distribution with
// 4.0): start-connect-server.sh fetches it, into a cache the image's user can write.
const connectPackages = (sparkVersion: string): ReadonlyArray<string> =>
  Number(sparkVersion.split(".")[0]) < 4
    ? [
        "--packages",
        `org.apache.spark:spark-connect_${LocalServer.scalaBinaryVersion(sparkVersion)}:${sparkVersion}`,
        "--conf",
        "spark.jars.ivy=/tmp/.ivy2"
      ]
    : []

const fromContainers = (needs: ReadonlyArray<Need>, sparkVersion: string) =>
  Effect.gen(function* () {
    const { GenericContainer, Wait } = yield* Effect.promise(() => import("testcontainers"))
    const { KafkaContainer } = yield* Effect.promise(() => import("@testcontainers/kafka"))
    const spark = needs.includes("spark")
      ? yield* Effect.acquireRelease(
          Effect.tryPromise(() =>
            new GenericContainer(process.env["SPARK_IMAGE"] ?? `apache/spark:${sparkVersion}`)
              .withExposedPorts(15002)
              .withEnvironment({ SPARK_NO_DAEMONIZE: "1" })
              .withCommand(["/opt/spark/sbin/start-connect-server.sh", ...connectPackages(sparkVersion)])
              .withWaitStrategy(Wait.forLogMessage(/Spark Connect server started/))
              .start()
          ),
          (c) => Effect.promise(() => c.stop())
        ).pipe(Effect.map((c) => `sc://${c.getHost()}:${c.getMappedPort(15002)}`))
      : ""
    const kafka = needs.includes("kafka")
      ? yield* Effect.acquireRelease(
          Effect.tryPromise(() =>
            new KafkaContainer(process.env["KAFKA_IMAGE"] ?? "confluentinc/cp-kafka:7.9.0").start()
          ),
          (c) => Effect.promise(() => c.stop())
        ).pipe(Effect.map((c) => `${c.getHost()}:${c.getMappedPort(9093)}`))
      : ""
    return { spark, kafka }
  })

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
      (n) =>
        (n === "spark" && !sparkRemote && !options.needs.includes("postgres")) ||
        (n === "kafka" && !kafkaBrokers)
    )
    if (missing.length > 0 && dockerAnswers()) {
      const started = yield* fromContainers(missing, sparkVersion).pipe(
        Effect.mapError(
          (e) =>
            new NoEndpoint({ message: `a Docker engine seemed present but containers failed: ${String(e)}` })
        )
      )
      if (started.spark) [sparkRemote, origin.spark] = [started.spark, "container"]
      if (started.kafka) [kafkaBrokers, origin.kafka] = [started.kafka, "container"]
    }
    let startedVersion: string | undefined
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
    // A server started here runs the version asked for; any other is asked: a container may
    // run SPARK_IMAGE, SPARK_REMOTE's server anything.
    const foundVersion = !options.needs.includes("spark")
      ? undefined
      : (startedVersion ?? (yield* reportedSparkVersion(sparkRemote)) ?? sparkVersion)
    return { sparkRemote, kafkaBrokers, postgres, kafkaSecure, hdfsUri, sparkVersion: foundVersion, origin }
  })
