/**
 * A single-node KRaft Kafka broker as a child JVM from Maven Central jars: own data dir,
 * listeners on 127.0.0.1, ready only once a metadata request answers, stopped when its scope
 * closes (and, through the tether, when this process dies).
 */
import { Data, Duration, Effect, Scope } from "effect"
import { ChildProcess } from "effect/process"
import type { ChildProcessSpawner } from "effect/process"
import { LocalServer, Maven, type MavenError, Ready } from "@spark-etl/runner-spark-connect/local"
import { Kafka, logLevel } from "kafkajs"
import { randomBytes } from "node:crypto"
import * as fs from "node:fs"
import * as path from "node:path"
import { fileURLToPath } from "node:url"

const infraRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..")
const tether = LocalServer.tetherScript

export const defaultKafkaVersion = "4.4.0"

export class LocalKafkaError extends Data.TaggedError("LocalKafkaError")<{
  readonly message: string
  readonly logFile?: string | undefined
}> {}

export interface Options {
  readonly kafkaVersion?: string
  /** Client port on 127.0.0.1; 0 or absent picks a free one. */
  readonly port?: number
  readonly dataDir: string
  readonly startTimeout?: Duration.Input
}

export interface LocalKafka {
  /** Bootstrap servers for clients, e.g. `127.0.0.1:39092`. */
  readonly brokers: string
  readonly port: number
  readonly pid: number
  readonly logFile: string
  readonly dataDir: string
}

const tail = (file: string): string => {
  try {
    return fs.readFileSync(file, "utf8").slice(-3000)
  } catch {
    return ""
  }
}

export const resolveJars = (
  kafkaVersion: string
): Effect.Effect<string, MavenError, ChildProcessSpawner.ChildProcessSpawner> =>
  Maven.copyDependencies({
    pom: path.join(infraRoot, "kafka-pom.xml"),
    outputDir: path.join(Maven.cacheRoot(), `kafka-${kafkaVersion}`, "libs"),
    properties: { "kafka.version": kafkaVersion }
  })

const serverProperties = (port: number, controllerPort: number, logDirs: string): string =>
  [
    "process.roles=broker,controller",
    "node.id=1",
    `controller.quorum.bootstrap.servers=127.0.0.1:${controllerPort}`,
    `listeners=PLAINTEXT://127.0.0.1:${port},CONTROLLER://127.0.0.1:${controllerPort}`,
    `advertised.listeners=PLAINTEXT://127.0.0.1:${port}`,
    "controller.listener.names=CONTROLLER",
    "inter.broker.listener.name=PLAINTEXT",
    "listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
    `log.dirs=${logDirs}`,
    "num.partitions=1",
    // One node: internal topics must not ask for more replicas than exist.
    "offsets.topic.replication.factor=1",
    "transaction.state.log.replication.factor=1",
    "transaction.state.log.min.isr=1",
    "share.coordinator.state.topic.replication.factor=1",
    "share.coordinator.state.topic.min.isr=1",
    "group.initial.rebalance.delay.ms=0",
    "auto.create.topics.enable=false",
    ""
  ].join("\n")

const java = (jars: string, logFile: string, main: string, args: ReadonlyArray<string>, heap: string) => [
  tether,
  logFile,
  "java",
  `-Xmx${heap}`,
  "-Dorg.slf4j.simpleLogger.defaultLogLevel=info",
  "-Dorg.slf4j.simpleLogger.showDateTime=true",
  "-cp",
  `${jars}/*`,
  main,
  ...args
]

const metadata = (brokers: string): Effect.Effect<void, unknown> =>
  Effect.tryPromise(async () => {
    const admin = new Kafka({
      clientId: "spark-etl-probe",
      brokers: [brokers],
      logLevel: logLevel.NOTHING,
      connectionTimeout: 1000,
      retry: { retries: 0 }
    }).admin()
    await admin.connect()
    try {
      await admin.describeCluster()
    } finally {
      await admin.disconnect()
    }
  })

/**
 * Formats storage (first start only) and starts the broker; stops it when the scope closes.
 *
 * @example
 * const kafka = yield* LocalKafka.start({ dataDir: "/tmp/kafka" })
 * // kafka.brokers === "127.0.0.1:40123"
 */
export const start = (
  options: Options
): Effect.Effect<LocalKafka, LocalKafkaError, Scope.Scope | ChildProcessSpawner.ChildProcessSpawner> =>
  Effect.gen(function* () {
    const jars = yield* resolveJars(options.kafkaVersion ?? defaultKafkaVersion).pipe(
      Effect.mapError(
        (e) => new LocalKafkaError({ message: `cannot fetch Kafka jars: ${e.message}\n${e.output}` })
      )
    )
    const dataDir = path.resolve(options.dataDir)
    fs.mkdirSync(dataDir, { recursive: true })
    const port = options.port && options.port > 0 ? options.port : yield* LocalServer.freePort
    const controllerPort = yield* LocalServer.freePort
    const logFile = path.join(dataDir, "kafka.log")
    const config = path.join(dataDir, "server.properties")
    const logDirs = path.join(dataDir, "kraft-logs")
    fs.writeFileSync(config, serverProperties(port, controllerPort, logDirs))

    if (!fs.existsSync(path.join(logDirs, "meta.properties"))) {
      // StorageTool calls System.exit, so it runs in its own JVM before the broker. The id is
      // given with "=": a base64url id starts with "-" one time in 64, which the tool's argument
      // parser would take for an option.
      const clusterId = randomBytes(16).toString("base64url")
      const exitCode = yield* Effect.scoped(
        ChildProcess.make(
          "sh",
          java(
            jars,
            logFile,
            "kafka.tools.StorageTool",
            ["format", `--cluster-id=${clusterId}`, "-c", config, "--standalone"],
            "256m"
          ),
          { stdin: "pipe", stdout: "ignore", stderr: "ignore" }
        ).pipe(Effect.flatMap((handle) => handle.exitCode))
      ).pipe(
        Effect.mapError((e) => new LocalKafkaError({ message: `cannot run java: ${e.message}`, logFile }))
      )
      if (exitCode !== 0) {
        return yield* new LocalKafkaError({
          message: `formatting Kafka storage failed:\n${tail(logFile)}`,
          logFile
        })
      }
    }

    const handle = yield* ChildProcess.make("sh", java(jars, logFile, "kafka.Kafka", [config], "768m"), {
      cwd: dataDir,
      stdin: "pipe",
      stdout: "ignore",
      stderr: "ignore",
      killSignal: "SIGTERM",
      forceKillAfter: "20 seconds"
    }).pipe(
      Effect.mapError((e) => new LocalKafkaError({ message: `cannot start java: ${e.message}`, logFile }))
    )
    const brokers = `127.0.0.1:${port}`
    yield* Ready.until({
      process: handle,
      exited: () =>
        new LocalKafkaError({ message: `Kafka exited during start-up:\n${tail(logFile)}`, logFile }),
      answers: metadata(brokers),
      every: "250 millis",
      within: options.startTimeout ?? "120 seconds",
      timedOut: () =>
        new LocalKafkaError({ message: `Kafka did not answer on ${brokers}:\n${tail(logFile)}`, logFile })
    })
    return { brokers, port, pid: handle.pid, logFile, dataDir }
  })
