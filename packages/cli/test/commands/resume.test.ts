// `--resume` of `run` and `plan`: how the command line says it, what `plan --resume` and
// `run --dry-run --resume` show (skip / run and why) without Spark, and every refusal — the same
// RESUME_REFUSED rejection, exit 3, that the run itself gives. The ledgers and journals are
// written by real runs of core (fixtureRuns.ts); the commands run in-process.
import * as NodeServices from "@effect/platform-node/NodeServices"
import { ExitCode } from "@spark-etl/core"
import { Effect, Option } from "effect"
import { Command } from "effect/cli"
import * as fs from "node:fs"
import * as path from "node:path"
import { describe, expect, it, vi } from "vitest"
import * as Cli from "../../src/Cli.js"
import * as ExitStatus from "../../src/ExitStatus.js"
import type * as ResumePreview from "../../src/ResumePreview.js"
import { resumeHint, resumeRequest } from "../../src/commands/flags.js"
import * as Plan from "../../src/commands/plan.js"
import * as Run from "../../src/commands/run.js"
import { fixtureRun, resumable } from "./fixtureRuns.js"
import { handle } from "./support.js"

/** `spark-etl ARGS` in this process: the real command line, parsed by effect/cli. */
const cli = (args: ReadonlyArray<string>) =>
  handle(
    Effect.andThen(Command.runWith(Cli.command, { version: "0.1.0" })(args), ExitStatus.get).pipe(
      Effect.map(Option.getOrElse(() => ExitCode.Usage)),
      Effect.catch(() => Effect.succeed(ExitCode.Usage)),
      Effect.scoped,
      Effect.provide(ExitStatus.layer),
      Effect.provide(NodeServices.layer)
    )
  )

const latest: ResumePreview.Request = { _tag: "Latest" }

const planFlags = (batchFile: string, state: string, resume: Option.Option<ResumePreview.Request>) => ({
  batchFile,
  params: Option.none<Record<string, string>>(),
  format: "text" as const,
  resume,
  stateDir: Option.some(state),
  kafkaBrokers: Option.none<string>(),
  kafkaTopic: Option.none<string>(),
  siteConfig: Option.none<string>()
})

const plan = (batchFile: string, state: string, resume: ResumePreview.Request = latest) =>
  handle(Plan.handler(planFlags(batchFile, state, Option.some(resume))))

/** The refusal's one issue, as stderr shows it. */
const refused = (reason: string) =>
  `resume refused (RESUME_REFUSED):\n  command line:1:1: --resume: ${reason}; run without --resume for a fresh delete-and-load`

/** A batch whose first run failed at `report`: load, totals and audit have checkpoints. */
const failedOnce = async () => {
  const b = resumable()
  const first = await fixtureRun(b.file, b.state, { failing: { report: 1 } })
  expect(first.status).toBe("failed")
  return { ...b, first: first.runId }
}

describe("the --resume flag", () => {
  it("a bare --resume is the latest run, --resume=<id> that run; an empty id is no request", () => {
    expect(resumeRequest("latest")).toEqual(Option.some({ _tag: "Latest" }))
    expect(resumeRequest("0b6c-1")).toEqual(Option.some({ _tag: "Run", runId: "0b6c-1" }))
    expect(resumeRequest(" ")).toEqual(Option.none())
  })

  it("is parsed by plan and run in both forms, before or after the batch file", async () => {
    const b = resumable()
    const state = ["--state-dir", b.state]
    const noRun = refused("no earlier run of this batch with no parameters")
    for (const args of [
      ["plan", b.file, "--resume", ...state],
      ["plan", "--resume", b.file, ...state],
      ["run", b.file, "--resume", "--dry-run", ...state]
    ]) {
      const r = await cli(args)
      expect(r, args.join(" ")).toMatchObject({ code: 3, stdout: [] })
      expect(r.stderr).toEqual([noRun])
    }
    for (const args of [
      ["plan", b.file, "--resume=0b6c-1", ...state],
      ["run", "--resume=0b6c-1", b.file, "--dry-run", ...state]
    ]) {
      const r = await cli(args)
      expect(r.code, args.join(" ")).toBe(3)
      expect(r.stderr).toEqual([refused("no readable run 0b6c-1 of this batch in the ledger")])
    }
  })

  it("--resume= (no id) and --resume <id> (no '='): exit 64, and the hint says where the '=' goes", async () => {
    const b = resumable()
    expect((await cli(["plan", b.file, "--resume=", "--state-dir", b.state])).code).toBe(64)
    expect((await cli(["plan", b.file, "--resume", "0b6c-1", "--state-dir", b.state])).code).toBe(64)
    expect(resumeHint(["plan", "b.yaml", "--resume", "0b6c-1"])).toEqual(
      Option.some(
        'spark-etl: a run id goes with an "=": --resume=0b6c-1 (a bare --resume resumes the latest run)'
      )
    )
    expect(resumeHint(["plan", "b.yaml", "--resume", "--state-dir", "s"])).toEqual(Option.none())
    expect(resumeHint(["plan", "b.yaml", "--resume"])).toEqual(Option.none())
  })

  it("plan --resume shows a resume as text only: with --format mermaid, exit 64", async () => {
    const b = await failedOnce()
    const r = await handle(
      Plan.handler({ ...planFlags(b.file, b.state, Option.some(latest)), format: "mermaid" })
    )
    expect(r).toEqual({
      code: 64,
      stdout: [],
      stderr: ["--resume shows a resume as text: leave out --format mermaid"]
    })
  })
})

