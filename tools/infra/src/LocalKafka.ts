/**
 * A single-node KRaft Kafka broker as a child JVM from Maven Central jars: own data dir,
 * listeners on 127.0.0.1, ready only once a metadata request answers, stopped when its scope
 * closes (and, through the tether, when this process dies). With `security: "sasl_ssl"` its
 * client port takes only SASL_SSL with SCRAM-SHA-512, and a second one only mutual TLS (see
 * KafkaSecurity).
 */
import * as Data from "effect/Data"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Scope from "effect/Scope"
import type * as ChildProcessSpawner from "effect/process/ChildProcessSpawner"
import {
  ClassArchive,
  LocalServer,
  Maven,
  type MavenError,
  Ready
} from "@spark-etl/runner-spark-connect/local"
import { Kafka, type KafkaConfig, logLevel } from "kafkajs"
import { randomBytes } from "node:crypto"
import * as fs from "node:fs"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import * as KafkaSecurity from "./KafkaSecurity.js"

const infraRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..")

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
  /**
   * "plaintext" (the default): one PLAINTEXT client listener. "sasl_ssl": the client listener
   * requires TLS and a SCRAM-SHA-512 login; certificates, users and passwords are made under
   * `<dataDir>/security` and kept across restarts in the same data dir.
   */
  readonly security?: "plaintext" | "sasl_ssl"
}

