/**
 * The embedded default: a Spark Connect server as a child JVM, started from jars that Maven
 * fetched into the cache, ready only once a real RPC answers, and stopped when its scope
 * closes. The JVM runs under libexec/tether.sh, so it also ends when this process dies.
 */
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Scope from "effect/Scope"
import * as ChildProcess from "effect/process/ChildProcess"
import type * as ChildProcessSpawner from "effect/process/ChildProcessSpawner"
import * as fs from "node:fs"
import * as net from "node:net"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import * as Probe from "../internal/Probe.js"
import * as ClassArchive from "./ClassArchive.js"
import { LocalServerError, type MavenError } from "./errors.js"
import * as Maven from "./Maven.js"
import * as Ready from "./Ready.js"

// src/local/ and dist/local/ are both two levels below the package root, as the release's
// lib/cli/ (the bundled CLI) is below the release root that holds libexec/ and maven/.
const packageRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..")

/**
 * The tether every local JVM runs under (libexec/tether.sh): `sh tetherScript LOGFILE COMMAND
 * [ARG...]` with a stdin pipe kept open ends COMMAND when this process dies, SIGKILL included.
 * Exported for dev tools that run other JVMs the same way (tools/infra's Kafka).
 */
export const tetherScript: string = path.join(packageRoot, "libexec", "tether.sh")

/**
 * A server process under the tether: `command args` with its output appended to `logFile`, asked
 * to stop with SIGTERM when its scope closes (the tether gives it 15 s, then kills it; SIGKILL
 * after 20 s in all), and ended with this process. `options` adds to or overrides those.
 *
 * @example
 * const handle = yield* LocalServer.tethered(logFile, "java", ["-cp", `${jars}/*`, main], { cwd: dataDir })
 */
export const tethered = (
  logFile: string,
  command: string,
  args: ReadonlyArray<string>,
  options: ChildProcess.CommandOptions = {}
) =>
  ChildProcess.make("sh", [tetherScript, logFile, command, ...args], {
    stdin: "pipe",
    stdout: "ignore",
    stderr: "ignore",
    killSignal: "SIGTERM",
    forceKillAfter: "20 seconds",
    ...options
  })

/** The Spark version whose protocol stubs this package was generated from. */
export const defaultSparkVersion = "4.2.0"

/**
 * The server versions the client is tested against (the compatibility suite), newest last.
 * Each resolves from Maven Central; others may work but are not tested.
 */
export const testedSparkVersions: ReadonlyArray<string> = ["3.5.7", "4.0.1", "4.1.2", "4.2.0"]

const majorOf = (sparkVersion: string) => Number(sparkVersion.split(".")[0])

/** Spark 3.x is built for Scala 2.12 (the 2.13 build has no Connect jar before 4.0); 4.x for 2.13. */
export const scalaBinaryVersion = (sparkVersion: string): string =>
  majorOf(sparkVersion) < 4 ? "2.12" : "2.13"

// A 4.x server needs Spark's ML jar to close sessions (maven/pom.xml, profile "ml"); 3.x has no
// ML part. Maven Central lacks spark-mllib for 4.1's later patches: 4.1.0's is binary compatible.
const mllibVersion = (sparkVersion: string): string | undefined =>
  majorOf(sparkVersion) < 4 ? undefined : sparkVersion.startsWith("4.1.") ? "4.1.0" : sparkVersion

// 3.x's SparkConnectServer binds every interface (no binding address setting before 4.0):
// libexec/LoopbackConnectServer.java starts the same service on 127.0.0.1 (see javaArguments).

export interface Options {
  /** Spark version to fetch and run; default {@link defaultSparkVersion}. */
  readonly sparkVersion?: string
  /** Spark master, e.g. `local[2]`; default `local[*]`. */
  readonly master?: string
  /** gRPC port on 127.0.0.1; 0 or absent picks a free one. */
  readonly port?: number
  /** Own folder for warehouse, scratch space and the log. */
  readonly dataDir: string
  /** JVM heap, e.g. `2g`; default `2g`. */
  readonly heap?: string
  /** How long the server may take to answer its first RPC; default 180 s. */
  readonly startTimeout?: Duration.Input
  /** Whether to serve Spark's web UI (port picked freely); default false. */
  readonly ui?: boolean
  /**
   * A shared secret clients must send as a bearer token (spark.connect.authenticate.token).
   * The server speaks plaintext on loopback, so clients must allow a token over it.
   */
  readonly token?: string
  /** Extra Spark settings, passed as `-Dspark.*` system properties. */
  readonly conf?: Readonly<Record<string, string>>
}