describe("plan --resume", () => {
  it("nothing changed: the failed rule and what follows it run, the rest is skipped", async () => {
    const b = await failedOnce()
    const r = await plan(b.file, b.state)
    expect(r.code).toBe(0)
    expect(r.stderr).toEqual([])
    const [header, ...rules] = r.stdout[0]!.split("\n")
    expect(header).toMatch(
      new RegExp(`^resume of run ${b.first} \\(failed, started \\S+\\): 3 of 4 rules skipped, 1 run$`)
    )
    expect(rules).toEqual([
      `skip  load    checkpoint of run ${b.first} valid`,
      `skip  audit   checkpoint of run ${b.first} valid`,
      `skip  totals  checkpoint of run ${b.first} valid`,
      "run   report  no checkpoint (it did not succeed in the resumed run)"
    ])
  })

  it("a changed SQL file runs its rule and everything after it; a missing output runs its rule", async () => {
    const b = await failedOnce()
    fs.writeFileSync(path.join(b.dir, "sql", "totals.sql"), "SELECT sum(x) * 2 AS total FROM load\n")
    fs.rmSync(path.join(b.dir, "output", "audit"), { recursive: true })
    const r = await plan(b.file, b.state)
    expect(r.code).toBe(0)
    expect(r.stdout[0]!.split("\n").slice(1)).toEqual([
      `skip  load    checkpoint of run ${b.first} valid`,
      `run   audit   its output ${path.join(b.dir, "output", "audit")} is missing`,
      "run   totals  its definition changed (SQL, options or target)",
      "run   report  upstream rule totals runs"
    ])
  })

  it("an upstream rule that runs makes the rules after it run, whatever their checkpoints", async () => {
    const b = await failedOnce()
    fs.writeFileSync(b.file, fs.readFileSync(b.file, "utf8").replace("SELECT 1 AS x", "SELECT 3 AS x"))
    const r = await plan(b.file, b.state)
    expect(r.stdout[0]!.split("\n").slice(1)).toEqual([
      "run   load    its definition changed (SQL, options or target)",
      `skip  audit   checkpoint of run ${b.first} valid`,
      "run   totals  upstream rule load runs",
      "run   report  upstream rule totals runs"
    ])
  })

  it("--resume=<id> names the run; a resume of a resume skips on the first run's checkpoints", async () => {
    const b = await failedOnce()
    const second = await fixtureRun(b.file, b.state, { resume: latest, failing: { report: 1 } })
    expect(second.resumed).toEqual({ from: b.first, skipped: ["load", "audit", "totals"] })
    const r = await plan(b.file, b.state, { _tag: "Run", runId: second.runId })
    expect(r.code).toBe(0)
    expect(r.stdout[0]).toContain(`resume of run ${second.runId} (failed,`)
    // The checkpoints carried over still name the run that wrote the outputs.
    expect(r.stdout[0]).toContain(`skip  load    checkpoint of run ${b.first} valid`)
  })
})

