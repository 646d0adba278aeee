// Plugin packages named by a batch file: found from the batch's folder or SPARK_ETL_PLUGIN_PATH,
// checked against the plugin API, registered beside the built-in `sql` — or the batch refused
// (exit 3) at the package's line, with nothing touched.
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { describe, expect, it } from "vitest"
import { batchFile, cli, spark, summary } from "./harness.js"

const repoRoot = path.resolve(import.meta.dirname, "..", "..", "..", "..")

// A plugin package as a platform team would publish it: ESM, with `effect` and `@spark-etl/core`
// resolved from where it is installed (links to this workspace's, so one copy of each is loaded).
const installPlugin = (root: string, name: string, apiVersion: string, kind = "echo") => {
  const dir = path.join(root, "node_modules", ...name.split("/"))
  fs.mkdirSync(dir, { recursive: true })
  fs.writeFileSync(
    path.join(dir, "package.json"),
    JSON.stringify({ name, version: "1.0.0", type: "module", exports: { ".": { default: "./index.js" } } })
  )
  fs.writeFileSync(
    path.join(dir, "index.js"),
    `import { Effect, Schema } from "effect"
import { Plugin } from "@spark-etl/core"
const runner = Plugin.make({
  kind: "${kind}",
  options: Schema.Struct({ text: Schema.String }),
  run: (ctx) => Effect.logInfo("echo says " + ctx.options.text)
})
export const plugin = Plugin.definePackage({ apiVersion: ${apiVersion}, runners: [Plugin.entry(runner)] })
`
  )
  for (const dep of ["effect", "@spark-etl/core"]) {
    const link = path.join(root, "node_modules", ...dep.split("/"))
    if (fs.existsSync(link)) continue
    fs.mkdirSync(path.dirname(link), { recursive: true })
    fs.symlinkSync(fs.realpathSync(path.join(repoRoot, "node_modules", ...dep.split("/"))), link)
  }
}

const batchUsing = (plugins: ReadonlyArray<string>, kind = "echo") =>
  batchFile(`batch: with_plugin
plugins: [${plugins.map((p) => JSON.stringify(p)).join(", ")}]
rules:
  - id: hello
    kind: ${kind}
    options: { text: hello }
  - id: after
    kind: sql
    depends_on: [hello]
    options: { sql: SELECT 1 AS one }
`)

describe("plugin packages", () => {
  it("a package in the batch's folder registers its kind beside sql: validate, plan, run", async () => {
    const b = batchUsing(["@acme/spark-etl-runner-echo"])
    installPlugin(b.dir, "@acme/spark-etl-runner-echo", "Plugin.apiVersion")
    const validated = await cli(["validate", b.batch])
    expect(validated.code, validated.stderr).toBe(0)
    expect(validated.stdout).toContain("is valid (2 rules")
    const planned = await cli(["plan", b.batch])
    expect(planned.code, planned.stderr).toBe(0)
    expect(planned.stdout).toMatch(/hello[\s\S]*after/)
    const log = path.join(b.dir, "run.jsonl")
    const run = await cli(["run", b.batch, "--remote", spark(), "--state-dir", b.stateDir, "--log-file", log])
    expect(run.code, run.stderr).toBe(0)
    expect(summary(run.stdout)).toMatch(/^spark-etl SUCCEEDED batch=with_plugin /)
    expect(fs.readFileSync(log, "utf8")).toContain("echo says hello")
  })

  it("is found through SPARK_ETL_PLUGIN_PATH when not beside the batch", async () => {
    const b = batchUsing(["spark-etl-runner-echo"])
    const elsewhere = fs.mkdtempSync(path.join(os.tmpdir(), "spark-etl-plugins-"))
    installPlugin(elsewhere, "spark-etl-runner-echo", "Plugin.apiVersion")
    const without = await cli(["validate", b.batch])
    expect(without.code).toBe(3)
    const found = await cli(["validate", b.batch], { SPARK_ETL_PLUGIN_PATH: `/nonexistent:${elsewhere}` })
    expect(found.code, found.stderr).toBe(0)
  })

  it("refuses, at the package's line, one that is missing, built for another API, or brings a taken kind", async () => {
    const b = batchUsing(["@acme/missing", "@acme/future", "@acme/sql-again"])
    installPlugin(b.dir, "@acme/future", "99")
    installPlugin(b.dir, "@acme/sql-again", "Plugin.apiVersion", "sql")
    fs.mkdirSync(path.join(b.dir, "output"), { recursive: true })
    for (const command of [
      ["validate"],
      ["run", "--remote", "sc://127.0.0.1:1", "--state-dir", b.stateDir]
    ]) {
      const r = await cli([...command.slice(0, 1), b.batch, ...command.slice(1)])
      expect(r.code, r.stderr).toBe(3)
      expect(r.stderr).toContain("batch rejected (PLUGIN_INVALID)")
      expect(r.stderr).toContain(
        `${b.batch}:2:11: plugins[0]: plugin package "@acme/missing" is not installed where it is looked for: ${b.dir}`
      )
      expect(r.stderr).toContain(
        `${b.batch}:2:28: plugins[1]: plugin package "@acme/future" was built for plugin API 99; this spark-etl implements plugin API 1`
      )
      expect(r.stderr).toContain(
        `${b.batch}:2:44: plugins[2]: plugin package "@acme/sql-again" brings rule kinds another package brings: "sql" (already brought by "@spark-etl/runner-sql")`
      )
    }
    // Refused before anything: the ledger holds no record of the batch.
    expect(fs.existsSync(path.join(b.stateDir, "ledger", "with_plugin"))).toBe(false)
  })
})
