// The path store's cleanup through the real Spark server, on file: URIs (the server's local
// filesystem, which the tests share with it): a target emptied by Spark's own writer, nothing
// outside it touched, a missing root refused before anything is written.
import { Failure } from "@spark-etl/core"
import { Effect } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import { describe, expect, it } from "vitest"
import * as SparkPathStore from "../../src/SparkPathStore.js"
import { failureOf, rows, run, tempDir } from "./harness.js"

// A root with two targets holding an old output, and sentinels beside and above them.
const tree = () => {
  const base = tempDir()
  const root = path.join(base, "root")
  for (const t of ["a", "b"]) {
    fs.mkdirSync(path.join(root, t, "day=1"), { recursive: true })
    fs.writeFileSync(path.join(root, t, "day=1", "part-0.txt"), "old row\n")
  }
  fs.writeFileSync(path.join(root, "sentinel.txt"), "beside the targets")
  fs.writeFileSync(path.join(base, "sentinel.txt"), "outside the root")
  return { base, root: `file://${root}` }
}

const cleanAll = (roots: ReadonlyArray<string>, targets: ReadonlyArray<string>) =>
  Effect.gen(function* () {
    const store = yield* SparkPathStore.make
    const resolved = yield* store.check({
      baseDir: "/",
      roots,
      targets: targets.map((declared, i) => ({ ruleId: `r${i}`, declared }))
    })
    // As a run does: the roots verified at preflight, then each target cleaned.
    yield* store.verify!(resolved)
    yield* Effect.forEach(resolved.targets, (t) => store.clean(resolved, t), { discard: true })
  })

describe("SparkPathStore.clean", () => {
  it("empties each target through Spark: it reads as zero rows; what lies beside and outside stays", async () => {
    const { base, root } = tree()
    await run(cleanAll([root], [`${root}/a`, `${root}/b`]))
    for (const t of ["a", "b"]) {
      const left = fs.readdirSync(path.join(base, "root", t)).filter((f) => !f.startsWith("."))
      expect(left).toContain("_SUCCESS")
      expect(
        left.filter((f) => f !== "_SUCCESS").map((f) => fs.statSync(path.join(base, "root", t, f)).size)
      ).toEqual([0])
      expect(await run(rows(`SELECT count(*) AS n FROM text.\`${root}/${t}\``))).toEqual([{ n: 0n }])
    }
    expect(fs.readFileSync(path.join(base, "root", "sentinel.txt"), "utf8")).toBe("beside the targets")
    expect(fs.readFileSync(path.join(base, "sentinel.txt"), "utf8")).toBe("outside the root")
  })

  it("a target that does not exist yet is cleaned as an empty one", async () => {
    const { base, root } = tree()
    await run(cleanAll([root], [`${root}/new/deep`]))
    expect(fs.readdirSync(path.join(base, "root", "new", "deep"))).toContain("_SUCCESS")
  })

  it("a root missing on the cluster: TARGET_ROOT_MISSING when verified, before anything is written", async () => {
    const { base } = tree()
    const missing = `file://${base}/no-such-root`
    const failure = await failureOf(cleanAll([missing], [`${missing}/a`]))
    expect(failure).toBeInstanceOf(Failure.TargetError)
    expect(failure).toMatchObject({ code: "TARGET_ROOT_MISSING" })
    expect((failure as Failure.TargetError).message).toBe(
      `target root ${missing} does not exist on the cluster (create it, or correct targets.roots); nothing was cleaned`
    )
    expect(fs.existsSync(path.join(base, "no-such-root"))).toBe(false)
  })

  it("re-checks before writing: a target not below the resolved roots is refused", async () => {
    const { root } = tree()
    const failure = await failureOf(
      Effect.flatMap(SparkPathStore.make, (store) =>
        store.clean(
          { roots: [root], targets: [] },
          { ruleId: "x", declared: "elsewhere", location: "file:///tmp/elsewhere" }
        )
      )
    )
    expect(failure).toMatchObject({ _tag: "TargetError", code: "TARGET_UNSAFE" })
  })
})
