/**
 * Dev and CI infrastructure commands:
 *
 *   infra SERVICE start [--port N]  start a local server in the background, print its endpoint
 *   infra SERVICE stop              stop it cleanly
 *   infra SERVICE status            report whether it answers a real request
 *   infra spark start|stop|status --version X.Y.Z
 *                                   the same for that Spark version (default: LocalServer's
 *                                   defaultSparkVersion); any other version than the default has
 *                                   its own folder, spark-X.Y.Z, so several run side by side
 *   infra postgres|kafka-secure env print `export PG_...=` / `export KAFKA_SECURE_...=` lines for eval
 *   infra run [--needs spark,kafka,postgres,kafka-secure,hdfs] [--spark-version X.Y.Z] -- COMMAND [ARG...]
 *                                   start those (unless SPARK_REMOTE / KAFKA_BROKERS / PG_HOST /
 *                                   KAFKA_SECURE_BROKERS / HDFS_URI are set), run COMMAND with them
 *                                   exported, stop them, exit with its code. A Spark it starts is
 *                                   --spark-version (else SPARK_ETL_SPARK_VERSION, else the
 *                                   default); COMMAND gets SPARK_ETL_SPARK_VERSION, the version it
 *                                   talks to, when the run started Spark or was given a version
 *   infra images build [--spark-version X.Y.Z]
 *                                   build the container path's images where missing or changed
 *                                   (see Images): spark-etl/base, spark-etl/spark-connect:<version>,
 *                                   spark-etl/kafka:<version>; needs a Docker engine and mmdebstrap
 *   infra compat [--versions 3.5.7,4.0.1,4.1.2] -- COMMAND [ARG...]
 *                                   the compatibility run: Kafka once (unless KAFKA_BROKERS is set),
 *                                   then for each version a Spark of its own, COMMAND run with it
 *                                   (SPARK_REMOTE, SPARK_ETL_SPARK_VERSION), the server stopped;
 *                                   every version runs, the time of each is printed, and the exit
 *                                   is 1 when any failed
 *
 * SERVICE is spark, kafka, postgres, kafka-secure (a broker requiring SASL_SSL with
 * SCRAM-SHA-512; its password stays in a file of mode 0600, only the file's path is exported),
 * hdfs (Hadoop's mini cluster), or cluster: the whole distributed topology — HDFS, and a Spark
 * standalone master with two workers whose driver is a Spark Connect server, HDFS its default
 * filesystem (its endpoint is the Connect server's; `status` names the master and HDFS).
 */
import { NodeRuntime, NodeServices } from "@effect/platform-node"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as ChildProcess from "effect/process/ChildProcess"
import { spawn } from "node:child_process"
import * as fs from "node:fs"
import * as net from "node:net"
import * as path from "node:path"
import { parseArgs } from "node:util"
import { Kafka, logLevel } from "kafkajs"
import { LocalServer } from "@spark-etl/runner-spark-connect/local"
import { quietKafkajsTimerWarning } from "@spark-etl/testing/warnings"
import * as Docker from "./Docker.js"
import * as Endpoints from "./Endpoints.js"
import * as Images from "./Images.js"
import * as KafkaSecurity from "./KafkaSecurity.js"
import * as LocalCluster from "./LocalCluster.js"
import * as LocalHdfs from "./LocalHdfs.js"
import * as LocalKafka from "./LocalKafka.js"
import * as LocalPostgres from "./LocalPostgres.js"
import { postgresVersionOf, sparkVersionOf } from "./probe.js"

quietKafkajsTimerWarning()

const services = ["spark", "kafka", "postgres", "kafka-secure", "hdfs", "cluster"] as const
// What `infra run` starts by default: the cluster is started by the tests that need it (they
// kill its parts).
const runServices: ReadonlyArray<Endpoints.Need> = ["spark", "kafka", "postgres", "kafka-secure", "hdfs"]
type Service = (typeof services)[number]
const isService = (s: string | undefined): s is Service => services.some((x) => x === s)

/** One server the CLI manages: a service and, for spark, the version it runs. */
interface Instance {
  readonly service: Service
  /** Spark's version; undefined for the other services. */
  readonly sparkVersion: string | undefined
  /** Its folder under the state root and its name in messages: `spark`, `spark-3.5.7`, `kafka`… */
  readonly name: string
}

