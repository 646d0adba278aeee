/**
 * Framework overhead per rule: a batch of 50 trivial SQL rules run by `spark-etl run` as a
 * process (as AutoSys would), against the same 50 statements run by the official Python client
 * (`pyspark-client`) in one session, on the same Spark Connect server, alternating A B A B.
 * Both also run 10 of them: the difference between the two sizes is what one more rule costs
 * (each side's fixed cost, from process start to the session's close, cancels out). The ratios
 * of the pairs, each run back to back, show how far the load of the moment moves the figure.
 *
 *   SPARK_REMOTE=sc://127.0.0.1:15002 node bench/overhead.ts [runs]
 *
 * Ours is the source tree (`node dist/main.js`) unless SPARK_ETL_CLI names a launcher: the
 * release's bench passes its installed `bin/spark-etl`, the CLI as a scheduler runs it.
 *
 * The official client comes from runner-spark-connect's venv (bench/pyspark-venv.sh, made on first
 * use): `${SPARK_ETL_CACHE:-~/.cache/spark-etl}/pyspark-client-4.2.0`. Both sides include
 * their process start. With KAFKA_BROKERS set (as `npm run bench` does), events go to a topic
 * of the bench's own, created first: the reporter never creates topics, and a missing one would
 * measure the outbox instead of Kafka.
 */
