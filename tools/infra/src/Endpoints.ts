/**
 * Where integration tests find Spark Connect, Kafka and PostgreSQL, in order: SPARK_REMOTE /
 * KAFKA_BROKERS / PG_HOST (with PG_PORT, PG_USER, PG_PASSWORD, PG_DATABASE) when set; else
 * containers for Spark and Kafka when a Docker engine answers; else local processes. PostgreSQL
 * is always a local process (Debian's package), and a run that needs it takes a local Spark too:
 * a containerised Spark would neither reach 127.0.0.1 here nor have the JDBC driver. Whatever is
 * started lives in the caller's scope. No endpoint at all is an error, never a skip.
 */
import { Data, Effect, Scope } from "effect"
import type { ChildProcessSpawner } from "effect/process"
import { LocalServer } from "@spark-etl/runner-spark-connect/local"
import * as fs from "node:fs"
import * as path from "node:path"
import * as LocalKafka from "./LocalKafka.js"
import * as LocalPostgres from "./LocalPostgres.js"

export class NoEndpoint extends Data.TaggedError("NoEndpoint")<{ readonly message: string }> {}

export interface Endpoints {
  readonly sparkRemote: string
  readonly kafkaBrokers: string
  /** Present when needed. */
  readonly postgres: LocalPostgres.PostgresEndpoint | undefined
  /** How each endpoint was obtained, for the test log. */
  readonly origin: { readonly spark: Origin; readonly kafka: Origin; readonly postgres: Origin }
}

export type Origin = "environment" | "container" | "local-process"

export type Need = "spark" | "kafka" | "postgres"

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
    const origin = {
      spark: (sparkRemote ? "environment" : "local-process") as Origin,
      kafka: (kafkaBrokers ? "environment" : "local-process") as Origin,
      postgres: (pgFromEnv ? "environment" : "local-process") as Origin
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
    return { sparkRemote, kafkaBrokers, postgres, origin }
  })