// The default version keeps the folder it had before the version was a parameter (`spark`), so
// a running server and its state stay where they were; any other has a folder of its own.
const instanceOf = (service: Service, sparkVersion: string | undefined): Instance => {
  const version = service === "spark" ? (sparkVersion ?? LocalServer.defaultSparkVersion) : undefined
  return {
    service,
    sparkVersion: version,
    name: version !== undefined && version !== LocalServer.defaultSparkVersion ? `spark-${version}` : service
  }
}

interface State {
  readonly service: Service
  readonly supervisorPid: number
  /** The tether's pid, parent of the server process (named when only JVMs ran under it). */
  readonly jvmPid: number
  readonly endpoint: string
  /** PostgreSQL's connection details, password included: the file is written with mode 0600. */
  readonly postgres?: LocalPostgres.PostgresEndpoint
  /** The secured broker's CA file, user and password file (the password itself is not here). */
  readonly kafkaSecure?: KafkaSecurity.SecureEndpoint
  /** The cluster's master and HDFS, for `status`. */
  readonly cluster?: { readonly masterWebUiUrl: string; readonly hdfsUri: string }
  readonly logFile: string
  readonly startedAt: string
}

const stateRoot = path.resolve(
  process.env["SPARK_ETL_INFRA_DIR"] ?? path.join(process.cwd(), ".spark-etl", "infra")
)
const stateFile = (name: string) => path.join(stateRoot, name, "state.json")

const readState = (name: string): State | undefined => {
  try {
    return JSON.parse(fs.readFileSync(stateFile(name), "utf8")) as State
  } catch {
    return undefined
  }
}

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

const fail = (message: string, code = 1): never => {
  console.error(`infra: ${message}`)
  process.exit(code)
}

/** parseArgs' complaints (an unknown option, a missing value) are usage errors, not crashes. */
const parsed = <A>(parse: () => A): A => {
  try {
    return parse()
  } catch (e) {
    return fail(e instanceof Error ? e.message : String(e), 64)
  }
}

/** A Spark version from the command line or environment, checked before it names a folder or jars. */
const sparkVersionArg = (what: string, value: string | undefined): string | undefined =>
  value === undefined || Endpoints.isSparkVersion(value)
    ? value
    : fail(
        `${what} ${JSON.stringify(value)} is not a Spark version: expected digits.digits.digits (tested: ${LocalServer.testedSparkVersions.join(", ")})`,
        64
      )

// Other versions may work (Maven fetches any release); a failure is then not necessarily ours.
const noteUntested = (sparkVersion: string | undefined) => {
  if (sparkVersion !== undefined && !LocalServer.testedSparkVersions.includes(sparkVersion))
    console.error(
      `infra: Spark ${sparkVersion} is not a tested version (${LocalServer.testedSparkVersions.join(", ")}); trying it`
    )
}

/** The background supervisor: owns the server's scope until SIGTERM. */
const serve = ({ service, sparkVersion, name }: Instance, port: number | undefined) =>
  Effect.gen(function* () {
    const dataDir = path.join(stateRoot, name)
    const started =
      service === "spark"
        ? yield* LocalServer.start({
            dataDir,
            sparkVersion: sparkVersion ?? LocalServer.defaultSparkVersion,
            master: "local[2]",
            ui: true,
            ...(port ? { port } : {})
          }).pipe(Effect.map((s) => ({ endpoint: s.remote, jvmPid: s.pid, logFile: s.logFile })))
        : service === "kafka" || service === "kafka-secure"
          ? yield* LocalKafka.start({
              dataDir,
              security: service === "kafka" ? "plaintext" : "sasl_ssl",
              ...(port ? { port } : {})
            }).pipe(
              Effect.map((k) => ({
                endpoint: k.brokers,
                jvmPid: k.pid,
                logFile: k.logFile,
                ...(k.secure ? { kafkaSecure: k.secure } : {})
              }))
            )
          : service === "hdfs"
            ? yield* LocalHdfs.start({ dataDir, ...(port ? { port } : {}) }).pipe(
                Effect.map((h) => ({ endpoint: h.uri, jvmPid: h.pid, logFile: h.logFile }))
              )
            : service === "cluster"
              ? yield* Effect.flatMap(LocalHdfs.start({ dataDir: path.join(dataDir, "hdfs") }), (hdfs) =>
                  LocalCluster.start({
                    dataDir: path.join(dataDir, "spark"),
                    conf: { "spark.hadoop.fs.defaultFS": hdfs.uri }
                  }).pipe(
                    Effect.map((c) => ({
                      endpoint: c.remote,
                      jvmPid: c.driver.pid,
                      logFile: c.driver.logFile,
                      cluster: { masterWebUiUrl: c.masterWebUiUrl, hdfsUri: hdfs.uri }
                    }))
                  )
                )
              : yield* LocalPostgres.start({ dataDir, ...(port ? { port } : {}) }).pipe(
                  Effect.map((p) => ({
                    endpoint: p.endpoint.url,
                    jvmPid: p.pid,
                    logFile: p.logFile,
                    postgres: p.endpoint
                  }))
                )
    const state: State = {
      service,
      supervisorPid: process.pid,
      startedAt: new Date().toISOString(),
      ...started
    }
    fs.writeFileSync(`${stateFile(name)}.tmp`, JSON.stringify(state, null, 2), { mode: 0o600 })
    fs.renameSync(`${stateFile(name)}.tmp`, stateFile(name))
    yield* Effect.addFinalizer(() => Effect.sync(() => fs.rmSync(stateFile(name), { force: true })))
    return yield* Effect.never
  }).pipe(Effect.scoped)

