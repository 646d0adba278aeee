/**
 * Benchmark: load, validate and plan a 10,000-rule batch with a random DAG (each rule depends
 * on up to three earlier rules; half the rules write a target that the filesystem store checks
 * against the root, symlinks included). Prints the time of each run and the process's peak RSS.
 *
 * Run after a build: `npm run build && npm run bench` in packages/core (Node 24 strips the types).
 */
import * as NodeFileSystem from "@effect/platform-node/NodeFileSystem"
import * as NodePath from "@effect/platform-node/NodePath"
import { Batch, Dag, Plugin, TargetStore } from "@spark-etl/core"
import * as Testing from "@spark-etl/core/testing"
import { Effect, Layer } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import * as Yaml from "yaml"

const rules = 10_000
const runs = Number(process.env.RUNS ?? 5)

// A fixed seed, so every run measures the same batch.
let seed = 42
const random = () => {
  seed = (seed * 1103515245 + 12345) % 2 ** 31
  return seed / 2 ** 31
}

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "core-bench-"))
fs.mkdirSync(path.join(dir, "out"))
const lines = ["batch: bench", "targets:", "  roots: [out]", "rules:"]
for (let i = 0; i < rules; i++) {
  const deps = new Set<number>()
  if (i > 0) for (let k = Math.floor(random() * 4); k > 0; k--) deps.add(Math.floor(random() * i))
  lines.push(`  - id: r${i}`, "    kind: scripted")
  if (deps.size > 0) lines.push(`    depends_on: [${[...deps].map((d) => `r${d}`).join(", ")}]`)
  if (i % 2 === 0) lines.push(`    target: out/t${i}`)
  lines.push(`    options: { ms: ${i % 7} }`)
}
const file = path.join(dir, "bench.yaml")
fs.writeFileSync(file, lines.join("\n") + "\n")

const node = Layer.mergeAll(NodeFileSystem.layer, NodePath.layer)
const services = Layer.mergeAll(
  Plugin.layer([Plugin.load(Testing.scripted().runner)]),
  TargetStore.layerFileSystem.pipe(Layer.provide(node)),
  node
)

const times: Array<number> = []
const yamlTimes: Array<number> = []
const source = fs.readFileSync(file, "utf8")
for (let run = 0; run < runs; run++) {
  // The YAML library's share: the same parse the loader does, alone (YAML_ALONE=0 skips it, to
  // measure the loader's own peak memory).
  if (process.env.YAML_ALONE !== "0") {
    const parseStart = performance.now()
    Yaml.parseDocument(source, { lineCounter: new Yaml.LineCounter(), uniqueKeys: true, prettyErrors: false })
    yamlTimes.push(performance.now() - parseStart)
  }
  const start = performance.now()
  const batch = await Effect.runPromise(Batch.load(file).pipe(Effect.provide(services)))
  const text = Dag.toText(batch.plan)
  const mermaid = Dag.toMermaid(batch.plan)
  times.push(performance.now() - start)
  if (batch.plan.order.length !== rules || text.length === 0 || mermaid.length === 0) {
    throw new Error("incomplete plan")
  }
}
if (!process.env.KEEP) fs.rmSync(dir, { recursive: true, force: true })
else console.log(file)

const sorted = [...times].sort((a, b) => a - b)
const edges = lines.filter((l) => l.includes("depends_on")).length
console.log(
  `rules: ${rules}, rules with dependencies: ${edges}, file: ${(lines.join("\n").length / 1e6).toFixed(2)} MB`
)
console.log(
  `load + validate + plan (text + Mermaid), ${runs} runs, ms: ${times.map((t) => t.toFixed(0)).join(", ")}`
)
console.log(`first run: ${times[0]!.toFixed(0)} ms, median: ${sorted[Math.floor(runs / 2)]!.toFixed(0)} ms`)
if (yamlTimes.length > 0) {
  const yamlSorted = [...yamlTimes].sort((a, b) => a - b)
  console.log(`of which the YAML parse alone, median: ${yamlSorted[Math.floor(runs / 2)]!.toFixed(0)} ms`)
}
console.log(`peak RSS: ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MB`)
