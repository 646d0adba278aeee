/**
 * Start-up of the CLI as a scheduler job meets it, before (the source tree: `node dist/main.js`,
 * modules read one by one) and after (the release: one bundle with lazy chunks, on its own Node),
 * in one run on one machine, median of 10 each after a warm-up:
 * - `--help`; `validate` of the sample batch (touches no server);
 * - start to first Spark answer: spawning `spark-etl run` to its log line saying the engine
 *   session is open (opening it is the first RPC).
 * Also `validate` of 10,000 rules, valid and with two issues to report (each with its position),
 * the artifact's size, its build time and its install time (install.sh into a fresh prefix),
 * and the CLI's 50-rule overhead bench (packages/cli/bench/overhead.ts) run on the release.
 *
 *   npm run bench   (from tools/release; starts Spark unless SPARK_REMOTE is set)
 */
import * as Effect from "effect/Effect"
import { execFileSync, spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import * as Release from "@spark-etl/release"

const remote = process.env["SPARK_REMOTE"]
if (!remote) {
  console.error("set SPARK_REMOTE (npm run bench starts a local server and sets it)")
  process.exit(1)
}
const runs = 10
const median = (xs: ReadonlyArray<number>) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!
const ms = (since: bigint) => Number(process.hrtime.bigint() - since) / 1e6
const work = fs.mkdtempSync(path.join(os.tmpdir(), "spark-etl-startup-"))

const built = process.hrtime.bigint()
const artifact = await Effect.runPromise(Release.build({ outDir: path.join(work, "dist") }))
const buildMs = ms(built)
fs.mkdirSync(path.join(work, "unpacked"))
execFileSync("tar", ["-xzf", artifact.tarball, "-C", path.join(work, "unpacked")])
const installs: Array<number> = []
for (let i = 0; i < 3; i++) {
  const t = process.hrtime.bigint()
  execFileSync("sh", [path.join(work, "unpacked", artifact.name, "install.sh"), path.join(work, `opt-${i}`)])
  installs.push(ms(t))
}

/** A CLI as a command line: its program and the arguments before the CLI's own. */
interface Cli {
  readonly name: string
  readonly command: string
  readonly prefix: ReadonlyArray<string>
}
const clis: ReadonlyArray<Cli> = [
  {
    name: "source tree (node dist/main.js)",
    command: process.execPath,
    prefix: [path.join(Release.repoRoot, "packages", "cli", "dist", "main.js")]
  },
  { name: "release (bin/spark-etl)", command: path.join(work, "opt-0", "bin", "spark-etl"), prefix: [] }
]

const timed = (cli: Cli, args: ReadonlyArray<string>): number => {
  const t = process.hrtime.bigint()
  execFileSync(cli.command, [...cli.prefix, ...args], { stdio: "ignore" })
  return ms(t)
}

const batch = path.join(work, "one.yaml")
fs.writeFileSync(
  batch,
  "batch: startup\nrules:\n  - id: one\n    kind: sql\n    options:\n      sql: SELECT 1 AS one\n"
)
// The sample batch, copied with an empty output root (validate checks that the root exists).
fs.cpSync(path.join(Release.repoRoot, "examples", "orders"), path.join(work, "orders"), {
  recursive: true,
  filter: (f) => !/\/(data|output)(\/|$)/.test(path.relative(Release.repoRoot, f))
})
fs.mkdirSync(path.join(work, "orders", "output"))
const sample = [path.join(work, "orders", "batch.yaml"), "--param", "run_date=2026-11-26"]

/** Spawn to the "engine session open" log line, by the log's own clock. */
const firstRpc = (cli: Cli, i: number): number => {
  const log = path.join(work, `${cli.command.length}-${i}.jsonl`)
  const spawnedAt = Date.now()
  execFileSync(
    cli.command,
    [
      ...cli.prefix,
      "run",
      batch,
      "--remote",
      remote,
      "--state-dir",
      path.join(work, "state"),
      "--log-file",
      log
    ],
    { stdio: "ignore" }
  )
  const opened = fs
    .readFileSync(log, "utf8")
    .split("\n")
    .filter((l) => l.includes("engine session open"))
    .map((l) => Date.parse((JSON.parse(l) as { time: string }).time))[0]
  if (opened === undefined) throw new Error(`no 'engine session open' line in ${log}`)
  return opened - spawnedAt
}

// 10,000 sql rules (a third depending on earlier ones, half writing a target) for `validate`;
// and the same with two issues near the end: an unknown dependency, a target outside the roots.
const tenThousandText = `batch: ten_thousand\ntargets:\n  roots: [output]\nrules:\n${Array.from(
  { length: 10_000 },
  (_, i) => {
    const deps = i % 3 === 0 && i > 0 ? `    depends_on: [r${i - 1}]\n` : ""
    const target = i % 2 ? `    target: output/r${i}\n` : ""
    return `  - id: r${i}\n    kind: sql\n${deps}${target}    options:\n      sql: SELECT ${i} AS n\n`
  }
).join("")}`
const tenThousand = path.join(work, "orders", "ten-thousand.yaml")
fs.writeFileSync(tenThousand, tenThousandText)
const tenThousandRejected = path.join(work, "orders", "ten-thousand-rejected.yaml")
fs.writeFileSync(
  tenThousandRejected,
  tenThousandText
    .replace("depends_on: [r8999]", "depends_on: [r8999, nope]")
    .replace("target: output/r9999", "target: elsewhere/r9999")
)

/** `validate` of a 10,000-rule file: wall time and the process's peak RSS (by GNU time). */
const validateTenThousand = (
  cli: Cli,
  file: string,
  expected: { readonly status: number; readonly lines: ReadonlyArray<string> }
): { readonly ms: number; readonly rssMb: number } => {
  const t = process.hrtime.bigint()
  const run = spawnSync("/usr/bin/time", ["-f", "%M", cli.command, ...cli.prefix, "validate", file], {
    encoding: "utf8"
  })
  const missing = expected.lines.filter((l) => !`${run.stdout}${run.stderr}`.includes(l))
  if (run.status !== expected.status || missing.length > 0)
    throw new Error(`validate of ${file}: exit ${run.status}, missing ${missing.join("; ")}: ${run.stderr}`)
  // GNU time writes the peak RSS (KiB) as the last line of stderr.
  return { ms: ms(t), rssMb: Number(run.stderr.trim().split("\n").at(-1)) / 1024 }
}
const valid = { status: 0, lines: ["is valid (10000 rules"] }
const rejected = {
  status: 3,
  lines: [
    `${tenThousandRejected}:43506:25: rules[9000].depends_on[1]`,
    `${tenThousandRejected}:48335:13: rules[9999].target`
  ]
}

const rows: Array<[string, string, string, string]> = []
interface Large {
  readonly name: string
  readonly ms: number
  readonly rssMb: number
}
const large: Array<Large> = []
const largeRejected: Array<Large> = []
const medianOf = (
  name: string,
  vs: ReadonlyArray<{ readonly ms: number; readonly rssMb: number }>
): Large => ({
  name,
  ms: median(vs.map((v) => v.ms)),
  rssMb: median(vs.map((v) => v.rssMb))
})
for (const cli of clis) {
  const figures = { help: [] as Array<number>, validate: [] as Array<number>, rpc: [] as Array<number> }
  for (let i = 0; i <= runs; i++) {
    const help = timed(cli, ["--help"])
    const validate = timed(cli, ["validate", ...sample])
    const rpc = firstRpc(cli, i)
    // The first round warms the OS cache and Node's compile cache.
    if (i === 0) continue
    figures.help.push(help)
    figures.validate.push(validate)
    figures.rpc.push(rpc)
  }
  large.push(
    medianOf(cli.name, Array.from({ length: 6 }, () => validateTenThousand(cli, tenThousand, valid)).slice(1))
  )
  largeRejected.push(
    medianOf(
      cli.name,
      Array.from({ length: 6 }, () => validateTenThousand(cli, tenThousandRejected, rejected)).slice(1)
    )
  )
  rows.push([
    cli.name,
    median(figures.help).toFixed(0),
    median(figures.validate).toFixed(0),
    median(figures.rpc).toFixed(0)
  ])
}
// The CLI's per-rule overhead bench, on the release as installed: 50 trivial rules against
// pyspark-client's same statements, as many pairs as the source tree's (it reports its figures itself).
execFileSync(process.execPath, [path.join(Release.repoRoot, "packages", "cli", "bench", "overhead.ts")], {
  stdio: "inherit",
  env: { ...process.env, SPARK_ETL_CLI: path.join(work, "opt-0", "bin", "spark-etl") }
})
fs.rmSync(work, { recursive: true, force: true })

console.log(`load average: ${fs.readFileSync("/proc/loadavg", "utf8").split(" ").slice(0, 3).join(" ")}`)
console.log(
  `artifact ${path.basename(artifact.tarball)}: ${(artifact.bytes / 2 ** 20).toFixed(1)} MiB, ` +
    `built in ${(buildMs / 1000).toFixed(1)} s, installed in ${median(installs).toFixed(0)} ms (median of 3)`
)
console.log(`median of ${runs}, ms          --help  validate  start→first RPC`)
for (const [name, help, validate, rpc] of rows)
  console.log(`${name.padEnd(34)}${help.padStart(6)}${validate.padStart(10)}${rpc.padStart(17)}`)
for (const [title, ls] of [
  ["validate of 10,000 sql rules, median of 5:", large],
  ["validate of the 10,000 rules with two issues, median of 5:", largeRejected]
] as const) {
  console.log(title)
  for (const l of ls)
    console.log(
      `${l.name.padEnd(34)}${l.ms.toFixed(0).padStart(6)} ms ${l.rssMb.toFixed(0).padStart(6)} MiB peak RSS`
    )
}

// `npm run bench` at the root collects every bench's figures (one JSON line each) into one table.
const results = process.env["SPARK_ETL_BENCH_RESULTS"]
if (results) {
  const [before, after] = rows
  const [largeBefore, largeAfter] = large
  const [rejectedBefore, rejectedAfter] = largeRejected
  const against = "the source tree (node dist/main.js)"
  const line = (figure: string, unit: string, ours: number, was: number) =>
    `${JSON.stringify({ figure, unit, ours, against: was, againstName: against })}\n`
  if (before && after && largeBefore && largeAfter && rejectedBefore && rejectedAfter)
    fs.appendFileSync(
      results,
      line("release: --help", "ms", Number(after[1]), Number(before[1])) +
        line("release: validate of the sample", "ms", Number(after[2]), Number(before[2])) +
        line("release: start to first Spark RPC", "ms", Number(after[3]), Number(before[3])) +
        line("release: validate of 10,000 rules", "ms", largeAfter.ms, largeBefore.ms) +
        line("release: validate of 10,000 rules, peak RSS", "MiB", largeAfter.rssMb, largeBefore.rssMb) +
        line("release: validate of 10,000 rules with two issues", "ms", rejectedAfter.ms, rejectedBefore.ms) +
        line(
          "release: validate of 10,000 rules with two issues, peak RSS",
          "MiB",
          rejectedAfter.rssMb,
          rejectedBefore.rssMb
        )
    )
}
