/**
 * Real runs of core (`Run.run`: ledger record, checkpoint journal, resume) without Spark, for the
 * tests of `plan --resume`, `run --dry-run --resume` and `status --rules`. The rules are the
 * CLI's own `sql` runner — its options and its fingerprint (the SQL file's text), so the
 * checkpoints are the ones the commands compute — except that running one writes a file into
 * its target instead of asking Spark, and fails for the attempts a test says.
 */
import * as NodeServices from "@effect/platform-node/NodeServices"
import { Event, Failure, Plugin, Run, TargetStore, type Resume } from "@spark-etl/core"
import { SqlRunner } from "@spark-etl/runner-sql"
import { Effect, Layer, Logger } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import * as ValidationOnly from "../../src/ValidationOnly.js"

export interface Fixture {
  /** How many attempts of a rule fail (DIVIDE_BY_ZERO); absent: none. */
  readonly failing?: Readonly<Record<string, number>>
  readonly params?: Readonly<Record<string, string>>
  /** The environment the batch's `env:` parameters are read from (default: none). */
  readonly env?: Readonly<Record<string, string>>
  readonly resume?: Resume.Request
}

const offline = (failing: Readonly<Record<string, number>>) =>
  Plugin.make({
    ...SqlRunner.runner,
    preflight: () => Effect.succeed(Plugin.analysed),
    restore: () => Effect.succeed(Plugin.restored),
    // Nothing runs on an engine, so a retry has nothing to stop.
    abandon: () => Effect.void,
    run: ({ rule, attempt }) =>
      attempt <= (failing[rule.id] ?? 0)
        ? Effect.fail(
            new Failure.DataError({
              message: `rule ${rule.id} divided by zero`,
              ruleId: rule.id,
              code: "DIVIDE_BY_ZERO",
              sqlState: "22012"
            })
          )
        : Effect.sync(() => {
            if (rule.target === undefined) return
            fs.mkdirSync(rule.target.location, { recursive: true })
            fs.writeFileSync(path.join(rule.target.location, "part-00000"), rule.id)
          })
  })

/** Runs `batchFile` once, its ledger under `<stateDir>/ledger` (as the CLI's settings put it). */
export const fixtureRun = (
  batchFile: string,
  stateDir: string,
  fixture: Fixture = {}
): Promise<Run.Outcome> =>
  Effect.runPromise(
    Run.run({
      batchFile,
      ledgerDir: path.join(stateDir, "ledger"),
      params: fixture.params ?? {},
      env: fixture.env ?? {},
      ...(fixture.resume !== undefined ? { resume: fixture.resume } : {})
    }).pipe(
      Effect.provide(
        Layer.mergeAll(
          Plugin.layer([
            Plugin.load(offline(fixture.failing ?? {})).pipe(Effect.provide(ValidationOnly.sparkSession))
          ]),
          TargetStore.layerFileSystem,
          Event.memory().layer
        ).pipe(Layer.provideMerge(NodeServices.layer))
      ),
      // What the run logs is not what these tests look at.
      Effect.provide(Logger.layer([]))
    )
  )

/**
 * A batch folder: `load` → `totals` (its SQL in sql/totals.sql) → `report`, and `audit` on its
 * own; load, totals and audit write targets under output/.
 */
export const resumable = (
  extra = ""
): { readonly dir: string; readonly file: string; readonly state: string } => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "cli-resume-"))
  fs.mkdirSync(path.join(dir, "output"))
  fs.mkdirSync(path.join(dir, "sql"))
  fs.writeFileSync(path.join(dir, "sql", "totals.sql"), "SELECT sum(x) AS total FROM load\n")
  const file = path.join(dir, "batch.yaml")
  fs.writeFileSync(
    file,
    `batch: resumable
${extra}targets:
  roots: [output]
rules:
  - id: load
    kind: sql
    target: output/load
    options: { sql: SELECT 1 AS x, format: parquet }
  - id: totals
    kind: sql
    depends_on: [load]
    target: output/totals
    options: { file: sql/totals.sql, format: parquet }
  - id: report
    kind: sql
    depends_on: [totals]
    options: { sql: SELECT * FROM totals }
  - id: audit
    kind: sql
    target: output/audit
    options: { sql: SELECT 2 AS y, format: parquet }
`
  )
  return { dir, file, state: path.join(dir, "state") }
}
