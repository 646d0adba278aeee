/**
 * Runs the built CLI as AutoSys does — a child process judged by its exit code and output —
 * against the real Spark and Kafka of the test run, each test in its own folder.
 */
import { execFile, spawn, spawnSync, type ChildProcess } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { inject } from "vitest"
import { createTopic, readTopic } from "../support/Clients.js"

export { endless, short } from "../support/Batches.js"
export { eventually, waitFor, within } from "../support/Clients.js"

const repoRoot = path.resolve(import.meta.dirname, "..", "..", "..", "..")
export const cliMain = path.resolve(import.meta.dirname, "..", "..", "dist", "main.js")
const example = path.join(repoRoot, "examples", "orders")

export interface Result {
  readonly code: number
  readonly stdout: string
  readonly stderr: string
  readonly ms: number
}

/** Runs `spark-etl ARGS` and resolves when it exits (never rejects on a non-zero exit). */
export const cli = (
  args: ReadonlyArray<string>,
  env: Readonly<Record<string, string>> = {}
): Promise<Result> =>
  new Promise((resolve) => {
    const started = Date.now()
    execFile(
      process.execPath,
      [cliMain, ...args],
      {
        env: { PATH: process.env["PATH"] ?? "", HOME: process.env["HOME"] ?? "", ...env },
        maxBuffer: 64 * 1024 * 1024
      },
      (error, stdout, stderr) => {
        const code = error === null ? 0 : typeof error.code === "number" ? error.code : -1
        resolve({ code, stdout, stderr, ms: Date.now() - started })
      }
    )
  })

/** A CLI process still running: its output so far, and its end. */
export interface Started {
  readonly child: ChildProcess
  readonly stdout: () => string
  readonly stderr: () => string
  /** stdout and stderr, each in order (not interleaved). */
  readonly output: () => string
  /** The exit code (null when a signal killed it) and when the process exited (epoch ms). */
  readonly exited: Promise<{ readonly code: number | null; readonly at: number }>
}

/** Starts `spark-etl ARGS` in the background, with the same environment as {@link cli}. */
export const start = (args: ReadonlyArray<string>, env: Readonly<Record<string, string>> = {}): Started => {
  const child = spawn(process.execPath, [cliMain, ...args], {
    stdio: ["ignore", "pipe", "pipe"],
    env: { PATH: process.env["PATH"] ?? "", HOME: process.env["HOME"] ?? "", ...env }
  })
  const out: Array<string> = []
  const err: Array<string> = []
  child.stdout?.on("data", (c: Buffer) => out.push(c.toString()))
  child.stderr?.on("data", (c: Buffer) => err.push(c.toString()))
  let exitAt = 0
  child.once("exit", () => (exitAt = Date.now()))
  // "close" comes after "exit" once stdout and stderr are drained: the output is complete then.
  const exited = new Promise<{ code: number | null; at: number }>((resolve) =>
    child.once("close", (code) => resolve({ code, at: exitAt || Date.now() }))
  )
  return {
    child,
    stdout: () => out.join(""),
    stderr: () => err.join(""),
    output: () => out.join("") + err.join(""),
    exited
  }
}

/** The summary: the last line of stdout. */
export const summary = (stdout: string): string => stdout.trim().split("\n").at(-1) ?? ""

/** A run's ledger record (state-dir/ledger/<batch>/<runId>.json), as written. */
export const ledgerRecord = (stateDir: string, batch: string, runId: string): Record<string, unknown> =>
  JSON.parse(fs.readFileSync(path.join(stateDir, "ledger", batch, `${runId}.json`), "utf8")) as Record<
    string,
    unknown
  >

/** The run id named in a summary line. */
export const runIdOf = (stdout: string): string => {
  const id = /\brun=(\S+)/.exec(summary(stdout))?.[1]
  if (id === undefined) throw new Error(`no run= in: ${stdout}`)
  return id
}

/** A fresh copy of the sample batch with generated data, in its own temporary folder. */
export const sampleBatch = (): {
  readonly dir: string
  readonly batch: string
  readonly stateDir: string
} => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "spark-etl-e2e-"))
  fs.cpSync(path.join(example, "batch.yaml"), path.join(dir, "batch.yaml"))
  fs.cpSync(path.join(example, "sql"), path.join(dir, "sql"), { recursive: true })
  const gen = spawnSync(
    process.execPath,
    [path.join(example, "generate-data.ts"), "--out", path.join(dir, "data")],
    {
      encoding: "utf8"
    }
  )
  if (gen.status !== 0) throw new Error(`data generator failed: ${gen.stderr}`)
  fs.mkdirSync(path.join(dir, "output"))
  return { dir, batch: path.join(dir, "batch.yaml"), stateDir: path.join(dir, "state") }
}

