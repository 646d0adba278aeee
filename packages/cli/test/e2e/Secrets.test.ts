// A secret parameter on a failing run, as L2 and everyone with access to the host would meet it:
// its value must appear in no artefact of the run — stdout, stderr, the JSON log, the ledger,
// the outbox, the events on Kafka — even though Spark's own error message quotes it.
import * as fs from "node:fs"
import * as path from "node:path"
import { describe, expect, it } from "vitest"
import { batchFile, cli, events, logLines, ofType, runArgs, topic } from "./harness.js"

const token = "sk-live-7f3a'9c21-visible"

const batch = `batch: secret_leak
parameters:
  api_token: { type: string, env: ETL_API_TOKEN }
targets:
  roots: [output]
rules:
  - id: authorised
    kind: sql
    target: output/authorised
    options:
      sql: SELECT CAST(:api_token AS INT) AS n
`

const filesUnder = (dir: string): ReadonlyArray<string> =>
  fs.existsSync(dir)
    ? fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
        const p = path.join(dir, e.name)
        return e.isDirectory() ? filesUnder(p) : [p]
      })
    : []

describe("a secret parameter", () => {
  it("never shows: not in the summary, the log, the ledger, the outbox nor the events, though Spark quotes it", async () => {
    const b = batchFile(batch)
    const t = await topic("secret-leak")
    const r = await cli(runArgs(b, t), { ETL_API_TOKEN: token })
    // Spark refuses the cast, quoting the value: the failure we must carry without the secret.
    expect(r.code, r.stderr + r.stdout).toBe(1)
    expect(r.stdout).toMatch(/code=CAST_INVALID_INPUT/)

    const artefacts: Array<[string, string]> = [
      ["stdout", r.stdout],
      ["stderr", r.stderr],
      ...filesUnder(b.stateDir).map((f): [string, string] => [f, fs.readFileSync(f, "utf8")]),
      ...events(t).map((e, i): [string, string] => [`event ${i}`, JSON.stringify(e)])
    ]
    expect(artefacts.length).toBeGreaterThan(4)
    for (const fragment of [token, token.replaceAll("'", "''"), "7f3a"]) {
      expect(artefacts.filter(([, text]) => text.includes(fragment)).map(([where]) => where)).toEqual([])
    }
    // What shows instead: the parameter masked, Spark's message with the value masked.
    const failed = ofType(events(t), "batch.failed")
    expect(failed).toHaveLength(1)
    // One mask everywhere: core's *** (the reporter's own guard for secret-looking keys uses it too).
    expect(failed[0]?.["parameters"]).toEqual({ api_token: "***" })
    expect(JSON.stringify(failed[0]?.["failure"])).toContain("***")
    expect(logLines(r.stdout).length).toBeGreaterThan(3)
  })

  it("is refused on the command line (exit 3), without echoing it", async () => {
    const b = batchFile(batch)
    const r = await cli([
      "run",
      b.batch,
      "--remote",
      "sc://127.0.0.1:1",
      "--state-dir",
      b.stateDir,
      "--param",
      `api_token=${token}`
    ])
    expect(r.code, r.stderr + r.stdout).toBe(3)
    expect(r.stderr).toContain("is secret: give it through $ETL_API_TOKEN")
    expect(r.stdout + r.stderr).not.toContain("7f3a")
  })

  it("leaves its log and ledger record readable by their owner only, in folders only their owner can enter", async () => {
    const b = batchFile(batch)
    const t = await topic("secret-modes")
    const r = await cli(runArgs(b, t), { ETL_API_TOKEN: token })
    expect(r.code, r.stderr + r.stdout).toBe(1)
    const log = /log=(\S+)/.exec(r.stdout)?.[1] ?? ""
    expect(fs.statSync(log).mode & 0o777).toBe(0o600)
    expect(fs.statSync(path.dirname(log)).mode & 0o777).toBe(0o700)
    const ledgerDir = path.join(b.stateDir, "ledger", "secret_leak")
    const records = fs.readdirSync(ledgerDir).filter((f) => f.endsWith(".json"))
    expect(records).toHaveLength(1)
    expect(fs.statSync(path.join(ledgerDir, records[0]!)).mode & 0o777).toBe(0o600)
    expect(fs.statSync(ledgerDir).mode & 0o777).toBe(0o700)
  })
})
