// Resume on Spark, proven from outside: an 8-rule diamond (a → b, c → d → e → f, g → h, every
// rule writing a Parquet target) fails at e, its fifth rule. After the fix, `run --resume`
// executes e–h only: no rule.started on Kafka for a–d, no Spark job carrying their tags on the
// server (its own UI's REST API), their part files untouched, and h's rows exact. Then an
// upstream change (b's SQL) re-runs b and everything downstream; a deleted output (c's) re-runs
// c and downstream; and a resumed run killed with SIGKILL is itself resumed: what it committed
// before the kill is skipped, what it did not, runs.
import { Effect } from "effect"
import { NodeServices } from "@effect/platform-node"
import { SparkSession } from "@spark-etl/runner-spark-connect"
import * as fs from "node:fs"
import * as path from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import {
  batchFile,
  cli,
  eventually,
  events,
  ofType,
  runArgs,
  runIdOf,
  start,
  summary,
  topic
} from "./harness.js"
import { startSpark, type OwnSpark } from "./servers.js"

const rules: ReadonlyArray<readonly [string, ReadonlyArray<string>]> = [
  ["a", []],
  ["b", ["a"]],
  ["c", ["a"]],
  ["d", ["b", "c"]],
  ["e", ["d"]],
  ["f", ["e"]],
  ["g", ["e"]],
  ["h", ["f", "g"]]
]

const yaml = `batch: diamond
targets:
  roots: [output]
rules:
${rules
  .map(
    ([id, deps]) =>
      `  - id: ${id}\n    kind: sql\n${deps.length > 0 ? `    depends_on: [${deps.join(", ")}]\n` : ""}    target: output/${id}\n    options: { file: sql/${id}.sql }`
  )
  .join("\n")}
`

// Each rule's SQL: a adds up a range; the others pass a total on, adding their own constant.
const sqlOf: Record<string, string> = {
  a: "SELECT sum(id) AS v FROM range(0, 1000)",
  b: "SELECT v + 1 AS v FROM a",
  c: "SELECT v + 2 AS v FROM a",
  d: "SELECT b.v + c.v AS v FROM b CROSS JOIN c",
  e: "SELECT v * 10 AS v FROM d",
  f: "SELECT v + 3 AS v FROM e",
  g: "SELECT v + 4 AS v FROM e",
  h: "SELECT f.v + g.v AS v FROM f CROSS JOIN g"
}
// a = 499500; b = 499501; c = 499502; d = 999003; e = 9990030; f = e+3; g = e+4; h = 2e + 7.
const expectedH = (b: number, c: number) => 2 * (b + c) * 10 + 7
// Fails when it runs (ANSI division by zero), not in preflight.
const failing = "SELECT v / 0 AS v FROM d"

let own: OwnSpark
beforeAll(async () => {
  own = await startSpark("resume", { ui: true })
}, 180_000)
afterAll(async () => {
  await own?.close()
})

const session = <A>(use: (s: SparkSession.Session) => Effect.Effect<A, unknown>) =>
  Effect.runPromise(
    Effect.gen(function* () {
      const s = yield* SparkSession.make({ remote: own.remote })
      return yield* use(s)
    }).pipe(Effect.scoped, Effect.provide(NodeServices.layer)) as Effect.Effect<A>
  )

const hRows = (dir: string) =>
  session((s) =>
    Effect.flatMap(
      s.createTempView(s.read({ format: "parquet", paths: [path.join(dir, "output", "h")] }), "h_out", {
        replace: true
      }),
      () => Effect.flatMap(s.sql("SELECT v FROM h_out"), (df) => s.collect(df))
    )
  )

const partFiles = (dir: string, id: string) =>
  fs
    .readdirSync(path.join(dir, "output", id))
    .filter((f) => f.startsWith("part-"))
    .sort()