/** A batch file written into a fresh folder (with an `output` target root). */
export const batchFile = (
  yaml: string
): { readonly dir: string; readonly batch: string; readonly stateDir: string } => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "spark-etl-e2e-"))
  fs.mkdirSync(path.join(dir, "output"))
  fs.writeFileSync(path.join(dir, "batch.yaml"), yaml)
  return { dir, batch: path.join(dir, "batch.yaml"), stateDir: path.join(dir, "state") }
}

export const spark = () => inject("sparkRemote")
export const kafka = () => inject("kafkaBrokers")

/** A topic of its own for one test, created on the real broker. */
export const topic = async (name: string, brokers: string = kafka()): Promise<string> => {
  const t = `e2e-${name}-${Date.now()}`
  await createTopic(brokers, t)
  return t
}

/** Every event on a topic, read by kcat (an independent Kafka client), in order. */
export const events = (
  t: string,
  brokers: string = kafka()
): ReadonlyArray<{ key: string; value: Record<string, unknown> }> =>
  readTopic(brokers, t).map((r) => ({ key: r.key, value: JSON.parse(r.value) as Record<string, unknown> }))

/** The `data` of CloudEvents of a given type. */
export const ofType = (all: ReturnType<typeof events>, type: string) =>
  all
    .filter((e) => e.value["type"] === `spark-etl.${type}`)
    .map((e) => e.value["data"] as Record<string, unknown>)

/**
 * The `data` of CloudEvents of a given type, once per event id, as a consumer that
 * deduplicates sees them: delivery is at least once, and an event spooled while Kafka was
 * frozen may also have reached it (the same event, the same id, twice on the topic).
 */
export const distinctOfType = (all: ReturnType<typeof events>, type: string) => {
  const seen = new Set<unknown>()
  return ofType(
    all.filter((e) => (seen.has(e.value["id"]) ? false : (seen.add(e.value["id"]), true))),
    type
  )
}

/** The JSON lines of a run's log file, named in the summary line. */
export const logLines = (stdout: string): ReadonlyArray<Record<string, unknown>> => {
  const file = /log=(\S+)/.exec(stdout)?.[1]
  if (file === undefined) throw new Error(`no log= in: ${stdout}`)
  return fs
    .readFileSync(file, "utf8")
    .trim()
    .split("\n")
    .map((l) => JSON.parse(l) as Record<string, unknown>)
}

/** Rows of a query over Parquet outputs, read back through Spark (views name → path). */
export const readBack = async (
  views: Readonly<Record<string, string>>,
  query: string
): Promise<ReadonlyArray<Readonly<Record<string, unknown>>>> => {
  const { Effect } = await import("effect")
  const { NodeServices } = await import("@effect/platform-node")
  const { SparkSession } = await import("@spark-etl/runner-spark-connect")
  return Effect.runPromise(
    Effect.gen(function* () {
      const session = yield* SparkSession.make({ remote: spark() })
      for (const [name, p] of Object.entries(views)) {
        yield* session.createTempView(session.read({ format: "parquet", paths: [p] }), name, {
          replace: true
        })
      }
      return yield* session.collect(yield* session.sql(query))
    }).pipe(Effect.scoped, Effect.provide(NodeServices.layer))
  )
}

/**
 * `run` with the batch's own state dir and topic (`--kafka-topic`; none when undefined), against
 * the test run's Spark and Kafka unless `remote` or `brokers` name others; `extra` flags last.
 */
export const runArgs = (
  b: { readonly batch: string; readonly stateDir: string },
  kafkaTopic: string | undefined,
  options: {
    readonly remote?: string
    readonly brokers?: string
    readonly extra?: ReadonlyArray<string>
  } = {}
): ReadonlyArray<string> => [
  "run",
  b.batch,
  "--remote",
  options.remote ?? spark(),
  "--state-dir",
  b.stateDir,
  "--kafka-brokers",
  options.brokers ?? kafka(),
  ...(kafkaTopic !== undefined ? ["--kafka-topic", kafkaTopic] : []),
  ...(options.extra ?? [])
]

/** Runs the sample batch (see {@link sampleBatch}) for the day of its data, reporting to `kafkaTopic`. */
export const runSample = (
  s: { readonly batch: string; readonly stateDir: string },
  kafkaTopic: string
): Promise<Result> => cli(runArgs(s, kafkaTopic, { extra: ["--param", "run_date=2026-11-26"] }))
