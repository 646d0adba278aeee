/**
 * Spark Connect and Kafka as containers of our own images (Images), started with testcontainers:
 * host networking with the servers bound to 127.0.0.1 on free ports, so they are reachable on
 * loopback only and a containerised Spark reaches the other local servers (PostgreSQL, Kafka) as
 * the process path's does. The container runs as the caller's uid and sees the temporary folder
 * and the repository at the same paths, so inputs written by tests are readable and outputs
 * belong to whoever runs the tests. Ready means a real request answers, as on the process path.
 *
 * Every container carries its run's label; a reaper process (libexec/reap-containers.sh)
 * removes them when the scope closes or the harness dies, SIGKILL included.
 */
import * as Data from "effect/Data"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Schedule from "effect/Schedule"
import * as Scope from "effect/Scope"
import type * as ChildProcessSpawner from "effect/process/ChildProcessSpawner"
import { LocalServer } from "@spark-etl/runner-spark-connect/local"
import { spawn } from "node:child_process"
import { randomUUID } from "node:crypto"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import * as Docker from "./Docker.js"
import * as Images from "./Images.js"
import * as LocalKafka from "./LocalKafka.js"

export class ContainerError extends Data.TaggedError("ContainerError")<{ readonly message: string }> {}

const infraRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..")
const repositoryRoot = path.resolve(infraRoot, "..", "..")
const reaperScript = path.join(infraRoot, "libexec", "reap-containers.sh")

/** The label naming the run a container belongs to (its reaper's). */
export const runLabel = "org.spark-etl.run"
/** The label naming what a container serves: `spark` or `kafka`. */
export const roleLabel = "org.spark-etl.role"

/** A run's reaper: the containers labelled `runLabel=runId` go when it is released. */
export interface Run {
  readonly runId: string
}

/**
 * Starts the reaper of a run in the scope. It is detached (its own process group), so that a
 * signal to the test runner's group does not end it before it removed anything.
 */
export const run: Effect.Effect<Run, ContainerError, Scope.Scope> = Effect.acquireRelease(
  Effect.try({
    try: () => {
      const runId = randomUUID()
      const child = spawn("sh", [reaperScript, `${runLabel}=${runId}`], {
        detached: true,
        stdio: ["pipe", "ignore", "ignore"]
      })
      return { runId, child }
    },
    catch: (e) => new ContainerError({ message: `cannot start the container reaper: ${String(e)}` })
  }),
  ({ child }) =>
    Effect.callback<void>((resume) => {
      if (child.exitCode !== null || child.signalCode !== null) return resume(Effect.void)
      child.once("exit", () => resume(Effect.void))
      child.stdin?.end()
    }).pipe(Effect.timeout("60 seconds"), Effect.ignore)
).pipe(Effect.map(({ runId }) => ({ runId })))

// Whoever runs the tests owns what the servers write in the shared folders.
const user = (): string => `${process.getuid?.() ?? 0}:${process.getgid?.() ?? 0}`

const sharedFolders = (extra: ReadonlyArray<string>) =>
  [...new Set([os.tmpdir(), repositoryRoot, ...extra].map((p) => path.resolve(p)))].map((source) => ({
    source,
    target: source,
    mode: "rw" as const
  }))

type Started = Awaited<ReturnType<InstanceType<typeof import("testcontainers").GenericContainer>["start"]>>

// testcontainers' own reaper needs its image: off unless that image is here.
const ryukPolicy = Effect.gen(function* () {
  if (process.env["TESTCONTAINERS_RYUK_DISABLED"] !== undefined) return
  const images = yield* Docker.docker(["image", "ls", "--quiet", "testcontainers/ryuk"]).pipe(
    Effect.catch(() => Effect.succeed(""))
  )
  if (images.trim() === "") process.env["TESTCONTAINERS_RYUK_DISABLED"] = "true"
})

const startContainer = (options: {
  readonly run: Run
  readonly role: "spark" | "kafka"
  readonly image: string
  readonly command: ReadonlyArray<string>
  readonly environment: Readonly<Record<string, string>>
  readonly folders: ReadonlyArray<string>
}): Effect.Effect<Started, ContainerError, Scope.Scope | ChildProcessSpawner.ChildProcessSpawner> =>
  Effect.gen(function* () {
    yield* ryukPolicy
    const { GenericContainer, Wait } = yield* Effect.promise(() => import("testcontainers"))
    const labels = { [runLabel]: options.run.runId, [roleLabel]: options.role }
    // The container's last lines, for the error of one that did not start: testcontainers removes
    // a container whose wait failed, its logs with it.
    const output: Array<string> = []
    const keep = (chunk: unknown) => {
      output.push(
        ...String(chunk)
          .split("\n")
          .filter((l) => l.trim() !== "")
      )
      output.splice(0, Math.max(0, output.length - 40))
    }
    const started = yield* Effect.tryPromise({
      try: () =>
        new GenericContainer(options.image)
          .withLogConsumer((stream) => stream.on("data", keep))
          .withPullPolicy({ shouldPull: () => false })
          .withNetworkMode("host")
          .withUser(user())
          .withBindMounts(sharedFolders(options.folders))
          .withEnvironment({ ...options.environment })
          .withLabels(labels)
          .withCommand([...options.command])
          .withWaitStrategy(Wait.forHealthCheck())
          .withStartupTimeout(180_000)
          .start(),
      catch: (e) => e
    }).pipe(
      Effect.mapError(
        (cause) =>
          new ContainerError({
            message: `${options.image} did not start: ${cause instanceof Error ? cause.message : String(cause)}${
              output.length > 0 ? `; its last lines:\n${output.join("\n")}` : " (it wrote nothing)"
            }`
          })
      )
    )
    // A container a fault test killed is already stopped: its stop may fail, the reaper removes it.
    yield* Effect.addFinalizer(() =>
      Effect.tryPromise(() => started.stop({ timeout: 20_000 })).pipe(Effect.ignore)
    )
    return started
  })

