/**
 * Dev and CI infrastructure commands:
 *
 *   infra SERVICE start [--port N]  start a local server in the background, print its endpoint
 *   infra SERVICE stop              stop it cleanly
 *   infra SERVICE status            report whether it answers a real request
 *   infra postgres|kafka-secure env print `export PG_...=` / `export KAFKA_SECURE_...=` lines for eval
 *   infra run [--needs spark,kafka,postgres,kafka-secure,hdfs] -- COMMAND [ARG...]
 *                                   start those (unless SPARK_REMOTE / KAFKA_BROKERS / PG_HOST /
 *                                   KAFKA_SECURE_BROKERS / HDFS_URI are set), run COMMAND with them
 *                                   exported, stop them, exit with its code
 *
 * SERVICE is spark, kafka, postgres, kafka-secure (a broker requiring SASL_SSL with
 * SCRAM-SHA-512; its password stays in a file of mode 0600, only the file's path is exported),
 * hdfs (Hadoop's mini cluster), or cluster: the whole distributed topology — HDFS, and a Spark
 * standalone master with two workers whose driver is a Spark Connect server, HDFS its default
 * filesystem (its endpoint is the Connect server's; `status` names the master and HDFS).
 */
import { NodeRuntime, NodeServices } from "@effect/platform-node"
import { Console, Effect } from "effect"
import { ChildProcess } from "effect/process"
import { spawn } from "node:child_process"
import * as fs from "node:fs"
import * as net from "node:net"
import * as path from "node:path"
import { parseArgs } from "node:util"
import { Kafka, logLevel } from "kafkajs"
import { LocalServer } from "@spark-etl/runner-spark-connect/local"
import * as Endpoints from "./Endpoints.js"
import * as KafkaSecurity from "./KafkaSecurity.js"
import * as LocalCluster from "./LocalCluster.js"
import * as LocalHdfs from "./LocalHdfs.js"
import * as LocalKafka from "./LocalKafka.js"
import * as LocalPostgres from "./LocalPostgres.js"
import { postgresVersionOf, sparkVersionOf } from "./probe.js"

const services = ["spark", "kafka", "postgres", "kafka-secure", "hdfs", "cluster"] as const
// What `infra run` starts by default: the cluster is started by the tests that need it (they
// kill its parts).
const runServices: ReadonlyArray<Endpoints.Need> = ["spark", "kafka", "postgres", "kafka-secure", "hdfs"]
type Service = (typeof services)[number]
const isService = (s: string | undefined): s is Service => services.some((x) => x === s)

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
const stateFile = (service: Service) => path.join(stateRoot, service, "state.json")