const start = async (instance: Instance, port: number | undefined) => {
  const { service, sparkVersion, name } = instance
  const existing = readState(name)
  if (existing && alive(existing.supervisorPid)) {
    console.log(existing.endpoint)
    return
  }
  noteUntested(sparkVersion)
  fs.mkdirSync(path.join(stateRoot, name), { recursive: true })
  fs.rmSync(stateFile(name), { force: true })
  const supervisorLog = path.join(stateRoot, name, "supervisor.log")
  const out = fs.openSync(supervisorLog, "a")
  const args = [
    process.argv[1] ?? "",
    service,
    "serve",
    ...(port ? ["--port", String(port)] : []),
    // On the supervisor's command line too, so `ps` tells the versions apart.
    ...(sparkVersion !== undefined ? ["--version", sparkVersion] : [])
  ]
  const child = spawn(process.execPath, args, { detached: true, stdio: ["ignore", out, out] })
  child.unref()
  const deadline = Date.now() + 240_000
  while (Date.now() < deadline) {
    const state = readState(name)
    if (state) {
      console.log(state.endpoint)
      return
    }
    if (child.pid === undefined || !alive(child.pid)) {
      fail(
        `${name} failed to start; see ${supervisorLog}:\n${fs.readFileSync(supervisorLog, "utf8").slice(-3000)}`
      )
    }
    await new Promise((r) => setTimeout(r, 250))
  }
  fail(`${name} did not become ready in 240 s; see ${supervisorLog}`)
}

const stop = async ({ name }: Instance) => {
  const state = readState(name)
  if (!state || !alive(state.supervisorPid)) {
    fs.rmSync(stateFile(name), { force: true })
    console.log(`${name}: not running`)
    return
  }
  process.kill(state.supervisorPid, "SIGTERM")
  const deadline = Date.now() + 30_000
  while (Date.now() < deadline && (alive(state.supervisorPid) || alive(state.jvmPid))) {
    await new Promise((r) => setTimeout(r, 200))
  }
  if (alive(state.jvmPid)) fail(`${name}: JVM ${state.jvmPid} still running after 30 s`)
  console.log(`${name}: stopped`)
}

const kafkaAnswers = async (brokers: string, secure?: KafkaSecurity.SecureEndpoint): Promise<boolean> => {
  const admin = new Kafka({
    brokers: [brokers],
    logLevel: logLevel.NOTHING,
    retry: { retries: 0 },
    ...(secure ? KafkaSecurity.kafkajsOptions(secure) : {})
  }).admin()
  try {
    await admin.connect()
    await admin.describeCluster()
    return true
  } catch {
    return false
  } finally {
    await admin.disconnect()
  }
}

// The NameNode takes a connection on its port (its RPC needs a Hadoop client to say more).
const portAnswers = (uri: string): Promise<string | undefined> =>
  new Promise((resolve) => {
    const { hostname, port } = new URL(uri)
    const socket = net.connect({ host: hostname, port: Number(port) })
    const done = (answer: string | undefined) => {
      socket.destroy()
      resolve(answer)
    }
    socket.setTimeout(2000, () => done(undefined))
    socket.once("connect", () => done("the NameNode takes connections"))
    socket.once("error", () => done(undefined))
  })