const answersWithin = <E>(check: Effect.Effect<unknown, E>, within: Duration.Input, what: string) =>
  check.pipe(
    Effect.retry(Schedule.spaced("250 millis")),
    Effect.timeoutOrElse({
      duration: within,
      orElse: () =>
        Effect.fail(
          new ContainerError({
            message: `${what} did not answer within ${Duration.format(Duration.fromInputUnsafe(within))}`
          })
        )
    }),
    Effect.mapError((e) =>
      e instanceof ContainerError ? e : new ContainerError({ message: `${what}: ${String(e)}` })
    ),
    Effect.asVoid
  )

export interface SparkContainer {
  readonly remote: string
  readonly port: number
  readonly containerId: string
  readonly sparkVersion: string
}

/**
 * A Spark Connect server in a container of `spark-etl/spark-connect:<version>`, with the process
 * path's arguments (LocalServer's options: master, heap, UI, token, settings).
 */
export const startSpark = (
  options: {
    readonly run: Run
    readonly sparkVersion: string
    readonly dataDir: string
  } & Pick<LocalServer.Options, "master" | "heap" | "ui" | "token" | "conf">
): Effect.Effect<SparkContainer, ContainerError, Scope.Scope | ChildProcessSpawner.ChildProcessSpawner> =>
  Effect.gen(function* () {
    const port = yield* LocalServer.freePort
    const dataDir = path.resolve(options.dataDir)
    fs.mkdirSync(path.join(dataDir, "tmp"), { recursive: true })
    const started = yield* startContainer({
      run: options.run,
      role: "spark",
      image: Images.sparkImage(options.sparkVersion),
      command: LocalServer.javaArguments({
        master: "local[2]",
        ui: true,
        ...options,
        port,
        dataDir,
        jars: Images.layout.sparkJars,
        launcherDir: Images.layout.root
      }),
      // Spark's web UI binds to SPARK_LOCAL_IP, else every interface: loopback only.
      environment: { SPARK_CONNECT_PORT: String(port), SPARK_LOCAL_IP: "127.0.0.1", HOME: dataDir },
      folders: [dataDir]
    })
    const address = `127.0.0.1:${port}`
    yield* answersWithin(
      LocalServer.probe(address, 2000, options.token),
      "120 seconds",
      `Spark Connect in ${started.getId()} on ${address}`
    )
    return {
      remote: `sc://${address}`,
      port,
      containerId: started.getId(),
      sparkVersion: options.sparkVersion
    }
  })

export interface KafkaContainer {
  readonly brokers: string
  readonly port: number
  readonly containerId: string
}

/** A single-node KRaft broker in a container of `spark-etl/kafka:<version>`, configured as the process path's. */
export const startKafka = (options: {
  readonly run: Run
  readonly dataDir: string
  readonly kafkaVersion?: string
}): Effect.Effect<KafkaContainer, ContainerError, Scope.Scope | ChildProcessSpawner.ChildProcessSpawner> =>
  Effect.gen(function* () {
    const port = yield* LocalServer.freePort
    const controllerPort = yield* LocalServer.freePort
    const dataDir = path.resolve(options.dataDir)
    fs.mkdirSync(dataDir, { recursive: true })
    const config = path.join(dataDir, "server.properties")
    fs.writeFileSync(
      config,
      LocalKafka.serverProperties(
        controllerPort,
        LocalKafka.plaintextListeners(port, controllerPort),
        path.join(dataDir, "kraft-logs")
      )
    )
    const started = yield* startContainer({
      run: options.run,
      role: "kafka",
      image: Images.kafkaImage(options.kafkaVersion ?? LocalKafka.defaultKafkaVersion),
      command: [config],
      environment: { KAFKA_PORT: String(port), HOME: dataDir },
      folders: [dataDir]
    })
    const brokers = `127.0.0.1:${port}`
    yield* answersWithin(
      LocalKafka.metadata(brokers, {}),
      "120 seconds",
      `Kafka in ${started.getId()} on ${brokers}`
    )
    return { brokers, port, containerId: started.getId() }
  })
