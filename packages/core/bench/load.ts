/**
 * Benchmark: load, validate and plan a 10,000-rule batch with a random DAG (each rule depends
 * on up to three earlier rules; half the rules write a target that the filesystem store checks
 * against the root, symlinks included). Each run is a fresh process, as `spark-etl validate`
 * is: it prints the median time of load + validate + plan (and its CPU time) and the median
 * and worst peak RSS of the processes.
 *
 * Run after a build: `npm run build && npm run bench` in packages/core (Node 24 strips the types).
 * `RUNS` (default 5), `RULES` (default 10000); `KEEP=1` keeps the generated batch file.
 */
import * as NodeFileSystem from "@effect/platform-node/NodeFileSystem"
import * as NodePath from "@effect/platform-node/NodePath"
import { Batch, Dag, Plugin, TargetStore } from "@spark-etl/core"
import * as Testing from "@spark-etl/core/testing"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { execFileSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"

interface Measure {
  readonly ms: number
  /** CPU time of the process (all threads) meanwhile: steadier than wall time on a busy host. */
  readonly cpuMs: number
  readonly maxRssMb: number
  /** RSS once the modules are loaded, before the batch is: what the work adds is the rest. */
  readonly startRssMb: number
}

// One measurement in this process: load + validate + plan of `file`, then the process's peak RSS.
const measure = async (file: string, rules: number): Promise<Measure> => {
  const startRssMb = process.memoryUsage().rss / 2 ** 20
  const node = Layer.mergeAll(NodeFileSystem.layer, NodePath.layer)
  const services = Layer.mergeAll(
    Plugin.layer([Plugin.load(Testing.scripted().runner)]),
    TargetStore.layerFileSystem.pipe(Layer.provide(node)),
    node
  )
  const start = performance.now()
  const cpu = process.cpuUsage()
  const batch = await Effect.runPromise(Batch.load(file).pipe(Effect.provide(services)))
  const text = Dag.toText(batch.plan)
  const mermaid = Dag.toMermaid(batch.plan)
  const ms = performance.now() - start
  const used = process.cpuUsage(cpu)
  if (batch.plan.order.length !== rules || text.length === 0 || mermaid.length === 0) {
    throw new Error("incomplete plan")
  }
  return {
    ms,
    cpuMs: (used.user + used.system) / 1000,
    maxRssMb: process.resourceUsage().maxRSS / 1024,
    startRssMb
  }
}

// A batch of `rules` rules; a fixed seed, so every run measures the same batch.
const generate = (dir: string, rules: number): { file: string; edges: number; bytes: number } => {
  let seed = 42
  const random = () => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31
    return seed / 2 ** 31
  }
  fs.mkdirSync(path.join(dir, "out"))
  const lines = ["batch: bench", "targets:", "  roots: [out]", "rules:"]
  let edges = 0
  for (let i = 0; i < rules; i++) {
    const deps = new Set<number>()
    if (i > 0) for (let k = Math.floor(random() * 4); k > 0; k--) deps.add(Math.floor(random() * i))
    lines.push(`  - id: r${i}`, "    kind: scripted")
    if (deps.size > 0) {
      edges++
      lines.push(`    depends_on: [${[...deps].map((d) => `r${d}`).join(", ")}]`)
    }
    if (i % 2 === 0) lines.push(`    target: out/t${i}`)
    lines.push(`    options: { ms: ${i % 7} }`)
  }
  const file = path.join(dir, "bench.yaml")
  const text = lines.join("\n") + "\n"
  fs.writeFileSync(file, text)
  return { file, edges, bytes: text.length }
}

const median = (xs: ReadonlyArray<number>): number =>
  [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!

const rules = Number(process.env.RULES ?? 10_000)
const child = process.env.BENCH_FILE
if (child !== undefined) {
  console.log(JSON.stringify(await measure(child, rules)))
} else {
  const runs = Number(process.env.RUNS ?? 5)
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "core-bench-"))
  const { file, edges, bytes } = generate(dir, rules)
  const results: Array<Measure> = []
  for (let run = 0; run < runs; run++) {
    const out = execFileSync(process.execPath, [...process.execArgv, process.argv[1]!], {
      env: { ...process.env, BENCH_FILE: file },
      encoding: "utf8"
    })
    results.push(JSON.parse(out.trim().split("\n").pop()!) as Measure)
  }
  if (!process.env.KEEP) fs.rmSync(dir, { recursive: true, force: true })
  else console.log(file)
  const times = results.map((r) => r.ms)
  const rss = results.map((r) => r.maxRssMb)
  console.log(`rules: ${rules}, rules with dependencies: ${edges}, file: ${(bytes / 1e6).toFixed(2)} MB`)
  console.log(
    `load + validate + plan (text + Mermaid), ${runs} fresh processes, ms: ${times.map((t) => t.toFixed(0)).join(", ")}`
  )
  console.log(
    `median: ${median(times).toFixed(0)} ms (CPU time, median: ${median(results.map((r) => r.cpuMs)).toFixed(0)} ms)`
  )
  console.log(
    `peak RSS per process, MB: ${rss.map((r) => r.toFixed(0)).join(", ")} (median ${median(rss).toFixed(0)}, max ${Math.max(...rss).toFixed(0)}; before loading the batch, median ${median(results.map((r) => r.startRssMb)).toFixed(0)})`
  )
  // `npm run bench` at the root collects every bench's figures (one JSON line each) into one table.
  const out = process.env["SPARK_ETL_BENCH_RESULTS"]
  if (out) {
    const line = (figure: string, unit: string, ours: number) => `${JSON.stringify({ figure, unit, ours })}\n`
    fs.appendFileSync(out, line(`${rules} rules: core load + validate + plan, median`, "ms", median(times)))
    fs.appendFileSync(out, line(`${rules} rules: core peak RSS, median`, "MB", median(rss)))
  }
}