// The rule ids whose tag the server's jobs since `before` carry, for run `runId`.
const jobRules = async (runId: string, before: ReadonlySet<number>) => {
  const jobs = (await own.jobs()).filter((j) => !before.has(j.jobId))
  const found = new Set<string>()
  for (const job of jobs)
    for (const tag of job.jobTags ?? []) {
      const m = new RegExp(`spark-etl-${runId.replace(/[^A-Za-z0-9_.-]/g, "_")}-([a-z])$`).exec(tag)
      if (m !== null) found.add(m[1]!)
    }
  return { found, jobs: jobs.length }
}

const world = async (name: string) => {
  const b = batchFile(yaml)
  fs.mkdirSync(path.join(b.dir, "sql"))
  const write = (id: string, sql: string) =>
    fs.writeFileSync(path.join(b.dir, "sql", `${id}.sql`), `${sql}\n`)
  for (const [id] of rules) write(id, sqlOf[id]!)
  const t = await topic(name)
  const run = (...extra: ReadonlyArray<string>) => cli(runArgs(b, t, { remote: own.remote, extra }))
  // The events of one run, as "type rule" strings.
  const of = (runId: string) =>
    events(t)
      .map((e) => e.value["data"] as Record<string, unknown>)
      .filter((d) => d["runId"] === runId)
      .map((d) => `${String(d["type"])}${d["ruleId"] !== undefined ? ` ${String(d["ruleId"])}` : ""}`)
  return { b, t, write, run, of }
}

const started = (types: ReadonlyArray<string>) =>
  types.filter((t) => t.startsWith("rule.started ")).map((t) => t.slice("rule.started ".length))
const skipped = (types: ReadonlyArray<string>) =>
  types.filter((t) => t.startsWith("rule.skipped ")).map((t) => t.slice("rule.skipped ".length))