export interface LocalServer {
  /** Connection string for clients: `sc://127.0.0.1:<port>`. */
  readonly remote: string
  readonly port: number
  /**
   * The tether's pid (libexec/tether.sh), not the JVM's: SIGTERM or SIGINT to it stops the JVM
   * cleanly. To kill the JVM itself (fault tests), find it by its data dir on the command line.
   */
  readonly pid: number
  readonly logFile: string
  readonly dataDir: string
  readonly sparkVersion: string
}

/** What spark-submit adds for Spark 4 on Java 17; a plain `java` launch must add them itself. */
export const moduleFlags: ReadonlyArray<string> = [
  "java.base/java.lang",
  "java.base/java.lang.invoke",
  "java.base/java.lang.reflect",
  "java.base/java.io",
  "java.base/java.net",
  "java.base/java.nio",
  "java.base/java.util",
  "java.base/java.util.concurrent",
  "java.base/java.util.concurrent.atomic",
  "java.base/jdk.internal.ref",
  "java.base/sun.nio.ch",
  "java.base/sun.nio.cs",
  "java.base/sun.security.action",
  "java.base/sun.util.calendar",
  "java.security.jgss/sun.security.krb5"
].map((pkg) => `--add-opens=${pkg}=ALL-UNNAMED`)

/** A port that was free a moment ago on 127.0.0.1. */
export const freePort: Effect.Effect<number> = Effect.callback<number>((resume) => {
  const server = net.createServer()
  server.listen(0, "127.0.0.1", () => {
    const address = server.address()
    const port = typeof address === "object" && address !== null ? address.port : 0
    server.close(() => resume(Effect.succeed(port)))
  })
})

/** Fetches (once per version and pom text) and returns the folder of the Spark Connect server's jars. */
export const resolveJars = (
  sparkVersion: string
): Effect.Effect<string, MavenError, ChildProcessSpawner.ChildProcessSpawner> => {
  const ml = mllibVersion(sparkVersion)
  return Maven.copyDependencies({
    pom: path.join(packageRoot, "maven", "pom.xml"),
    outputDir: path.join(Maven.cacheRoot(), `spark-${sparkVersion}`, "jars"),
    properties: {
      "spark.version": sparkVersion,
      "scala.binary.version": scalaBinaryVersion(sparkVersion),
      ...(ml !== undefined ? { "spark.mllib.version": ml } : {})
    }
  })
}

/** The log's last `bytes`, from byte `from` on (where this start began writing: the log is appended). */
const tail = (file: string, from = 0, bytes = 3000): string => {
  try {
    const text = fs.readFileSync(file).subarray(from).toString("utf8")
    return text.slice(-bytes)
  } catch {
    return ""
  }
}

/**
 * The log's last words for a one-line message: its last three lines that are not blank and not
 * a stack frame (`at …`, `... 12 more`), joined; the whole log stays in the file.
 */
const lastWords = (logTail: string): string =>
  logTail
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l !== "" && !/^(at |\.\.\. \d+ more)/.test(l))
    .slice(-3)
    .join(" / ")
    .slice(-600)

/** What a failed start says: what happened, where the log is, and how the log ends. */
const startFailure = (what: string, logFile: string, from: number) => {
  const logTail = tail(logFile, from)
  const words = lastWords(logTail)
  return new LocalServerError({
    message: `${what} (log ${logFile})${words === "" ? ", and its log is empty" : `: ${words}`}`,
    logFile,
    logTail
  })
}

/** Where a launch finds the server's jars, its data and the launcher of Spark 3.x's loopback server. */
export interface Launch extends Omit<Options, "port" | "startTimeout" | "dataDir"> {
  readonly sparkVersion: string
  readonly port: number
  /** Absolute. */
  readonly dataDir: string
  /** The folder of the server's jars (see {@link resolveJars}). */
  readonly jars: string
  /** The folder holding LoopbackConnectServer.java. */
  readonly launcherDir: string
  /** The address the gRPC service binds; default 127.0.0.1. */
  readonly bindAddress?: string
}

/**
 * The `java` arguments that start a Spark Connect server: the same for a child JVM here and in
 * a container (tools/infra's images), so both paths run one server.
 */