describe("a refused resume: exit 3 with the reason, as the run would refuse", () => {
  it("no earlier run of the batch with these parameters", async () => {
    const b = resumable()
    expect(await plan(b.file, b.state)).toEqual({
      code: 3,
      stdout: [],
      stderr: [refused("no earlier run of this batch with no parameters")]
    })
  })

  it("the latest run succeeded: nothing to resume", async () => {
    const b = resumable()
    const ok = await fixtureRun(b.file, b.state)
    const r = await plan(b.file, b.state)
    expect(r.code).toBe(3)
    expect(r.stderr).toEqual([
      refused(`the latest run with these parameters, ${ok.runId}, succeeded: there is nothing to resume`)
    ])
  })

  it("the named run is unknown, ran with other parameters, or a later run followed it", async () => {
    const b = resumable("parameters:\n  run_date: { type: date }\n")
    const withParams = { params: { run_date: "2026-11-26" } }
    const first = await fixtureRun(b.file, b.state, { ...withParams, failing: { report: 1 } })
    const later = await fixtureRun(b.file, b.state, { ...withParams, failing: { report: 1 } })
    const planWith = (runDate: string, request: ResumePreview.Request) =>
      handle(
        Plan.handler({
          ...planFlags(b.file, b.state, Option.some(request)),
          params: Option.some({ run_date: runDate })
        })
      )
    expect((await planWith("2026-11-26", { _tag: "Run", runId: "nope" })).stderr).toEqual([
      refused("no readable run nope of this batch in the ledger")
    ])
    expect((await planWith("2026-11-27", latest)).stderr).toEqual([
      refused("no earlier run of this batch with run_date=2026-11-27")
    ])
    expect((await planWith("2026-11-27", { _tag: "Run", runId: first.runId })).stderr).toEqual([
      refused(`run ${first.runId} ran with other parameters (run_date=2026-11-26; now run_date=2026-11-27)`)
    ])
    const r = await planWith("2026-11-26", { _tag: "Run", runId: first.runId })
    expect(r.code).toBe(3)
    expect(r.stderr).toEqual([
      refused(
        `run ${later.runId}, started after run ${first.runId} with the same parameters, may have rewritten its outputs (resume ${later.runId} instead)`
      )
    ])
  })

  it("a ledger record that cannot be read, or a torn journal", async () => {
    const b = await failedOnce()
    const ledger = path.join(b.state, "ledger", "resumable")
    fs.appendFileSync(path.join(ledger, `${b.first}.checkpoints.jsonl`), "{not json\n")
    const torn = await plan(b.file, b.state)
    expect(torn.code).toBe(3)
    expect(torn.stderr[0]).toContain(`--resume: the checkpoints of run ${b.first} cannot be read:`)
    fs.writeFileSync(path.join(ledger, "broken.json"), "{")
    const r = await plan(b.file, b.state)
    expect(r.code).toBe(3)
    expect(r.stderr[0]).toContain(
      `--resume: the latest run cannot be told; a record of the batch cannot be read (${path.join(ledger, "broken.json")})`
    )
  })

  it("the batch file says resume: never", async () => {
    const b = resumable("resume: never\n")
    const r = await plan(b.file, b.state)
    expect(r).toEqual({
      code: 3,
      stdout: [],
      stderr: [refused(`the batch file says resume: never (${b.file})`)]
    })
  })

  it("a batch rejected for itself is told as such, before any resume", async () => {
    const b = resumable()
    fs.writeFileSync(b.file, "batch: broken\nrules: 3\n")
    const r = await plan(b.file, b.state)
    expect(r.code).toBe(3)
    expect(r.stderr[0]).toMatch(/^batch rejected \(CONFIG_INVALID\):/)
  })
})

