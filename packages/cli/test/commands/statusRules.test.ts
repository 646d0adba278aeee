// `status --rules`: each rule of the newest runs — state, attempts, start, time, checkpoint
// validity and why it ran or failed — from ledgers and journals written by real runs of core
// (fixtureRuns.ts); validity is judged against the batch file as it is now.
import { Option } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest"
import * as RuleStatus from "../../src/RuleStatus.js"
import * as Status from "../../src/commands/status.js"
import { fixtureRun, resumable } from "./fixtureRuns.js"
import { handle } from "./support.js"

const status = (state: string, rules = true) =>
  handle(
    Status.handler({
      batchName: "resumable",
      rules,
      stateDir: Option.some(state),
      remote: Option.none(),
      kafkaBrokers: Option.none(),
      kafkaTopic: Option.none(),
      sparkTimeout: Option.some(2),
      siteConfig: Option.none()
    })
  )

/** The blocks status prints, one per run (newest first), each its lines. */
const blocks = (stdout: ReadonlyArray<string>): ReadonlyArray<ReadonlyArray<string>> =>
  stdout
    .join("\n")
    .split("\n\n")
    .map((b) => b.split("\n"))

/** A row of a rule table: its cells, empty ones too. */
const row = (...cells: ReadonlyArray<string | RegExp>) =>
  new RegExp(
    `^ {2}${cells.map((c) => (typeof c === "string" ? c.replace(/[.*+?^${}()|[\]\\]/g, "\\$&") : c.source)).join(" +")}$`
  )

const started = /\d{4}-\d\d-\d\dT\S+Z/
const time = /\d+\.\ds/