export const javaArguments = (launch: Launch): ReadonlyArray<string> => {
  const conf: Record<string, string> = {
    "spark.master": launch.master ?? "local[*]",
    "spark.app.name": "spark-etl-local",
    "spark.connect.grpc.binding.address": launch.bindAddress ?? "127.0.0.1",
    "spark.connect.grpc.binding.port": String(launch.port),
    "spark.driver.host": "127.0.0.1",
    "spark.driver.bindAddress": "127.0.0.1",
    "spark.sql.warehouse.dir": path.join(launch.dataDir, "warehouse"),
    "spark.local.dir": path.join(launch.dataDir, "tmp"),
    "spark.ui.enabled": String(launch.ui ?? false),
    "spark.ui.port": "0",
    "spark.sql.shuffle.partitions": "4",
    ...(launch.token !== undefined ? { "spark.connect.authenticate.token": launch.token } : {}),
    ...launch.conf
  }
  return [
    `-Xmx${launch.heap ?? "2g"}`,
    ...moduleFlags,
    "-Dio.netty.tryReflectionSetAccessible=true",
    `-Djava.io.tmpdir=${path.join(launch.dataDir, "tmp")}`,
    `-Dderby.system.home=${launch.dataDir}`,
    ...Object.entries(conf).map(([k, v]) => `-D${k}=${v}`),
    "-cp",
    `${launch.jars}/*`,
    majorOf(launch.sparkVersion) < 4
      ? path.join(launch.launcherDir, "LoopbackConnectServer.java")
      : "org.apache.spark.sql.connect.service.SparkConnectServer"
  ]
}

/** The folder of LoopbackConnectServer.java in this package (or the release). */
export const launcherDir: string = path.join(packageRoot, "libexec")

/**
 * Starts a Spark Connect server and waits until it answers; the server stops when the
 * scope closes.
 *
 * @example
 * const server = yield* LocalServer.start({ dataDir: "/tmp/spark", master: "local[2]" })
 * // server.remote === "sc://127.0.0.1:41234"
 */
export const start = (
  options: Options
): Effect.Effect<LocalServer, LocalServerError, Scope.Scope | ChildProcessSpawner.ChildProcessSpawner> =>
  Effect.gen(function* () {
    const sparkVersion = options.sparkVersion ?? defaultSparkVersion
    const jars = yield* resolveJars(sparkVersion).pipe(
      Effect.mapError(
        (e) =>
          new LocalServerError({
            message: `cannot fetch Spark ${sparkVersion} jars: ${e.message}\n${e.output}`
          })
      )
    )
    const port = options.port && options.port > 0 ? options.port : yield* freePort
    const dataDir = path.resolve(options.dataDir)
    fs.mkdirSync(path.join(dataDir, "tmp"), { recursive: true })
    const logFile = path.join(dataDir, "spark-connect.log")
    const logged = fs.existsSync(logFile) ? fs.statSync(logFile).size : 0
    const archived = yield* ClassArchive.forServer(jars).pipe(
      Effect.mapError((e) => new LocalServerError({ message: e.message }))
    )
    const handle = yield* tethered(
      logFile,
      "java",
      [...archived, ...javaArguments({ ...options, sparkVersion, port, dataDir, jars, launcherDir })],
      // Spark's web UI binds to SPARK_LOCAL_IP, else every interface: loopback only.
      { cwd: dataDir, extendEnv: true, env: { SPARK_LOCAL_IP: "127.0.0.1" } }
    ).pipe(
      Effect.mapError((e) => new LocalServerError({ message: `cannot start java: ${e.message}`, logFile }))
    )
    const address = `127.0.0.1:${port}`
    yield* Ready.until({
      process: handle,
      exited: () => startFailure("Spark Connect server exited during start-up", logFile, logged),
      answers: Probe.sparkVersion(address, 2000, options.token),
      every: "250 millis",
      within: options.startTimeout ?? "180 seconds",
      timedOut: () => startFailure(`Spark Connect server did not answer on ${address}`, logFile, logged)
    })
    return {
      remote: `sc://${address}`,
      port,
      pid: handle.pid,
      logFile,
      dataDir,
      sparkVersion
    }
  })

/** Asks a server for its Spark version over a real RPC; `address` is `host:port`. */
export const probe = (
  address: string,
  timeoutMs: number,
  token?: string
): Effect.Effect<string, Probe.RpcFailure> => Probe.sparkVersion(address, timeoutMs, token)