describe("run --dry-run --resume", () => {
  type Flags = Parameters<typeof Run.handler>[0]
  const runFlags = (batchFile: string, state: string, overrides: Partial<Flags> = {}): Flags => ({
    batchFile,
    params: Option.none(),
    remote: Option.some("local"),
    parallelism: Option.none(),
    dryRun: true,
    resume: Option.some(latest),
    stateDir: Option.some(state),
    logDir: Option.none(),
    logFile: Option.none(),
    kafkaBrokers: Option.none(),
    kafkaTopic: Option.none(),
    sparkTimeout: Option.some(5),
    localSparkVersion: Option.none(),
    siteConfig: Option.none(),
    ...overrides
  })

  it("shows the plan, what the resume skips and runs, and cleans only what runs; nothing touched", async () => {
    const b = await failedOnce()
    fs.writeFileSync(path.join(b.dir, "sql", "totals.sql"), "SELECT 0 AS total\n")
    const before = fs.readdirSync(path.join(b.dir, "output")).sort()
    const r = await handle(Run.handler(runFlags(b.file, b.state)))
    expect(r.code).toBe(0)
    expect(r.stdout[0]).toBe("batch resumable: 4 rules, valid (dry run: nothing was touched)")
    expect(r.stdout[2]!.split("\n").slice(1)).toEqual([
      `skip  load    checkpoint of run ${b.first} valid`,
      `skip  audit   checkpoint of run ${b.first} valid`,
      "run   totals  its definition changed (SQL, options or target)",
      "run   report  upstream rule totals runs"
    ])
    expect(r.stdout.slice(3)).toEqual([
      `cleanup (delete-and-load) would empty:\n  totals: ${path.join(b.dir, "output", "totals")}`,
      "spark: local (not contacted)"
    ])
    expect(fs.readdirSync(path.join(b.dir, "output")).sort()).toEqual(before)
    expect(fs.existsSync(path.join(b.dir, "output", "totals", "part-00000"))).toBe(true)
  })

  it("with every target skipped, there is nothing to clean", async () => {
    const b = resumable()
    const first = await fixtureRun(b.file, b.state, { failing: { report: 1 } })
    const r = await handle(Run.handler(runFlags(b.file, b.state)))
    expect(r.stdout[2]).toContain(`skip  totals  checkpoint of run ${first.runId} valid`)
    expect(r.stdout[3]).toBe("cleanup: none (every target is a skipped rule's output, kept as it is)")
  })

  it("a batch that says resume: auto: its dry run resumes without --resume, or says why it runs fresh", async () => {
    const b = resumable("resume: auto\n")
    const fresh = await handle(Run.handler(runFlags(b.file, b.state, { resume: Option.none() })))
    expect(fresh.code).toBe(0)
    expect(fresh.stdout[2]).toBe(
      "resume: auto: no earlier run of this batch with no parameters; running fresh (delete-and-load)"
    )
    expect(fresh.stdout[3]).toMatch(/^cleanup \(delete-and-load\) would empty:\n {2}load: /)
    const first = await fixtureRun(b.file, b.state, { failing: { report: 1 } })
    const resumed = await handle(Run.handler(runFlags(b.file, b.state, { resume: Option.none() })))
    expect(resumed.stdout[2]).toMatch(new RegExp(`^resume of run ${first.runId} \\(failed, `))
  })

  it("refused: exit 3 with the reason", async () => {
    const b = resumable()
    const r = await handle(Run.handler(runFlags(b.file, b.state)))
    expect(r).toEqual({
      code: 3,
      stdout: [],
      stderr: [refused("no earlier run of this batch with no parameters")]
    })
  })

  it("a real run refused by core: the reason on stderr, RESUME_REFUSED on the summary line, exit 3", async () => {
    const b = resumable()
    // The run's own log lines to stderr (its logger's), kept out of the test output.
    const logged = vi.spyOn(process.stderr, "write").mockImplementation(() => true)
    const r = await handle(Run.handler(runFlags(b.file, b.state, { dryRun: false })))
    logged.mockRestore()
    expect(r.code).toBe(3)
    expect(r.stderr).toEqual([refused("no earlier run of this batch with no parameters")])
    expect(r.stdout.at(-1)).toMatch(
      /^spark-etl REJECTED batch=resumable run=\S+ exit=3 category=rejected code=RESUME_REFUSED log=\S+$/
    )
    // Refused before the batch was taken: no record, no target touched.
    expect(fs.existsSync(path.join(b.state, "ledger", "resumable"))).toBe(false)
    expect(fs.readdirSync(path.join(b.dir, "output"))).toEqual([])
  })
})
