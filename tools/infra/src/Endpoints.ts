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
 */
import { Data, Effect, Scope } from "effect"
import type { ChildProcessSpawner } from "effect/process"
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
  /** How each endpoint was obtained, for the test log. */
  readonly origin: { readonly [N in Need]: Origin }
}

export type Origin = "environment" | "container" | "local-process"

export type Need = "spark" | "kafka" | "postgres" | "kafka-secure" | "hdfs"

/** One line per endpoint for the run's log, by need. */
export const describe = (endpoints: Endpoints): { readonly [N in Need]: string } => ({
  spark: `spark=${endpoints.sparkRemote} (${endpoints.origin.spark})`,
  kafka: `kafka=${endpoints.kafkaBrokers} (${endpoints.origin.kafka})`,
  postgres: `postgres=${endpoints.postgres?.url ?? ""} (${endpoints.origin.postgres})`,
  "kafka-secure": `kafka-secure=${endpoints.kafkaSecure?.brokers ?? ""} (${endpoints.origin["kafka-secure"]})`,
  hdfs: `hdfs=${endpoints.hdfsUri ?? ""} (${endpoints.origin.hdfs})`
})

const dockerAnswers = (): boolean =>
  process.env["DOCKER_HOST"] !== undefined || fs.existsSync("/var/run/docker.sock")

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
              .withCommand(["/opt/spark/sbin/start-connect-server.sh"])
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
 */
export const resolve = (options: {
  readonly needs: ReadonlyArray<Need>
  readonly workDir: string
  readonly sparkVersion?: string
}): Effect.Effect<Endpoints, NoEndpoint, Scope.Scope | ChildProcessSpawner.ChildProcessSpawner> =>
  Effect.gen(function* () {
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
    return { sparkRemote, kafkaBrokers, postgres, kafkaSecure, hdfsUri, origin }
  })
