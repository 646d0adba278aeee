// A failed run resumed on Spark, as an operator does it: the run fails at a rule, the SQL is
// fixed, `plan --resume` says what a resume would skip and run, `run --resume` skips the rule
// whose output is still valid (its view read back from that output) and runs the rest, and
// `status --rules` shows both runs rule by rule. Then nothing is left to resume (exit 3), and a
// run id given without its "=" is a usage error with a hint.
import * as fs from "node:fs"
import * as path from "node:path"
import { describe, expect, it } from "vitest"
import { batchFile, cli, readBack, runIdOf, spark, summary } from "./harness.js"

const batch = `batch: resumed_e2e
targets:
  roots: [output]
rules:
  - id: load_orders
    kind: sql
    target: output/load_orders
    options: { sql: "SELECT id, id * 2 AS amount FROM range(0, 10)", format: parquet }
  - id: totals
    kind: sql
    depends_on: [load_orders]
    target: output/totals
    options: { file: sql/totals.sql, format: parquet }
  - id: report
    kind: sql
    depends_on: [totals]
    options: { sql: "SELECT * FROM totals" }
`

describe("run --resume on Spark", () => {
  it("fails, is fixed, previewed, resumed (skipping what is valid), and shown rule by rule", async () => {
    const b = batchFile(batch)
    fs.mkdirSync(path.join(b.dir, "sql"))
    const totalsSql = path.join(b.dir, "sql", "totals.sql")
    fs.writeFileSync(totalsSql, "SELECT sum(amount) / 0 AS total FROM load_orders\n")
    const common = ["--state-dir", b.stateDir]
    const run = (...extra: ReadonlyArray<string>) =>
      cli(["run", b.batch, "--remote", spark(), ...common, ...extra])

    const failed = await run()
    expect(failed.code, failed.stderr).toBe(1)
    const first = runIdOf(failed.stdout)

    fs.writeFileSync(totalsSql, "SELECT sum(amount) AS total FROM load_orders\n")
    const planned = await cli(["plan", b.batch, "--resume", ...common])
    expect(planned.code, planned.stderr).toBe(0)
    expect(planned.stdout.trim().split("\n")).toEqual([
      expect.stringMatching(
        new RegExp(`^resume of run ${first} \\(failed, started \\S+\\): 1 of 3 rules skipped, 2 run$`)
      ),
      `skip  load_orders  checkpoint of run ${first} valid`,
      // The rule that failed has no checkpoint, whatever its SQL is now.
      "run   totals       no checkpoint (it did not succeed in the resumed run)",
      "run   report       upstream rule totals runs"
    ])

    const resumed = await run(`--resume=${first}`)
    expect(resumed.code, resumed.stderr).toBe(0)
    const second = runIdOf(resumed.stdout)
    expect(summary(resumed.stdout)).toMatch(
      new RegExp(`^spark-etl SUCCEEDED batch=resumed_e2e run=${second} exit=0 resumed=${first} skipped=1 `)
    )
    expect(resumed.stderr).toContain(`resumed from ${first} (1 skipped)`)
    expect(resumed.stderr).toMatch(/ {2}load_orders +skipped/)
    expect(
      await readBack({ totals: path.join(b.dir, "output", "totals") }, "SELECT total FROM totals")
    ).toEqual([{ total: 90n }])

    const shown = await cli(["status", "resumed_e2e", "--rules", ...common])
    expect(shown.code, shown.stderr).toBe(0)
    const [newest, older] = shown.stdout.trim().split("\n\n")
    expect(newest).toContain(`run=${second}`)
    expect(newest).toContain(`resumed=${first}`)
    expect(newest).toMatch(
      new RegExp(`\\n {2}load_orders +skipped +0 +valid +checkpoint of run ${first} valid`)
    )
    expect(newest).toMatch(
      /\n {2}totals +succeeded +1 +\S+Z +\d+\.\ds +valid +no checkpoint \(it did not succeed in the resumed run\)/
    )
    expect(older).toMatch(/\n {2}totals +failed +1 +\S+Z +\d+\.\ds +none +\[DIVIDE_BY_ZERO\]/)

    const again = await run("--resume")
    expect(again.code).toBe(3)
    expect(again.stderr).toContain(`resume refused (RESUME_REFUSED):`)
    expect(again.stderr).toContain(`${second}, succeeded: there is nothing to resume`)
    expect(summary(again.stdout)).toContain("code=RESUME_REFUSED")
  })

  it("a run id without its '=' is a usage error (exit 64) that says where the '=' goes", async () => {
    const b = batchFile(batch)
    const r = await cli(["run", b.batch, "--resume", "0b6c3f1e", "--state-dir", b.stateDir])
    expect(r.code).toBe(64)
    expect(r.stderr).toContain('Unexpected positional argument: "0b6c3f1e"')
    expect(r.stderr).toContain('spark-etl: a run id goes with an "=": --resume=0b6c3f1e')
    expect(fs.existsSync(b.stateDir)).toBe(false)
  })
})