describe("status --rules", () => {
  // What the handler's logger writes to stderr (its warnings), kept out of the test output.
  beforeEach(() => void vi.spyOn(process.stderr, "write").mockImplementation(() => true))
  afterEach(() => vi.restoreAllMocks())

  it("a failed run with a retried rule, then its resume: states, attempts, skipped rules, reasons", async () => {
    const b = resumable()
    fs.writeFileSync(
      b.file,
      fs
        .readFileSync(b.file, "utf8")
        .replace(
          "    options: { file: sql/totals.sql, format: parquet }\n",
          "    options: { file: sql/totals.sql, format: parquet }\n    retry: { attempts: 2, delay: 0, on: [DIVIDE_BY_ZERO] }\n"
        )
    )
    const first = await fixtureRun(b.file, b.state, { failing: { totals: 1, report: 1 } })
    const second = await fixtureRun(b.file, b.state, { resume: { _tag: "Latest" } })
    const r = await status(b.state)
    expect(r.code).toBe(0)
    const [resumed, failed] = blocks(r.stdout)
    expect(resumed![0]).toMatch(
      new RegExp(
        `^\\S+ {2}succeeded run=${second.runId} pid=\\d+@\\S+ exit=0 resumed=${first.runId} heartbeat=`
      )
    )
    expect(resumed![1]).toMatch(row("rule", "state", "attempts", "started", "time", "checkpoint", "reason"))
    expect(resumed!.slice(2)).toEqual([
      expect.stringMatching(row("load", "skipped", "0", "valid", `checkpoint of run ${first.runId} valid`)),
      expect.stringMatching(row("audit", "skipped", "0", "valid", `checkpoint of run ${first.runId} valid`)),
      expect.stringMatching(row("totals", "skipped", "0", "valid", `checkpoint of run ${first.runId} valid`)),
      expect.stringMatching(
        row(
          "report",
          "succeeded",
          "1",
          started,
          time,
          "valid",
          "no checkpoint (it did not succeed in the resumed run)"
        )
      )
    ])
    expect(failed![0]).toMatch(new RegExp(`failed {4}run=${first.runId} .* rule=report code=DIVIDE_BY_ZERO `))
    expect(failed!.slice(2)).toEqual([
      expect.stringMatching(row("load", "succeeded", "1", started, time, "valid")),
      expect.stringMatching(row("audit", "succeeded", "1", started, time, "valid")),
      expect.stringMatching(row("totals", "succeeded", "2", started, time, "valid")),
      expect.stringMatching(
        row("report", "failed", "1", started, time, "none", "[DIVIDE_BY_ZERO] rule report divided by zero")
      )
    ])
  })

  it("a checkpoint whose SQL changed or whose output is gone is invalid, and says why", async () => {
    const b = resumable()
    await fixtureRun(b.file, b.state, { failing: { report: 1 } })
    fs.writeFileSync(path.join(b.dir, "sql", "totals.sql"), "SELECT 0 AS total\n")
    fs.rmSync(path.join(b.dir, "output", "audit"), { recursive: true })
    const [run] = blocks((await status(b.state)).stdout)
    expect(run!.slice(2)).toEqual([
      expect.stringMatching(row("load", "succeeded", "1", started, time, "valid")),
      expect.stringMatching(
        row(
          "audit",
          "succeeded",
          "1",
          started,
          time,
          `invalid: its output ${path.join(b.dir, "output", "audit")} is missing`
        )
      ),
      expect.stringMatching(
        row(
          "totals",
          "succeeded",
          "1",
          started,
          time,
          "invalid: its definition changed (SQL, options or target)"
        )
      ),
      expect.stringMatching(row("report", "failed", "1", started, time, "none", /\[DIVIDE_BY_ZERO\] .*/))
    ])
  })

  it("a batch file that cannot be loaded now: its checkpoints are recorded, their validity unknown", async () => {
    const b = resumable()
    await fixtureRun(b.file, b.state, { failing: { report: 1 } })
    fs.rmSync(b.file)
    const [run] = blocks((await status(b.state)).stdout)
    expect(run![1]).toMatch(
      /^ {2}checkpoint validity unknown: the batch file cannot be loaded now: .*batch\.yaml/
    )
    expect(run!.slice(3, 5)).toEqual([
      expect.stringMatching(row("load", "succeeded", "1", started, time, "recorded (validity unknown)")),
      expect.stringMatching(row("audit", "succeeded", "1", started, time, "recorded (validity unknown)"))
    ])
  })

  it("a secret parameter (*** in the ledger) comes from the environment; without it, validity is unknown", async () => {
    const b = resumable("parameters:\n  db_password: { type: string, env: RESUME_TEST_DB_PASSWORD }\n")
    const run = await fixtureRun(b.file, b.state, {
      env: { RESUME_TEST_DB_PASSWORD: "s3cr3t" },
      failing: { report: 1 }
    })
    expect(run.status).toBe("failed")
    const without = blocks((await status(b.state)).stdout)[0]!
    expect(without[0]).not.toContain("s3cr3t")
    expect(without[1]).toMatch(
      /checkpoint validity unknown: the batch file cannot be loaded now: .*db_password/
    )
    vi.stubEnv("RESUME_TEST_DB_PASSWORD", "s3cr3t")
    const given = blocks((await status(b.state)).stdout)[0]!
    vi.unstubAllEnvs()
    expect(given[2]).toMatch(row("load", "succeeded", "1", started, time, "valid"))
  })

  it("a journal that cannot be read: said once, each checkpoint unreadable", async () => {
    const b = resumable()
    const run = await fixtureRun(b.file, b.state, { failing: { report: 1 } })
    const journal = path.join(b.state, "ledger", "resumable", `${run.runId}.checkpoints.jsonl`)
    fs.writeFileSync(journal, "{torn\n")
    const [shown] = blocks((await status(b.state)).stdout)
    expect(shown![1]).toBe(
      `  checkpoints cannot be read: ${journal}: line 1: ${shown![1]!.split(": line 1: ")[1]}`
    )
    expect(shown![3]).toMatch(row("load", "succeeded", "1", started, time, "unreadable"))
  })

  it("shows the three newest runs; without runs, says so; without --rules, one line per run", async () => {
    const b = resumable()
    for (let i = 0; i < 4; i++) await fixtureRun(b.file, b.state, { failing: { load: 1 } })
    const r = await status(b.state)
    expect(blocks(r.stdout)).toHaveLength(RuleStatus.shownRuns)
    expect(blocks(r.stdout)[0]![2]).toMatch(
      row("load", "failed", "1", started, time, "none", /\[DIVIDE_BY_ZERO\] .*/)
    )
    expect((await status(b.state, false)).stdout).toHaveLength(4)
    const empty = resumable()
    expect((await status(empty.state)).stdout).toEqual([
      `no runs of resumable in ${path.join(empty.state, "ledger")}`
    ])
  })

  it("takes the recorded parameters that can be given again: not a masked secret", () => {
    expect(RuleStatus.givenParameters({ run_date: "2026-11-26", token: "***" })).toEqual({
      run_date: "2026-11-26"
    })
  })
})