const status = async ({ service, name }: Instance) => {
  const state = readState(name)
  if (!state || !alive(state.supervisorPid)) {
    fail(`${name}: not running`, 3)
    return
  }
  const detail =
    service === "spark" || service === "cluster"
      ? await sparkVersionOf(state.endpoint).then((v) =>
          v !== undefined && state.cluster
            ? `${v}; master ${state.cluster.masterWebUiUrl}; HDFS ${state.cluster.hdfsUri}`
            : v
        )
      : service === "hdfs"
        ? await portAnswers(state.endpoint)
        : service === "kafka" || service === "kafka-secure"
          ? (await kafkaAnswers(state.endpoint, state.kafkaSecure))
            ? state.kafkaSecure
              ? `answers to ${state.kafkaSecure.username} over SASL_SSL (SCRAM-SHA-512)`
              : "answers"
            : undefined
          : state.postgres && (await postgresVersionOf(state.postgres))
  if (detail === undefined)
    fail(`${name}: running (pid ${state.jvmPid}) but not answering at ${state.endpoint}`, 1)
  console.log(
    `${name}: up at ${state.endpoint} (pid ${state.jvmPid}, since ${state.startedAt}): ${detail}; log ${state.logFile}`
  )
}

/** `export NAME='value'` lines for a POSIX shell. */
const exports = (env: Record<string, string>): string =>
  Object.entries(env)
    .map(([k, v]) => `export ${k}='${v.replaceAll("'", "'\\''")}'`)
    .join("\n")

const printEnv = (service: "postgres" | "kafka-secure") => {
  const state = readState(service)
  const env =
    service === "postgres"
      ? state?.postgres && LocalPostgres.toEnv(state.postgres)
      : state?.kafkaSecure && KafkaSecurity.toEnv(state.kafkaSecure)
  if (!state || !env || !alive(state.supervisorPid)) return fail(`${service}: not running`, 3)
  console.log(exports(env))
}

/**
 * SPARK_ETL_SPARK_VERSION for the command, so its tests know the version they talk to (and a
 * Spark their own harness would start is that one): when this run started Spark or was given a
 * version; a SPARK_REMOTE server nobody asked a version of is left to the tests to ask.
 */
const sparkVersionEnv = (
  needs: ReadonlyArray<Endpoints.Need>,
  endpoints: Endpoints.Endpoints,
  requested: string | undefined
): Record<string, string> => {
  const started = needs.includes("spark") && endpoints.origin.spark !== "environment"
  const version = endpoints.sparkVersion ?? requested
  return (started || requested !== undefined) && version !== undefined
    ? { SPARK_ETL_SPARK_VERSION: version }
    : {}
}

/** Runs a command on this terminal with `env` added to ours; its exit code. */
const exitCodeOf = (program: string, args: ReadonlyArray<string>, env: Record<string, string>) =>
  Effect.flatMap(
    ChildProcess.make(program, args, {
      stdin: "inherit",
      stdout: "inherit",
      stderr: "inherit",
      extendEnv: true,
      env
    }),
    (handle) => handle.exitCode
  )

/** Runs a command with endpoints exported; the servers live exactly as long as the command. */
const runWith = (
  needs: ReadonlyArray<Endpoints.Need>,
  command: ReadonlyArray<string>,
  sparkVersion: string | undefined
) =>
  Effect.gen(function* () {
    const [program, ...args] = command
    if (!program) return yield* Effect.die(new Error("infra run needs a command after --"))
    const endpoints = yield* Endpoints.resolve({
      needs,
      workDir: path.join(stateRoot, `run-${process.pid}`),
      ...(sparkVersion !== undefined ? { sparkVersion } : {})
    })
    const described = Endpoints.describe(endpoints)
    yield* Console.error(`[infra] ${Endpoints.describePath(endpoints)}`)
    yield* Console.error(`[infra] ${needs.map((n) => described[n]).join(" ")}`)
    // A server from SPARK_REMOTE can be another version: say so, not quietly.
    if (
      sparkVersion !== undefined &&
      endpoints.sparkVersion !== undefined &&
      endpoints.sparkVersion !== sparkVersion
    )
      yield* Console.error(
        `[infra] Spark ${sparkVersion} was asked for, but the server at ${endpoints.sparkRemote} reports ${endpoints.sparkVersion}`
      )
    return yield* exitCodeOf(program, args, {
      ...(needs.includes("spark") ? { SPARK_REMOTE: endpoints.sparkRemote } : {}),
      ...(needs.includes("kafka") ? { KAFKA_BROKERS: endpoints.kafkaBrokers } : {}),
      ...(endpoints.postgres ? LocalPostgres.toEnv(endpoints.postgres) : {}),
      ...(endpoints.kafkaSecure ? KafkaSecurity.toEnv(endpoints.kafkaSecure) : {}),
      ...(endpoints.hdfsUri ? { HDFS_URI: endpoints.hdfsUri } : {}),
      ...sparkVersionEnv(needs, endpoints, sparkVersion)
    })
  }).pipe(Effect.scoped)

