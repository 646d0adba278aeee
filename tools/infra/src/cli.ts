/**
 * Dev and CI infrastructure commands:
 *
 *   infra spark|kafka start [--port N]   start a local server in the background, print its endpoint
 *   infra spark|kafka stop               stop it cleanly
 *   infra spark|kafka status             report whether it answers a real request
 *   infra run -- COMMAND [ARG...]        start both (unless SPARK_REMOTE / KAFKA_BROKERS are set),
 *                                        run COMMAND with them exported, stop both, exit with its code
 */
import { NodeRuntime, NodeServices } from "@effect/platform-node"
import { Console, Effect } from "effect"
import { ChildProcess } from "effect/process"
import { spawn } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { parseArgs } from "node:util"
import { Kafka, logLevel } from "kafkajs"
import { LocalServer } from "@spark-etl/runner-spark-connect/local"
import * as Endpoints from "./Endpoints.js"
import * as LocalKafka from "./LocalKafka.js"
import { sparkVersionOf } from "./probe.js"

type Service = "spark" | "kafka"

interface State {
  readonly service: Service
  readonly supervisorPid: number
  readonly jvmPid: number
  readonly endpoint: string
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
        : yield* LocalKafka.start({ dataDir, ...(port ? { port } : {}) }).pipe(
            Effect.map((k) => ({ endpoint: k.brokers, jvmPid: k.pid, logFile: k.logFile }))
          )
    const state: State = {
      service,
      supervisorPid: process.pid,
      startedAt: new Date().toISOString(),
      ...started
    }
    fs.writeFileSync(`${stateFile(service)}.tmp`, JSON.stringify(state, null, 2))
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

const kafkaAnswers = async (brokers: string): Promise<boolean> => {
  const admin = new Kafka({ brokers: [brokers], logLevel: logLevel.NOTHING, retry: { retries: 0 } }).admin()
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

const status = async (service: Service) => {
  const state = readState(service)
  if (!state || !alive(state.supervisorPid)) {
    fail(`${service}: not running`, 3)
    return
  }
  const detail =
    service === "spark"
      ? await sparkVersionOf(state.endpoint)
      : (await kafkaAnswers(state.endpoint))
        ? "answers"
        : undefined
  if (detail === undefined)
    fail(`${service}: running (pid ${state.jvmPid}) but not answering at ${state.endpoint}`, 1)
  console.log(
    `${service}: up at ${state.endpoint} (pid ${state.jvmPid}, since ${state.startedAt}): ${detail}; log ${state.logFile}`
  )
}

/** Runs a command with endpoints exported; the servers live exactly as long as the command. */
const runWith = (command: ReadonlyArray<string>) =>
  Effect.gen(function* () {
    const [program, ...args] = command
    if (!program) return yield* Effect.die(new Error("infra run needs a command after --"))
    const endpoints = yield* Endpoints.resolve({
      needs: ["spark", "kafka"],
      workDir: path.join(stateRoot, `run-${process.pid}`)
    })
    yield* Console.error(
      `[infra] spark=${endpoints.sparkRemote} (${endpoints.origin.spark}) kafka=${endpoints.kafkaBrokers} (${endpoints.origin.kafka})`
    )
    const handle = yield* ChildProcess.make(program, args, {
      stdin: "inherit",
      stdout: "inherit",
      stderr: "inherit",
      extendEnv: true,
      env: { SPARK_REMOTE: endpoints.sparkRemote, KAFKA_BROKERS: endpoints.kafkaBrokers }
    })
    return yield* handle.exitCode
  }).pipe(Effect.scoped)

const main = async () => {
  const argv = process.argv.slice(2)
  if (argv[0] === "run") {
    const dash = argv.indexOf("--")
    const command = dash >= 0 ? argv.slice(dash + 1) : argv.slice(1)
    NodeRuntime.runMain(
      runWith(command).pipe(
        Effect.flatMap((code) => Effect.sync(() => (process.exitCode = code))),
        Effect.provide(NodeServices.layer)
      )
    )
    return
  }
  const [service, verb] = argv
  const { values } = parseArgs({ args: argv.slice(2), options: { port: { type: "string" } } })
  const port = values.port ? Number(values.port) : undefined
  if ((service !== "spark" && service !== "kafka") || !verb) {
    fail("usage: infra spark|kafka start|stop|status [--port N] | infra run -- COMMAND", 64)
    return
  }
  switch (verb) {
    case "start":
      return start(service, port)
    case "stop":
      return stop(service)
    case "status":
      return status(service)
    case "serve":
      NodeRuntime.runMain(serve(service, port).pipe(Effect.provide(NodeServices.layer)))
      return
    default:
      fail(`unknown verb ${verb}`, 64)
  }
}

await main()
