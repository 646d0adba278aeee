// `targets.store: spark-path` through the CLI: targets given as URIs, cleaned and written by
// the Spark server (file: URIs here, the server's filesystem), a rerun leaving them once; a
// hostile target refused when the batch is loaded; a missing root refused before any cleanup.
import * as fs from "node:fs"
import * as path from "node:path"
import { describe, expect, it } from "vitest"
import { batchFile, cli, readBack, spark } from "./harness.js"

const batch = (root: string, target = `${root}/numbers`) => `batch: uri_targets
targets:
  store: spark-path
  roots: ["${root}"]
rules:
  - id: numbers
    kind: sql
    target: ${target}
    options:
      sql: SELECT id FROM range(5)
`

// A run with the events in the log (no Kafka): this test is about the targets.
const runOn = (b: { readonly batch: string; readonly stateDir: string }) =>
  cli(["run", b.batch, "--remote", spark(), "--state-dir", b.stateDir])

describe("targets.store: spark-path", () => {
  it("runs a batch whose target is a URI; a rerun leaves its output once; a sentinel beside it stays", async () => {
    const b = batchFile("")
    const root = `file://${b.dir}/output`
    fs.writeFileSync(path.join(b.dir, "output", "sentinel.txt"), "keep")
    fs.writeFileSync(b.batch, batch(root))
    for (const attempt of [1, 2]) {
      const r = await runOn(b)
      expect(r.code, `run ${attempt}: ${r.stderr}`).toBe(0)
    }
    expect(
      await readBack({ numbers: `${root}/numbers` }, "SELECT count(*) AS n, sum(id) AS s FROM numbers")
    ).toEqual([{ n: 5n, s: 10n }])
    expect(fs.readFileSync(path.join(b.dir, "output", "sentinel.txt"), "utf8")).toBe("keep")
  })

  it("a target escaping its root through '..': the batch is refused when loaded (exit 3), at its line", async () => {
    const b = batchFile("")
    const root = `file://${b.dir}/output`
    fs.writeFileSync(b.batch, batch(root, `${root}/../elsewhere`))
    const r = await cli(["validate", b.batch])
    expect(r.code).toBe(3)
    expect(r.stderr).toContain(
      `batch.yaml:8:13: rules[0].target: target "${root}/../elsewhere" holds a "." or ".." segment`
    )
  })

  it("a root missing on the cluster: refused at preflight, TARGET_ROOT_MISSING, targets untouched, nothing created", async () => {
    const b = batchFile("")
    const root = `file://${b.dir}/missing`
    fs.writeFileSync(b.batch, batch(root))
    const r = await runOn(b)
    expect(r.code).toBe(1)
    // Found at preflight: the summary says nothing was touched, as it is.
    expect(r.stdout.trim().split("\n").at(-1)).toMatch(
      /code=TARGET_ROOT_MISSING phase=preflight targets=untouched/
    )
    expect(fs.existsSync(path.join(b.dir, "missing"))).toBe(false)
  })
})