const readState = (service: Service): State | undefined => {
  try {
    return JSON.parse(fs.readFileSync(stateFile(service), "utf8")) as State
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

/** The background supervisor: owns the server's scope until SIGTERM. */
const serve = (service: Service, port: number | undefined) =>
  Effect.gen(function* () {
    const dataDir = path.join(stateRoot, service)
    const started =
      service === "spark"
        ? yield* LocalServer.start({ dataDir, master: "local[2]", ui: true, ...(port ? { port } : {}) }).pipe(
            Effect.map((s) => ({ endpoint: s.remote, jvmPid: s.pid, logFile: s.logFile }))
          )
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
    fs.writeFileSync(`${stateFile(service)}.tmp`, JSON.stringify(state, null, 2), { mode: 0o600 })
    fs.renameSync(`${stateFile(service)}.tmp`, stateFile(service))
    yield* Effect.addFinalizer(() => Effect.sync(() => fs.rmSync(stateFile(service), { force: true })))
    return yield* Effect.never
  }).pipe(Effect.scoped)

const start = async (service: Service, port: number | undefined) => {
  const existing = readState(service)
  if (existing && alive(existing.supervisorPid)) {
    console.log(existing.endpoint)
    return
  }
  fs.mkdirSync(path.join(stateRoot, service), { recursive: true })
  fs.rmSync(stateFile(service), { force: true })
  const supervisorLog = path.join(stateRoot, service, "supervisor.log")
  const out = fs.openSync(supervisorLog, "a")
  const args = [process.argv[1] ?? "", service, "serve", ...(port ? ["--port", String(port)] : [])]
  const child = spawn(process.execPath, args, { detached: true, stdio: ["ignore", out, out] })
  child.unref()
  const deadline = Date.now() + 240_000
  while (Date.now() < deadline) {
    const state = readState(service)
    if (state) {
      console.log(state.endpoint)
      return
    }
    if (child.pid === undefined || !alive(child.pid)) {
      fail(
        `${service} failed to start; see ${supervisorLog}:\n${fs.readFileSync(supervisorLog, "utf8").slice(-3000)}`
      )
    }
    await new Promise((r) => setTimeout(r, 250))
  }
  fail(`${service} did not become ready in 240 s; see ${supervisorLog}`)
}

const stop = async (service: Service) => {
  const state = readState(service)
  if (!state || !alive(state.supervisorPid)) {
    fs.rmSync(stateFile(service), { force: true })
    console.log(`${service}: not running`)
    return
  }
  process.kill(state.supervisorPid, "SIGTERM")
  const deadline = Date.now() + 30_000
  while (Date.now() < deadline && (alive(state.supervisorPid) || alive(state.jvmPid))) {
    await new Promise((r) => setTimeout(r, 200))
  }
  if (alive(state.jvmPid)) fail(`${service}: JVM ${state.jvmPid} still running after 30 s`)
  console.log(`${service}: stopped`)
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

const status = async (service: Service) => {
  const state = readState(service)
  if (!state || !alive(state.supervisorPid)) {
    fail(`${service}: not running`, 3)
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
    fail(`${service}: running (pid ${state.jvmPid}) but not answering at ${state.endpoint}`, 1)
  console.log(
    `${service}: up at ${state.endpoint} (pid ${state.jvmPid}, since ${state.startedAt}): ${detail}; log ${state.logFile}`
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

/** Runs a command with endpoints exported; the servers live exactly as long as the command. */
const runWith = (needs: ReadonlyArray<Endpoints.Need>, command: ReadonlyArray<string>) =>
  Effect.gen(function* () {
    const [program, ...args] = command
    if (!program) return yield* Effect.die(new Error("infra run needs a command after --"))
    const endpoints = yield* Endpoints.resolve({ needs, workDir: path.join(stateRoot, `run-${process.pid}`) })
    const described = Endpoints.describe(endpoints)
    yield* Console.error(`[infra] ${needs.map((n) => described[n]).join(" ")}`)
    const handle = yield* ChildProcess.make(program, args, {
      stdin: "inherit",
      stdout: "inherit",
      stderr: "inherit",
      extendEnv: true,
      env: {
        ...(needs.includes("spark") ? { SPARK_REMOTE: endpoints.sparkRemote } : {}),
        ...(needs.includes("kafka") ? { KAFKA_BROKERS: endpoints.kafkaBrokers } : {}),
        ...(endpoints.postgres ? LocalPostgres.toEnv(endpoints.postgres) : {}),
        ...(endpoints.kafkaSecure ? KafkaSecurity.toEnv(endpoints.kafkaSecure) : {}),
        ...(endpoints.hdfsUri ? { HDFS_URI: endpoints.hdfsUri } : {})
      }
    })
    return yield* handle.exitCode
  }).pipe(Effect.scoped)

const main = async () => {
  const argv = process.argv.slice(2)
  if (argv[0] === "run") {
    const dash = argv.indexOf("--")
    const command = dash >= 0 ? argv.slice(dash + 1) : argv.slice(1)
    const { values } = parseArgs({
      args: dash >= 0 ? argv.slice(1, dash) : [],
      options: { needs: { type: "string", default: runServices.join(",") } }
    })
    const needs = values.needs.split(",").filter((n) => n !== "")
    const isNeed = (n: string): n is Endpoints.Need => runServices.some((x) => x === n)
    const unknown = needs.filter((n) => !isNeed(n))
    if (unknown.length > 0) return fail(`infra run --needs: unknown ${unknown.join(", ")}`, 64)
    NodeRuntime.runMain(
      runWith(needs.filter(isNeed), command).pipe(
        Effect.flatMap((code) => Effect.sync(() => (process.exitCode = code))),
        Effect.provide(NodeServices.layer)
      )
    )
    return
  }
  const [service, verb] = argv
  const { values } = parseArgs({ args: argv.slice(2), options: { port: { type: "string" } } })
  const port = values.port ? Number(values.port) : undefined
  if (!isService(service) || !verb) {
    fail(
      "usage: infra spark|kafka|postgres|kafka-secure|hdfs|cluster start|stop|status [--port N] | infra postgres|kafka-secure env | infra run [--needs spark,kafka,postgres,kafka-secure,hdfs] -- COMMAND",
      64
    )
    return
  }
  switch (verb) {
    case "start":
      return start(service, port)
    case "stop":
      return stop(service)
    case "status":
      return status(service)
    case "env":
      return service === "postgres" || service === "kafka-secure"
        ? printEnv(service)
        : fail(`unknown verb ${verb} for ${service}`, 64)
    case "serve":
      NodeRuntime.runMain(serve(service, port).pipe(Effect.provide(NodeServices.layer)))
      return
    default:
      fail(`unknown verb ${verb}`, 64)
  }
}

await main()