import * as NodeFileSystem from "@effect/platform-node/NodeFileSystem"
import * as Effect from "effect/Effect"
import { ReporterConfig, Topic } from "@spark-etl/kafka-reporter"
import { quietKafkajsTimerWarning } from "@spark-etl/testing/warnings"
import { execFileSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"

// The topic is made with kafkajs, whose negative-timer warning would land in the bench's output.
quietKafkajsTimerWarning()

const remote = process.env["SPARK_REMOTE"]
if (!remote) {
  console.error("set SPARK_REMOTE (npm run bench starts a local server and sets it)")
  process.exit(1)
}
const runs = Number(process.argv[2] ?? "7")

// pyspark-client 4.2.0 in the venv runner-spark-connect's bench and differential test use (made on
// first use): the system python3 has no pyspark.
const python = execFileSync(
  path.join(import.meta.dirname, "../../runner-spark-connect/bench/pyspark-venv.sh"),
  ["4.2.0"],
  { encoding: "utf8", stdio: ["ignore", "pipe", "inherit"] }
).trim()
const rules = 50
const fewRules = 10
const here = import.meta.dirname
const dir = fs.mkdtempSync(path.join(os.tmpdir(), "spark-etl-bench-"))
const batchOf = (count: number): string => {
  const file = path.join(dir, `batch-${count}.yaml`)
  fs.writeFileSync(
    file,
    [
      "batch: overhead",
      "rules:",
      ...Array.from({ length: count }, (_, i) => {
        const n = i + 1
        return [
          `  - id: r${String(n).padStart(2, "0")}`,
          "    kind: sql",
          "    options:",
          `      sql: SELECT ${n} AS n`,
          "      expect:",
          "        row_count: { min: 1, max: 1 }"
        ].join("\n")
      })
    ].join("\n") + "\n"
  )
  return file
}
const batches: Record<number, string> = { [rules]: batchOf(rules), [fewRules]: batchOf(fewRules) }

const brokers = process.env["KAFKA_BROKERS"]
const topic = `spark-etl-bench-${process.pid}-${Date.now()}`
if (brokers) {
  await Effect.runPromise(
    ReporterConfig.decode(
      { brokers: brokers.split(","), topic, outboxFile: path.join(dir, "state", "outbox.jsonl") },
      "KAFKA_BROKERS"
    ).pipe(
      Effect.flatMap((config) =>
        Topic.create(config, { ...Topic.defaults, partitions: 1, replicationFactor: 1, minInsyncReplicas: 1 })
      ),
      Effect.provide(NodeFileSystem.layer)
    )
  )
}

const time = (f: () => void): number => {
  const t = process.hrtime.bigint()
  f()
  return Number(process.hrtime.bigint() - t) / 1e9
}
const median = (xs: ReadonlyArray<number>) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!

interface Sample {
  /** `spark-etl run`, whole process. */
  readonly ours: number
  /** pyspark-client, whole process. */
  readonly theirs: number
  /** pyspark-client's statement loop alone (after connecting). */
  readonly theirsLoop: number
}
const samples: Record<number, Array<Sample>> = { [rules]: [], [fewRules]: [] }
const launcher = process.env["SPARK_ETL_CLI"]
const cli = launcher
  ? { command: launcher, prefix: [], form: ", release (bin/spark-etl)" }
  : { command: process.execPath, prefix: [path.resolve(here, "..", "dist", "main.js")], form: "" }
const sample = (count: number): Sample => {
  const ours = time(() =>
    execFileSync(
      cli.command,
      [
        ...cli.prefix,
        "run",
        batches[count]!,
        "--remote",
        remote,
        "--state-dir",
        path.join(dir, "state"),
        ...(brokers ? ["--kafka-brokers", brokers, "--kafka-topic", topic] : [])
      ],
      { stdio: "ignore" }
    )
  )
  let theirsLoop = 0
  const theirs = time(() => {
    theirsLoop = Number(
      execFileSync(python, [path.join(here, "overhead.py"), remote, String(count)], {
        encoding: "utf8",
        // pyspark warns that it does not support pandas 3 yet (which it does not use here).
        env: { ...process.env, PYTHONWARNINGS: "ignore::FutureWarning" }
      }).trim()
    )
  })
  return { ours, theirs, theirsLoop }
}
// The machine may be shared: the load says how far to trust one sitting's figures.
const loadAverage = (): string =>
  os
    .loadavg()
    .map((l) => l.toFixed(2))
    .join(" ")
console.log(
  `server: ${remote}; Kafka: ${brokers ? `${brokers}, topic ${topic}` : "not configured (events go to the log)"}`
)
console.log(`load average at the start:    ${loadAverage()}`)
for (let i = 0; i < runs + 1; i++) {
  const many = sample(rules)
  const few = sample(fewRules)
  if (i === 0) continue // warm-up: the server's first queries compile code paths
  samples[rules]!.push(many)
  samples[fewRules]!.push(few)
}

console.log(`load average at the end:      ${loadAverage()} (${os.cpus().length} cores)`)
const outbox = path.join(dir, "state", "outbox.jsonl")
if (brokers && fs.existsSync(outbox) && fs.readFileSync(outbox, "utf8").trim() !== "") {
  console.log(`warning: events were spooled to ${outbox}, not delivered: Kafka's figure is the outbox's`)
}
const medianOf = (count: number, key: keyof Sample) => median(samples[count]!.map((x) => x[key]))
const o = medianOf(rules, "ours")
const t = medianOf(rules, "theirs")
const loop = medianOf(rules, "theirsLoop")
// What one more rule costs: the slope between the two batch sizes, in ms.
const slope = (key: keyof Sample) =>
  ((medianOf(rules, key) - medianOf(fewRules, key)) / (rules - fewRules)) * 1000
const oursPerRule = slope("ours")
const theirsPerStatement = slope("theirsLoop")
console.log(`rules per batch:              ${rules} (and ${fewRules}, for the cost of one more)`)
console.log(`spark-etl run${cli.form} (whole process): median ${o.toFixed(2)} s over ${runs}`)
console.log(
  `pyspark-client (whole process): median ${t.toFixed(2)} s over ${runs} (statement loop ${loop.toFixed(2)} s)`
)
console.log(`ratio ours / pyspark-client:   ${(o / t).toFixed(2)}`)
// Each pair (ours, then theirs, back to back) shares the machine's load of its moment: the range
// of the pairs' ratios is how far this sitting's noise moves the figure.
const pairRatios = samples[rules]!.map((x) => x.ours / x.theirs).sort((a, b) => a - b)
const spread = { low: pairRatios[0]!, high: pairRatios[pairRatios.length - 1]! }
console.log(
  `${`ratios of the ${pairRatios.length} pairs:`.padEnd(31)}${pairRatios.map((r) => r.toFixed(2)).join(" ")} (median ${median(pairRatios).toFixed(2)})`
)
console.log(
  `one more rule: ours ${oursPerRule.toFixed(1)} ms, pyspark-client's statement ${theirsPerStatement.toFixed(1)} ms: ${(oursPerRule - theirsPerStatement).toFixed(1)} ms of overhead per rule beyond the official client's loop`
)
console.log(
  `whole process minus the client's loop, per rule: ${(((o - loop) / rules) * 1000).toFixed(1)} ms (it charges our fixed cost, from process start to exit, to the ${rules} rules)`
)
// `npm run bench` at the root collects every bench's figures (one JSON line each) into one table.
const results = process.env["SPARK_ETL_BENCH_RESULTS"]
if (results)
  fs.appendFileSync(
    results,
    [
      { figure: `${rules} trivial rules, whole process${cli.form}`, unit: "s", ours: o, against: t, spread },
      {
        figure: `one more trivial rule${cli.form}`,
        unit: "ms",
        ours: oursPerRule,
        against: theirsPerStatement
      }
    ]
      .map((f) => `${JSON.stringify({ ...f, againstName: "pyspark-client 4.2.0 (same statements)" })}\n`)
      .join("")
  )
fs.rmSync(dir, { recursive: true, force: true })