// The compatibility suite's versions: every tested one but the default, which runs everything.
const compatVersions = LocalServer.testedSparkVersions.filter((v) => v !== LocalServer.defaultSparkVersion)

/** Runs COMMAND once per Spark version, each against a server of that version started for it. */
const compat = (versions: ReadonlyArray<string>, command: ReadonlyArray<string>) =>
  Effect.gen(function* () {
    const [program, ...args] = command
    if (!program) return yield* Effect.die(new Error("infra compat needs a command after --"))
    const workDir = path.join(stateRoot, `compat-${process.pid}`)
    const kafka = yield* Endpoints.resolve({ needs: ["kafka"], workDir })
    const results: Array<{ version: string; code: number; seconds: number }> = []
    for (const version of versions) {
      const started = Date.now()
      const code = yield* Effect.scoped(
        Effect.gen(function* () {
          const server = yield* LocalServer.start({
            sparkVersion: version,
            dataDir: path.join(workDir, `spark-${version}`),
            master: "local[2]"
          })
          yield* Console.error(
            `[infra] compat: Spark ${version} at ${server.remote} (ready in ${((Date.now() - started) / 1000).toFixed(1)} s)`
          )
          return yield* exitCodeOf(program, args, {
            SPARK_REMOTE: server.remote,
            SPARK_ETL_SPARK_VERSION: version,
            KAFKA_BROKERS: kafka.kafkaBrokers
          })
        })
      )
      results.push({ version, code, seconds: (Date.now() - started) / 1000 })
    }
    for (const r of results)
      yield* Console.error(
        `[infra] compat: Spark ${r.version} ${r.code === 0 ? "passed" : `FAILED (exit ${r.code})`} in ${r.seconds.toFixed(0)} s, server start included`
      )
    fs.rmSync(workDir, { recursive: true, force: true })
    return results.every((r) => r.code === 0) ? 0 : 1
  }).pipe(Effect.scoped)

/** `images build`: what was built and what the engine already had, with time and size. */
const buildImages = (sparkVersion: string) =>
  Effect.gen(function* () {
    const engine = yield* Docker.ping().pipe(
      Effect.mapError((e) => `images build needs a Docker engine: ${e.message}`)
    )
    yield* Console.error(`[infra] Docker engine at ${Docker.host()} (${engine})`)
    const built = yield* Images.buildAll({ sparkVersion }).pipe(Effect.mapError((e) => e.message))
    for (const b of built)
      yield* Console.log(
        `${b.image} ${b.built ? "built" : "unchanged"} in ${b.seconds.toFixed(1)} s, ${(b.bytes / 2 ** 20).toFixed(0)} MiB`
      )
    return 0
  }).pipe(Effect.catch((message) => Console.error(`infra: ${message}`).pipe(Effect.as(1))))

