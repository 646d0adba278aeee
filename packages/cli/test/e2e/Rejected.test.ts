// Refused before any side effect: exit 3 with file:line:column, no cleanup, no Spark call
// (the remote points at a port where nothing listens, which would otherwise give exit 2).
import * as fs from "node:fs"
import * as path from "node:path"
import { describe, expect, it } from "vitest"
import { batchFile, cli } from "./harness.js"
import { cyclic, twoRules } from "../support/Batches.js"

const deadSpark = "sc://127.0.0.1:1"

// A batch in a fresh folder whose rule `kept` (`sql`) owns output/kept, where a committed file
// lies that a rejected run must leave as it was. `head` (the batch's name and what else comes
// before its targets) is the file's first lines, then the targets and the rule `kept` (8 lines),
// then `more` (further rules).
const withSentinel = (head: string, { sql = "SELECT 1", more = "" } = {}) => {
  const b = batchFile(`${head}
targets:
  roots: [output]
rules:
  - id: kept
    kind: sql
    target: output/kept
    options:
      sql: ${sql}
${more}`)
  fs.mkdirSync(path.join(b.dir, "output", "kept"), { recursive: true })
  fs.writeFileSync(path.join(b.dir, "output", "kept", "part-0"), "must survive a rejected run")
  return b
}

const sentinelIntact = (dir: string) => fs.existsSync(path.join(dir, "output", "kept", "part-0"))

describe("a rejected batch", () => {
  it("invalid batch file: exit 3, every problem with file:line:column, nothing cleaned", async () => {
    // Lines 1-3 the head, 4-11 the targets and the rule `kept`, 12-16 the second rule.
    const b = withSentinel(
      `batch: bad
engine:
  parallelism: two`,
      {
        more: `  - id: kept
    kind: sql
    depnds_on: [kept]
    options:
      sql: SELECT 2
`
      }
    )
    const r = await cli(["run", b.batch, "--remote", deadSpark, "--state-dir", b.stateDir])
    expect(r.code, r.stderr).toBe(3)
    expect(r.stderr).toMatch(/batch\.yaml:3:\d+: engine\.parallelism: /)
    expect(r.stderr).toMatch(/batch\.yaml:14:\d+: rules\[1\]\.depnds_on: unknown field/)
    // The file is batch.yaml; the batch it names is "bad": consumers follow that name.
    expect(r.stdout).toMatch(/spark-etl REJECTED batch=bad .*exit=3 category=rejected/)
    expect(path.basename(/log=(\S+)/.exec(r.stdout)?.[1] ?? "")).toMatch(
      /^bad-\d{8}T\d{6}-[0-9a-f]{8}\.jsonl$/
    )
    expect(sentinelIntact(b.dir)).toBe(true)
  })

  it("doubled braces (`{{ min: 1 }}`): the field refused at its line, and no parser warning beside it", async () => {
    const b = withSentinel("batch: braces", {
      sql: "SELECT 1\n      expect:\n        row_count: {{ min: 1 }}"
    })
    const r = await cli(["run", b.batch, "--remote", deadSpark, "--state-dir", b.stateDir])
    expect(r.code, r.stderr).toBe(3)
    expect(r.stderr).toMatch(
      /batch\.yaml:11:20: rules\[0\]\.options\.expect\.row_count\.\{ min: 1 \}: unknown field/
    )
    // `yaml` would warn on stderr ("Keys with collection values will be stringified…"), outside
    // the log and before the rejection: noise for whoever reads the job's output.
    expect(r.stderr).not.toMatch(/Warning|stringified/)
    expect(sentinelIntact(b.dir)).toBe(true)
  })

  for (const [where, args, env] of [
    ["--remote", ["--remote", "sc://127.0.0.1:1/;use_ssl=false;token=x"], {}],
    ["SPARK_REMOTE", [], { SPARK_REMOTE: "sc://127.0.0.1:1/;use_ssl=false;token=x" }]
  ] as const) {
    it(`a connection string that cannot be right (${where}): exit 3, a configuration error, nothing cleaned`, async () => {
      const b = withSentinel("batch: bad_remote")
      const r = await cli(["run", b.batch, ...args, "--state-dir", b.stateDir], env)
      expect(r.code, r.stderr + r.stdout).toBe(3)
      expect(r.stderr).toContain(where)
      expect(r.stderr).toMatch(/token/)
      expect(r.stdout).toMatch(
        /spark-etl REJECTED batch=bad_remote .*exit=3 category=rejected code=REMOTE_INVALID/
      )
      // The token itself is never echoed.
      expect(r.stdout + r.stderr).not.toMatch(/token=x\b/)
      expect(sentinelIntact(b.dir)).toBe(true)
    })
  }

  it("unsafe target: exit 3, nothing cleaned", async () => {
    // Line 1 the head, 2-9 the targets and the rule `kept`, 10-14 the rule `escape`.
    const b = withSentinel("batch: unsafe", {
      more: `  - id: escape
    kind: sql
    target: output/../../elsewhere
    options:
      sql: SELECT 2
`
    })
    const r = await cli(["run", b.batch, "--remote", deadSpark, "--state-dir", b.stateDir])
    expect(r.code, r.stderr).toBe(3)
    expect(r.stderr).toMatch(/batch\.yaml:12:\d+: rules\[1\]\.target: /)
    expect(sentinelIntact(b.dir)).toBe(true)
  })

  it("missing parameter: exit 3 naming it", async () => {
    const b = withSentinel(
      `batch: params
parameters:
  run_date: { type: date, required: true }`,
      { sql: "SELECT :run_date AS d" }
    )
    const r = await cli(["run", b.batch, "--remote", deadSpark, "--state-dir", b.stateDir])
    expect(r.code, r.stderr).toBe(3)
    expect(r.stderr).toContain("run_date")
    expect(sentinelIntact(b.dir)).toBe(true)
    const ill = await cli([
      "run",
      b.batch,
      "--param",
      "run_date=26/11/2026",
      "--remote",
      deadSpark,
      "--state-dir",
      b.stateDir
    ])
    expect(ill.code, ill.stderr).toBe(3)
    expect(ill.stderr).toContain("run_date")
  })

  it("validate and plan reject the same file the same way, and accept a good one", async () => {
    const b = batchFile(cyclic)
    const v = await cli(["validate", b.batch])
    expect(v.code).toBe(3)
    expect(v.stderr).toMatch(/cycle/i)
    expect(v.stderr).toMatch(/a → b → a|a -> b -> a|b → a → b|b -> a -> b/)
    const good = batchFile(twoRules("good"))
    const ok = await cli(["validate", good.batch])
    expect(ok.code, ok.stderr).toBe(0)
    const plan = await cli(["plan", good.batch, "--format", "mermaid"])
    expect(plan.code, plan.stderr).toBe(0)
    expect(plan.stdout).toContain("a")
    expect(plan.stdout).toMatch(/graph|flowchart/)
  })

  it("a wrong command line exits 64", async () => {
    const r = await cli(["run", "--no-such-flag"])
    expect(r.code).toBe(64)
    const help = await cli(["--help"])
    expect(help.code).toBe(0)
    expect(help.stdout).toContain("run")
  })
})