describe("resume on Spark: an 8-rule diamond", () => {
  it("fails at e, resumes after the fix: a–d not executed again (events, server jobs, files), h exact", async () => {
    const w = await world("diamond")
    w.write("e", failing)
    const failed = await w.run()
    expect(failed.code, failed.stderr).toBe(1)
    const first = runIdOf(failed.stdout)
    expect(started(w.of(first))).toEqual(["a", "b", "c", "d", "e"])
    const filesBefore = Object.fromEntries(["a", "b", "c", "d"].map((id) => [id, partFiles(w.b.dir, id)]))

    w.write("e", sqlOf["e"]!)
    const before = new Set((await own.jobs()).map((j) => j.jobId))
    const resumed = await w.run("--resume")
    expect(resumed.code, resumed.stderr).toBe(0)
    const second = runIdOf(resumed.stdout)
    expect(summary(resumed.stdout)).toContain(`resumed=${first} skipped=4`)
    const types = w.of(second)
    expect(started(types).sort(), types.join("\n")).toEqual(["e", "f", "g", "h"])
    expect(skipped(types)).toEqual(["a", "b", "c", "d"])
    const batchStarted = ofType(events(w.t), "batch.started").find((d) => d["runId"] === second)
    expect(batchStarted).toMatchObject({ resumedFrom: first, skipped: ["a", "b", "c", "d"] })

    // The server's own word: the resumed run's jobs carry the tags of e–h only.
    const { found, jobs } = await jobRules(second, before)
    expect(jobs).toBeGreaterThan(0)
    expect([...found].sort()).toEqual(["e", "f", "g", "h"])
    // Skipped outputs were neither cleaned nor rewritten.
    for (const id of ["a", "b", "c", "d"]) expect(partFiles(w.b.dir, id)).toEqual(filesBefore[id])
    expect(await hRows(w.b.dir)).toEqual([{ v: BigInt(expectedH(499501, 499502)) }])
  })

  it("an upstream change re-runs it and everything after it; a deleted output re-runs its rule and downstream", async () => {
    const w = await world("diamond_change")
    // A failed run at h, so a–g have checkpoints.
    w.write("h", "SELECT f.v / 0 AS v FROM f CROSS JOIN g")
    const failed = await w.run()
    expect(failed.code, failed.stderr).toBe(1)
    w.write("h", sqlOf["h"]!)
    w.write("b", "SELECT v + 11 AS v FROM a")
    const planned = await cli(["plan", w.b.batch, "--resume", "--state-dir", w.b.stateDir])
    expect(planned.stdout).toMatch(/\nrun +b +its definition changed \(SQL, options or target\)/)
    expect(planned.stdout).toMatch(/\nrun +d +upstream rule b runs/)
    const resumed = await w.run("--resume")
    expect(resumed.code, resumed.stderr).toBe(0)
    const types = w.of(runIdOf(resumed.stdout))
    expect(skipped(types)).toEqual(["a", "c"])
    expect(started(types).sort()).toEqual(["b", "d", "e", "f", "g", "h"])
    expect(await hRows(w.b.dir)).toEqual([{ v: BigInt(expectedH(499511, 499502)) }])

    // Fail at h again, then delete c's output before resuming.
    w.write("h", "SELECT f.v / 0 AS v FROM f CROSS JOIN g")
    expect((await w.run()).code).toBe(1)
    w.write("h", sqlOf["h"]!)
    fs.rmSync(path.join(w.b.dir, "output", "c"), { recursive: true })
    const again = await w.run("--resume")
    expect(again.code, again.stderr).toBe(0)
    const typesAgain = w.of(runIdOf(again.stdout))
    expect(skipped(typesAgain)).toEqual(["a", "b"])
    expect(started(typesAgain).sort()).toEqual(["c", "d", "e", "f", "g", "h"])
    expect(await hRows(w.b.dir)).toEqual([{ v: BigInt(expectedH(499511, 499502)) }])
  })

  it("a resumed run killed with SIGKILL is resumed in turn: what it committed is skipped, the rest runs", async () => {
    const w = await world("diamond_kill")
    const gate = `spark-etl-e2e-gate-${Date.now()}`
    w.write("e", failing)
    const failed = await w.run()
    expect(failed.code, failed.stderr).toBe(1)
    const first = runIdOf(failed.stdout)
    // e fixed; f now waits on a gate (a JVM property) that stays shut while the second run lives.
    w.write("e", sqlOf["e"]!)
    w.write(
      "f",
      `SELECT v + 3 AS v FROM e WHERE reflect('java.lang.Thread', 'sleep', CAST(CASE WHEN reflect('java.lang.System', 'getProperty', '${gate}') = 'open' THEN 0 ELSE 120000 END AS BIGINT)) IS NOT NULL`
    )
    const second = start(runArgs(w.b, w.t, { remote: own.remote, extra: ["--resume"] }))
    // Killed once e's checkpoint is in its journal and f runs: no fixed wait.
    const journal = () => {
      const dir = path.join(w.b.stateDir, "ledger", "diamond")
      const file = fs.readdirSync(dir).find((f) => f.endsWith(".checkpoints.jsonl") && !f.startsWith(first))
      return file === undefined ? "" : fs.readFileSync(path.join(dir, file), "utf8")
    }
    await eventually(
      async () =>
        journal().includes('"ruleId":"e"') &&
        events(w.t).some(
          (e) =>
            (e.value["data"] as Record<string, unknown>)["type"] === "rule.started" &&
            (e.value["data"] as Record<string, unknown>)["ruleId"] === "f" &&
            (e.value["data"] as Record<string, unknown>)["runId"] !== first
        ),
      90_000
    )
    second.child.kill("SIGKILL")
    await second.exited
    await session((s) =>
      Effect.flatMap(
        s.sql(
          `SELECT reflect('java.lang.System', 'setProperty', '${gate}', 'open') AS x FROM VALUES (1) AS t(y)`
        ),
        (df) => s.collect(df)
      )
    )

    const third = await w.run("--resume")
    expect(third.code, third.stderr).toBe(0)
    const types = w.of(runIdOf(third.stdout))
    expect(skipped(types)).toEqual(["a", "b", "c", "d", "e"])
    expect(started(types).sort()).toEqual(["f", "g", "h"])
    // The killed run was found crashed and reported, and its f fenced before the resume ran.
    expect(ofType(events(w.t), "batch.crashed")).toHaveLength(1)
    expect(await hRows(w.b.dir)).toEqual([{ v: BigInt(expectedH(499501, 499502)) }])
  })
})