const main = async () => {
  const argv = process.argv.slice(2)
  if (argv[0] === "images") {
    const { values, positionals } = parsed(() =>
      parseArgs({
        args: argv.slice(1),
        allowPositionals: true,
        options: { "spark-version": { type: "string" } }
      })
    )
    if (positionals.join(" ") !== "build")
      return fail("usage: infra images build [--spark-version X.Y.Z]", 64)
    const sparkVersion =
      sparkVersionArg("--spark-version", values["spark-version"]) ??
      sparkVersionArg("SPARK_ETL_SPARK_VERSION", process.env["SPARK_ETL_SPARK_VERSION"] || undefined) ??
      LocalServer.defaultSparkVersion
    NodeRuntime.runMain(
      buildImages(sparkVersion).pipe(
        Effect.flatMap((code) => Effect.sync(() => (process.exitCode = code))),
        Effect.provide(NodeServices.layer)
      )
    )
    return
  }
  if (argv[0] === "compat") {
    const dash = argv.indexOf("--")
    const { values } = parsed(() =>
      parseArgs({
        args: dash >= 0 ? argv.slice(1, dash) : argv.slice(1),
        options: { versions: { type: "string", default: compatVersions.join(",") } }
      })
    )
    const versions = values.versions
      .split(",")
      .filter((v) => v !== "")
      .map((v) => sparkVersionArg("--versions", v) ?? v)
    NodeRuntime.runMain(
      compat(versions, dash >= 0 ? argv.slice(dash + 1) : []).pipe(
        Effect.flatMap((code) => Effect.sync(() => (process.exitCode = code))),
        Effect.provide(NodeServices.layer)
      )
    )
    return
  }
  if (argv[0] === "run") {
    const dash = argv.indexOf("--")
    const command = dash >= 0 ? argv.slice(dash + 1) : argv.slice(1)
    const { values } = parsed(() =>
      parseArgs({
        args: dash >= 0 ? argv.slice(1, dash) : [],
        options: {
          needs: { type: "string", default: runServices.join(",") },
          "spark-version": { type: "string" }
        }
      })
    )
    const sparkVersion =
      sparkVersionArg("--spark-version", values["spark-version"]) ??
      sparkVersionArg("SPARK_ETL_SPARK_VERSION", process.env["SPARK_ETL_SPARK_VERSION"] || undefined)
    const needs = values.needs.split(",").filter((n) => n !== "")
    const isNeed = (n: string): n is Endpoints.Need => runServices.some((x) => x === n)
    const unknown = needs.filter((n) => !isNeed(n))
    if (unknown.length > 0) return fail(`infra run --needs: unknown ${unknown.join(", ")}`, 64)
    if (needs.includes("spark") && !process.env["SPARK_REMOTE"]) noteUntested(sparkVersion)
    NodeRuntime.runMain(
      runWith(needs.filter(isNeed), command, sparkVersion).pipe(
        // Servers the environment names wrongly are the caller's to fix: one line on stderr, like
        // `fail`. A server that fails to start keeps the full report (its log's tail, Maven's output).
        Effect.catchTag("NoEndpoint", (e) => Effect.as(Console.error(`infra: ${e.message}`), 1)),
        Effect.flatMap((code) => Effect.sync(() => (process.exitCode = code))),
        Effect.provide(NodeServices.layer)
      )
    )
    return
  }
  const [service, verb] = argv
  const { values } = parsed(() =>
    parseArgs({ args: argv.slice(2), options: { port: { type: "string" }, version: { type: "string" } } })
  )
  const port = values.port ? Number(values.port) : undefined
  if (!isService(service) || !verb) {
    fail(
      [
        "usage: infra spark start|stop|status [--version X.Y.Z] [--port N]",
        "       infra kafka|postgres|kafka-secure|hdfs|cluster start|stop|status [--port N]",
        "       infra postgres|kafka-secure env",
        "       infra images build [--spark-version X.Y.Z]",
        "       infra run [--needs spark,kafka,postgres,kafka-secure,hdfs] [--spark-version X.Y.Z] -- COMMAND",
        `Spark versions: default ${LocalServer.defaultSparkVersion}; tested ${LocalServer.testedSparkVersions.join(", ")}`
      ].join("\n"),
      64
    )
    return
  }
  if (values.version !== undefined && service !== "spark")
    return fail(`--version chooses Spark's version and is only valid for spark, not ${service}`, 64)
  const instance = instanceOf(service, sparkVersionArg("--version", values.version))
  switch (verb) {
    case "start":
      return start(instance, port)
    case "stop":
      return stop(instance)
    case "status":
      return status(instance)
    case "env":
      return service === "postgres" || service === "kafka-secure"
        ? printEnv(service)
        : fail(`unknown verb ${verb} for ${service}`, 64)
    case "serve":
      NodeRuntime.runMain(serve(instance, port).pipe(Effect.provide(NodeServices.layer)))
      return
    default:
      fail(`unknown verb ${verb}`, 64)
  }
}

await main()
