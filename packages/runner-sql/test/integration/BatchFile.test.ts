// The runner inside core's batch loader: its static check reports into the batch file's
// positions, and its table store is selected by name.
import { NodeServices } from "@effect/platform-node"
import { Batch, Plugin, TargetStore } from "@spark-etl/core"
import { Effect, Layer } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import { describe, expect, it } from "vitest"
import * as SqlRunner from "../../src/SqlRunner.js"
import { layer, tempDir } from "./harness.js"

const services = () =>
  Layer.mergeAll(Plugin.layer([Plugin.load(SqlRunner.runner)]), TargetStore.layerFileSystem).pipe(
    Layer.provideMerge(layer()),
    Layer.provideMerge(NodeServices.layer)
  )

const load = async (text: string, params: Record<string, string> = {}) => {
  const dir = tempDir()
  fs.mkdirSync(path.join(dir, "out"))
  fs.mkdirSync(path.join(dir, "sql"))
  fs.writeFileSync(path.join(dir, "sql", "totals.sql"), "SELECT :run_date AS day,\n  :limit AS lim\n")
  const file = path.join(dir, "batch.yaml")
  const exit = await Effect.runPromiseExit(
    Batch.parse(text, file, { params }).pipe(Effect.provide(services()))
  )
  return { exit, file }
}

describe("sql rules in a batch file", () => {
  it("loads a batch of sql rules with a file, inputs, a path target and table targets", async () => {
    const { exit } = await load(
      `batch: sample
parameters:
  run_date: { type: date }
  limit: { type: int, default: 3 }
targets: { roots: [out] }
rules:
  - id: totals
    kind: sql
    target: out/totals
    options:
      file: sql/totals.sql
      expect: { row_count: { min: 1 } }
`,
      { run_date: "2026-11-26" }
    )
    expect(exit._tag, String(exit)).toBe("Success")
  })

  it("reports the runner's problems at the rule's options, with file:line:column", async () => {
    const { exit, file } = await load(`batch: broken
parameters:
  run_date: { type: date, default: "2026-11-26" }
rules:
  - id: first
    kind: sql
    options:
      sql: SELECT :run_dat
  - id: second
    kind: sql
    options:
      file: sql/missing.sql
  - id: third
    kind: sql
    options: { sql: SELECT 1, mode: replace }
`)
    expect(exit._tag).toBe("Failure")
    const message = exit._tag === "Failure" ? String(exit.cause) : ""
    expect(message).toContain(
      `${file}:8:12: rules[0].options.sql: line 1: parameter :run_dat is not declared`
    )
    expect(message).toContain(`${file}:12:13: rules[1].options.file: cannot read SQL file`)
    expect(message).toContain(`${file}:15:37: rules[2].options.mode: Expected "overwrite"`)
  })

  it("selects the Spark table store by name and refuses a table outside its roots", async () => {
    const ok = await load(`batch: tables
targets: { store: spark-table, roots: [mart] }
rules:
  - { id: daily, kind: sql, target: mart.daily, options: { sql: SELECT 1 } }
`)
    expect(ok.exit._tag, String(ok.exit)).toBe("Success")
    const refused = await load(`batch: tables
targets: { store: spark-table, roots: [mart] }
rules:
  - { id: daily, kind: sql, target: other.daily, options: { sql: SELECT 1 } }
`)
    const message = refused.exit._tag === "Failure" ? String(refused.exit.cause) : ""
    expect(message).toContain(
      `rules[0].target: target "other.daily" is not a table directly inside the declared roots (mart)`
    )
  })
})
