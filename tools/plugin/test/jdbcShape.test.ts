// runner-jdbc, the second runner, keeps the shape `nx g @spark-etl/plugin:runner jdbc` gives:
// its wiring (package.json's exports, scripts, peers and tags; the tsconfigs; the plugin
// declaration) and its module names are the generator's, so neither can drift from the other.
import * as fs from "node:fs"
import * as path from "node:path"
import { beforeAll, describe, expect, it } from "vitest"
import { runnerGenerator } from "../src/runner/generator.js"
import { workspaceTree } from "./tree.js"
import { repoRoot } from "./workspace.js"

interface PackageJson {
  readonly [field: string]: unknown
  readonly scripts: Readonly<Record<string, string>>
  readonly peerDependencies: Readonly<Record<string, string>>
  readonly devDependencies: Readonly<Record<string, string>>
  readonly nx: { readonly tags: ReadonlyArray<string> }
}

const ours = (file: string) => fs.readFileSync(path.join(repoRoot, "packages/runner-jdbc", file), "utf-8")
let generated: (file: string) => string

// Comments may differ (they describe the package); the code may not.
const code = (text: string) =>
  text
    .replace(/\/\*\*[\s\S]*?\*\//g, "")
    .replace(/^\s*\/\/.*$/gm, "")
    .replace(/\s+/g, " ")
    .trim()

beforeAll(async () => {
  const tree = workspaceTree()
  await runnerGenerator(tree, { name: "jdbc" })
  generated = (file) => tree.read(`packages/runner-jdbc/${file}`, "utf-8") ?? ""
})

describe("runner-jdbc has the generator's shape", () => {
  it("package.json: the same exports, files, peers and tags; the generator's scripts", () => {
    const [gen, jdbc] = [JSON.parse(generated("package.json")), JSON.parse(ours("package.json"))] as [
      PackageJson,
      PackageJson
    ]
    for (const field of [
      "name",
      "type",
      "license",
      "sideEffects",
      "types",
      "exports",
      "files",
      "peerDependencies"
    ])
      expect(jdbc[field], field).toEqual(gen[field])
    expect(jdbc.scripts).toMatchObject(gen.scripts)
    expect(jdbc.nx.tags).toEqual(gen.nx.tags)
    // The generator lists the peers again as dev dependencies; npm's workspace gives them here.
    expect(
      Object.keys(gen.devDependencies).filter(
        (d) => !(d in jdbc.devDependencies) && !(d in jdbc.peerDependencies)
      )
    ).toEqual([])
  })

  it("the tsconfigs and the plugin declaration", () => {
    expect(JSON.parse(ours("tsconfig.build.json"))).toEqual(JSON.parse(generated("tsconfig.build.json")))
    const include = (text: string) => (JSON.parse(text) as { include: ReadonlyArray<string> }).include
    expect(include(ours("tsconfig.json"))).toEqual(
      expect.arrayContaining([...include(generated("tsconfig.json"))])
    )
    expect(code(ours("src/plugin.ts"))).toBe(code(generated("src/plugin.ts")))
  })

  it("the generator's modules, exported as it exports them", () => {
    for (const module of ["src/JdbcOptions.ts", "src/JdbcRunner.ts", "src/Classify.ts", "README.md"])
      expect(fs.existsSync(path.join(repoRoot, "packages/runner-jdbc", module)), module).toBe(true)
    const exports = (text: string) =>
      code(text)
        .split(/(?<=;|")\s*(?=export)/)
        .filter((l) => l.startsWith("export"))
    expect(exports(generated("src/index.ts"))).toEqual([
      'export * as Classify from "./Classify.js"',
      'export * as JdbcOptions from "./JdbcOptions.js"',
      'export * as JdbcRunner from "./JdbcRunner.js"',
      'export { plugin } from "./plugin.js"'
    ])
    expect(exports(ours("src/index.ts"))).toEqual(expect.arrayContaining(exports(generated("src/index.ts"))))
  })
})
