/**
 * `npm run bench`: every package's bench in one run (`nx run-many -t bench`), then one table of
 * the figures they report — ours against what each compares with (pyspark-client on the same
 * server, or the source tree for the release), with the ratio and the machine's load average
 * before and after. Benches append one JSON line per figure to $SPARK_ETL_BENCH_RESULTS.
 */
import { spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"

interface Figure {
  readonly figure: string
  readonly unit: string
  readonly ours: number
  readonly against?: number
  readonly againstName?: string
  /** The lowest and highest ratio of the bench's paired runs (ours, then theirs, back to back). */
  readonly spread?: { readonly low: number; readonly high: number }
}

const loadAverage = () => fs.readFileSync("/proc/loadavg", "utf8").split(" ").slice(0, 3).join(" ")
const results = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "spark-etl-bench-")), "figures.jsonl")
fs.writeFileSync(results, "")
const loadBefore = loadAverage()
const started = Date.now()
const benches = spawnSync("npx", ["nx", "run-many", "-t", "bench", "--parallel=1", "--outputStyle=stream"], {
  stdio: "inherit",
  env: { ...process.env, SPARK_ETL_BENCH_RESULTS: results }
})
const figures = fs
  .readFileSync(results, "utf8")
  .split("\n")
  .filter((l) => l.trim() !== "")
  .map((l) => JSON.parse(l) as Figure)

const cell = (n: number | undefined, unit: string) =>
  n === undefined ? "" : `${n.toFixed(unit === "s" ? 2 : 0)} ${unit}`
const rows = figures.map((f) => [
  f.figure,
  cell(f.ours, f.unit),
  cell(f.against, f.unit),
  f.against === undefined || f.against === 0 ? "" : (f.ours / f.against).toFixed(2),
  f.spread === undefined ? "" : `${f.spread.low.toFixed(2)}–${f.spread.high.toFixed(2)}`,
  f.againstName ?? ""
])
const header = ["figure", "ours", "against", "ratio", "pairs' ratios", "against what"]
const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)))
const line = (cells: ReadonlyArray<string>) => `| ${cells.map((c, i) => c.padEnd(widths[i]!)).join(" | ")} |`
console.log(
  `\nspark-etl benchmarks, ${new Date().toISOString()}, ${os.cpus().length} cores, ${((Date.now() - started) / 60000).toFixed(1)} min`
)
console.log(`load average before: ${loadBefore}; after: ${loadAverage()}\n`)
console.log(line(header))
console.log(line(widths.map((w) => "-".repeat(w))))
for (const r of rows) console.log(line(r))
fs.rmSync(path.dirname(results), { recursive: true, force: true })
process.exit(benches.status ?? 1)