export interface LocalKafka {
  /** Bootstrap servers for clients, e.g. `127.0.0.1:39092`. */
  readonly brokers: string
  readonly port: number
  readonly pid: number
  readonly logFile: string
  readonly dataDir: string
  /** How clients log in, when started with `security: "sasl_ssl"`. */
  readonly secure: KafkaSecurity.SecureEndpoint | undefined
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

export const plaintextListeners = (port: number, controllerPort: number): ReadonlyArray<string> => [
  `listeners=PLAINTEXT://127.0.0.1:${port},CONTROLLER://127.0.0.1:${controllerPort}`,
  `advertised.listeners=PLAINTEXT://127.0.0.1:${port}`,
  "controller.listener.names=CONTROLLER",
  "inter.broker.listener.name=PLAINTEXT",
  "listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT"
]

export const serverProperties = (
  controllerPort: number,
  listeners: ReadonlyArray<string>,
  logDirs: string
): string =>
  [
    "process.roles=broker,controller",
    "node.id=1",
    `controller.quorum.bootstrap.servers=127.0.0.1:${controllerPort}`,
    ...listeners,
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

/** The `java` arguments that run one of Kafka's mains: the same here and in a container. */
export const javaArguments = (
  jars: string,
  main: string,
  args: ReadonlyArray<string>,
  heap: string
): ReadonlyArray<string> => [
  `-Xmx${heap}`,
  "-Dorg.slf4j.simpleLogger.defaultLogLevel=info",
  "-Dorg.slf4j.simpleLogger.showDateTime=true",
  "-cp",
  `${jars}/*`,
  main,
  ...args
]

// A java @argfile: each argument quoted, so that no path or value is split or unescaped.
const argfile = (args: ReadonlyArray<string>): string =>
  `${args.map((a) => `"${a.replaceAll("\\", "\\\\").replaceAll('"', '\\"')}"`).join("\n")}\n`

export const metadata = (
  brokers: string,
  security: Pick<KafkaConfig, "ssl" | "sasl">
): Effect.Effect<void, unknown> =>
  Effect.tryPromise(async () => {
    const admin = new Kafka({
      clientId: "spark-etl-probe",
      brokers: [brokers],
      logLevel: logLevel.NOTHING,
      connectionTimeout: 1000,
      retry: { retries: 0 },
      ...security
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
    const material =
      options.security === "sasl_ssl"
        ? yield* KafkaSecurity.prepare(path.join(dataDir, "security")).pipe(
            Effect.mapError((e) => new LocalKafkaError({ message: e.message }))
          )
        : undefined
    // New passwords mean users the old storage does not have: it is formatted again.
    if (material?.freshPasswords) fs.rmSync(logDirs, { recursive: true, force: true })
    const mtlsPort = material ? yield* LocalServer.freePort : 0
    const listeners = material
      ? KafkaSecurity.listenerProperties(port, mtlsPort, controllerPort, material)
      : plaintextListeners(port, controllerPort)
    // Mode 0600 whatever an earlier start left: it may hold the broker's own SCRAM password.
    fs.writeFileSync(config, serverProperties(controllerPort, listeners, logDirs), { mode: 0o600 })
    fs.chmodSync(config, 0o600)

    if (!fs.existsSync(path.join(logDirs, "meta.properties"))) {
      const mapped = yield* ClassArchive.use(jars).pipe(
        Effect.mapError((e) => new LocalKafkaError({ message: e.message }))
      )
      // StorageTool calls System.exit, so it runs in its own JVM before the broker. The id is
      // given with "=": a base64url id starts with "-" one time in 64, which the tool's argument
      // parser would take for an option. Its arguments (SCRAM passwords among them) go in a
      // java @argfile of mode 0600, so that `ps` shows none of them; removed once it ran.
      const clusterId = randomBytes(16).toString("base64url")
      const formatArgs = path.join(dataDir, "format.args")
      fs.writeFileSync(
        formatArgs,
        argfile([
          "kafka.tools.StorageTool",
          "format",
          `--cluster-id=${clusterId}`,
          "-c",
          config,
          "--standalone",
          ...(material ? KafkaSecurity.scramArguments(material) : [])
        ]),
        { mode: 0o600 }
      )
      const exitCode = yield* Effect.scoped(
        LocalServer.tethered(logFile, "java", [
          ...mapped,
          ...javaArguments(jars, `@${formatArgs}`, [], "256m")
        ]).pipe(Effect.flatMap((handle) => handle.exitCode))
      ).pipe(
        Effect.ensuring(Effect.sync(() => fs.rmSync(formatArgs, { force: true }))),
        Effect.mapError((e) => new LocalKafkaError({ message: `cannot run java: ${e.message}`, logFile }))
      )
      if (exitCode !== 0) {
        return yield* new LocalKafkaError({
          message: `formatting Kafka storage failed:\n${tail(logFile)}`,
          logFile
        })
      }
    }

    // The broker records the archive (restarted often in fault tests); the format tool only maps it.
    const archived = yield* ClassArchive.forServer(jars).pipe(
      Effect.mapError((e) => new LocalKafkaError({ message: e.message }))
    )
    const handle = yield* LocalServer.tethered(
      logFile,
      "java",
      [...archived, ...javaArguments(jars, "kafka.Kafka", [config], "768m")],
      { cwd: dataDir }
    ).pipe(
      Effect.mapError((e) => new LocalKafkaError({ message: `cannot start java: ${e.message}`, logFile }))
    )
    const brokers = `127.0.0.1:${port}`
    const secure: KafkaSecurity.SecureEndpoint | undefined = material && {
      brokers,
      caFile: material.caFile,
      username: KafkaSecurity.clientUser,
      passwordFile: material.clientPasswordFile,
      mtlsBrokers: `127.0.0.1:${mtlsPort}`,
      certFile: material.clientCertFile,
      keyFile: material.clientKeyFile
    }
    // Secured, ready means the client user logs in over TLS checked against the CA.
    const probeSecurity = secure ? KafkaSecurity.kafkajsOptions(secure) : {}
    yield* Ready.until({
      process: handle,
      exited: () =>
        new LocalKafkaError({ message: `Kafka exited during start-up:\n${tail(logFile)}`, logFile }),
      answers: metadata(brokers, probeSecurity),
      every: "250 millis",
      within: options.startTimeout ?? "120 seconds",
      timedOut: () =>
        new LocalKafkaError({ message: `Kafka did not answer on ${brokers}:\n${tail(logFile)}`, logFile })
    })
    return { brokers, port, pid: handle.pid, logFile, dataDir, secure }
  })
