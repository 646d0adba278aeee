// The generator in an in-memory tree holding this workspace's configuration: what it writes, what
// it refuses, and that docs/plugin-guide.md shows exactly what it generates (so the guide cannot
// drift from the generator).
import type { Tree } from "@nx/devkit"
import * as fs from "node:fs"
import * as path from "node:path"
import { describe, expect, it } from "vitest"
import { runnerGenerator } from "../src/runner/generator.js"
import { workspaceTree } from "./tree.js"
import { repoRoot } from "./workspace.js"

const generate = async (name: string, directory?: string) => {
  const tree = workspaceTree()
  const done = await runnerGenerator(tree, { name, ...(directory !== undefined ? { directory } : {}) })
  return { tree, done }
}

const filesUnder = (tree: Tree, dir: string): ReadonlyArray<string> =>
  tree.children(dir).flatMap((child) => {
    const p = `${dir}/${child}`
    return tree.isFile(p) ? [p] : filesUnder(tree, p)
  })

const readJson = <A>(tree: Tree, file: string): A => JSON.parse(tree.read(file, "utf-8") ?? "null") as A

describe("runner generator", () => {
  it("writes the package of kind foo, depending on this workspace's versions", async () => {
    const { tree } = await generate("foo")
    expect([...filesUnder(tree, "packages/runner-foo")].sort()).toEqual(
      [
        "README.md",
        "package.json",
        "src/Classify.ts",
        "src/FooOptions.ts",
        "src/FooRunner.ts",
        "src/index.ts",
        "src/plugin.ts",
        "test/FooOptions.test.ts",
        "test/FooRunner.test.ts",
        "tsconfig.build.json",
        "tsconfig.json",
        "vitest.config.ts"
      ].map((f) => `packages/runner-foo/${f}`)
    )
    const pkg = readJson<{
      name: string
      peerDependencies: Record<string, string>
      nx: { tags: ReadonlyArray<string> }
    }>(tree, "packages/runner-foo/package.json")
    const core = JSON.parse(fs.readFileSync(path.join(repoRoot, "packages/core/package.json"), "utf8")) as {
      version: string
      peerDependencies: Record<string, string>
    }
    expect(pkg.name).toBe("@spark-etl/runner-foo")
    expect(pkg.peerDependencies["@spark-etl/core"]).toBe(core.version)
    expect(pkg.peerDependencies["effect"]).toBe(core.peerDependencies["effect"])
    expect(pkg.nx.tags).toEqual(["type:runner", "runner:foo"])
    expect(tree.read("packages/runner-foo/src/FooRunner.ts", "utf-8")).toContain('kind: "foo"')
    // packages/* is a workspace already: nothing to wire.
    expect(tree.read("package.json", "utf-8")).toBe(
      fs.readFileSync(path.join(repoRoot, "package.json"), "utf8")
    )
  })

  it("gives the kind's tag the module boundaries of runner-sql", async () => {
    const { tree } = await generate("foo")
    expect(tree.read("eslint.config.js", "utf-8")).toContain(
      '{ sourceTag: "runner:foo", onlyDependOnLibsWithTags: ["scope:core", "runner:spark-connect"] },'
    )
  })

  it("names modules of a kebab-case kind in PascalCase", async () => {
    const { tree } = await generate("http-export")
    expect(tree.exists("packages/runner-http-export/src/HttpExportRunner.ts")).toBe(true)
    expect(tree.read("packages/runner-http-export/src/HttpExportRunner.ts", "utf-8")).toContain(
      'kind: "http-export"'
    )
  })

  it("wires a package outside packages/ into the npm workspaces, with paths from its depth", async () => {
    const { tree } = await generate("foo", "plugins/spark")
    expect(readJson<{ workspaces: ReadonlyArray<string> }>(tree, "package.json").workspaces).toContain(
      "plugins/spark/runner-foo"
    )
    expect(tree.read("plugins/spark/runner-foo/vitest.config.ts", "utf-8")).toContain(
      'from "../../../vitest.shared.js"'
    )
  })

  it("refuses a name that is not a kebab-case kind, and an existing folder", async () => {
    await expect(generate("Foo_Bar")).rejects.toThrow('"Foo_Bar" is not a rule kind')
    const tree = workspaceTree()
    tree.write("packages/runner-foo/package.json", "{}")
    await expect(runnerGenerator(tree, { name: "foo" })).rejects.toThrow("packages/runner-foo already exists")
  })
})

describe("docs/plugin-guide.md", () => {
  const guide = fs.readFileSync(path.join(repoRoot, "docs", "plugin-guide.md"), "utf8")

  // A fenced block right after `<!-- generated: <file> -->` is that file as generated for `foo`.
  it("shows the generated files as they are generated", async () => {
    const { tree } = await generate("foo")
    const blocks = [...guide.matchAll(/<!-- generated: (\S+) -->\n```\w*\n([\s\S]*?)```\n/g)]
    expect(blocks.map((b) => b[1])).toEqual([
      "packages/runner-foo/src/plugin.ts",
      "packages/runner-foo/src/FooOptions.ts",
      "packages/runner-foo/src/FooRunner.ts"
    ])
    for (const [, file, text] of blocks) expect(text, file).toBe(tree.read(file!, "utf-8"))
  })

  // The layout block lists every generated file, and nothing else.
  it("lists the generated layout", async () => {
    const { tree } = await generate("foo")
    const layout = /<!-- generated-layout -->\n```\n([\s\S]*?)```\n/.exec(guide)?.[1]
    expect(layout).toBeDefined()
    const [root, ...entries] = (layout ?? "").trimEnd().split("\n")
    expect(root).toBe("packages/runner-foo/")
    const listed = entries.map((line) => `packages/runner-foo/${line.trim().split(/\s+/)[0]}`)
    expect(listed.sort()).toEqual([...filesUnder(tree, "packages/runner-foo")].sort())
  })
})
