/**
 * Benchmark: what deciding a resume costs for a 10,000-rule batch (a random DAG, each rule
 * depending on up to three earlier ones, half of them writing a target), with no engine in the
 * way: the scripted runner writes one file per target. A first run fails at the last rule of
 * the plan; the rule is fixed; then the resume is planned alone — fingerprints of every rule,
 * choosing the run and reading its checkpoint journal, the plan with each skipped output looked
 * for — and a resumed run (9,999 rules skipped, 1 run) is timed whole. What a resume saves
 * against a full rerun on Spark is measured by the CLI's resume bench.
 *
 * Run after a build: `npm run build && node bench/resume.ts` in packages/core.
 * `RUNS` (default 5), `RULES` (default 10000).
 */
import * as NodeFileSystem from "@effect/platform-node/NodeFileSystem"
import * as NodePath from "@effect/platform-node/NodePath"
import { Batch, Checkpoint, Event, Plugin, Resume, Run, TargetStore } from "@spark-etl/core"
import * as Testing from "@spark-etl/core/testing"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import * as Option from "effect/Option"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"

const runs = Number(process.env["RUNS"] ?? "5")
const rules = Number(process.env["RULES"] ?? "10000")
const dir = fs.mkdtempSync(path.join(os.tmpdir(), "spark-etl-bench-resume-"))
const file = path.join(dir, "bench.yaml")
const ledgerDir = path.join(dir, "ledger")

// A fixed seed, so every run measures the same batch; rule `failing` fails.
const write = (failing?: string) => {
  let seed = 42
  const random = () => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31
    return seed / 2 ** 31
  }
  const lines = ["batch: bench", "targets:", "  roots: [out]", "rules:"]
  for (let i = 0; i < rules; i++) {
    const deps = new Set<number>()
    if (i > 0) for (let k = Math.floor(random() * 4); k > 0; k--) deps.add(Math.floor(random() * i))
    lines.push(`  - id: r${i}`, "    kind: scripted")
    if (deps.size > 0) lines.push(`    depends_on: [${[...deps].map((d) => `r${d}`).join(", ")}]`)
    if (i % 2 === 0) lines.push(`    target: out/t${i}`)
    lines.push(`    options: { ms: 0${failing === `r${i}` ? ", fail: data" : ""} }`)
  }
  fs.writeFileSync(file, lines.join("\n") + "\n")
}
fs.mkdirSync(path.join(dir, "out"))

const node = Layer.mergeAll(NodeFileSystem.layer, NodePath.layer)
// The scripted runner, leaving one file in a rule's target as a real write would.
const scripted = Testing.scripted().runner
const writing: Plugin.Runner<Testing.ScriptedOptions> = {
  ...scripted,
  run: (ctx) =>
    Effect.andThen(
      scripted.run(ctx),
      Effect.sync(() => {
        if (ctx.rule.target === undefined) return
        fs.mkdirSync(ctx.rule.target.location, { recursive: true })
        fs.writeFileSync(path.join(ctx.rule.target.location, "part-0"), ctx.rule.id)
      })
    )
}
const services = Layer.mergeAll(
  Plugin.layer([Plugin.load(writing)]),
  TargetStore.layerFileSystem.pipe(Layer.provide(node)),
  Event.memory().layer,
  node
)
const timed = async <A>(effect: Effect.Effect<A, unknown, Layer.Success<typeof services>>) => {
  const start = performance.now()
  const value = await Effect.runPromise(
    // Quiet: the run's own logging is not what is measured.
    effect.pipe(Effect.provide(services), Effect.provide(Logger.layer([]))) as Effect.Effect<A>
  )
  return { ms: performance.now() - start, value }
}

let counter = 0
const runOnce = (resume: boolean) =>
  timed(
    Run.run({
      batchFile: file,
      ledgerDir,
      runId: `run-${++counter}`,
      ...(resume ? { resume: { _tag: "Latest" } as const } : {})
    })
  )

// A failed run to resume from: the last rule of the plan fails, then is fixed.
write()
const last = (await timed(Batch.load(file))).value.plan.order.at(-1)!
const failOnce = async () => {
  write(last)
  const failed = await runOnce(false)
  if (failed.value.status !== "failed") throw new Error(`the failing run ${failed.value.status}`)
  write()
}

const planning = Effect.gen(function* () {
  const batch = yield* Batch.load(file)
  const registry = yield* Plugin.Registry
  const start = performance.now()
  const prints = yield* Checkpoint.ofBatch(batch, registry)
  const selected = yield* Resume.select(ledgerDir, batch, { _tag: "Latest" })
  if (selected._tag === "Failure") return yield* Effect.die(new Error(selected.failure))
  const store = yield* Batch.targetStore(batch.targetStore)
  const exists = Option.getOrThrow(store).exists!
  const targets = new Map(batch.targets.targets.map((t) => [t.ruleId, t]))
  const decisions = yield* Resume.plan(batch.plan, (id) => {
    const compared = Resume.compare(prints.get(id)!, selected.success.checkpoints.get(id))
    const target = targets.get(id)
    if (compared._tag === "Invalid" || target === undefined) return Effect.succeed(compared)
    return Effect.map(exists(target), (there) => (there ? compared : Resume.invalid("missing")))
  })
  const skipped = Resume.skipped(batch.plan, decisions).length
  return { ms: performance.now() - start, skipped }
})

const median = (xs: ReadonlyArray<number>) => {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.floor(s.length / 2)]!
}

const resumed: Array<number> = []
const planned: Array<number> = []
for (let i = 0; i < runs; i++) {
  await failOnce()
  const plan = await timed(planning)
  if (plan.value.skipped !== rules - 1) throw new Error(`the plan skips ${plan.value.skipped}`)
  planned.push(plan.value.ms)
  const r = await runOnce(true)
  if (r.value.resumed?.skipped.length !== rules - 1)
    throw new Error("the resume did not skip every rule but one")
  resumed.push(r.ms)
}
console.log(`${rules} rules, ${runs} runs each (scripted runner: no engine time)`)
console.log(
  `resume planning (fingerprints, journal, plan with outputs looked for): median ${median(planned).toFixed(0)} ms`
)
console.log(`resumed run (${rules - 1} skipped, 1 run): median ${median(resumed).toFixed(0)} ms`)
const out = process.env["SPARK_ETL_BENCH_RESULTS"]
if (out) {
  const line = (figure: string, ours: number) => `${JSON.stringify({ figure, unit: "ms", ours })}\n`
  fs.appendFileSync(out, line(`${rules} rules: resume planning, median`, median(planned)))
  fs.appendFileSync(
    out,
    line(`${rules} rules: resumed run, ${rules - 1} skipped (no engine), median`, median(resumed))
  )
}
fs.rmSync(dir, { recursive: true, force: true })
