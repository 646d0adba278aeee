// The generator end to end, as a platform team would use it: in a copy of this workspace,
// `nx g @spark-etl/plugin:runner demo`, link, build and test the new package (core's conformance
// kit against Spark), then run a batch that names it through the CLI.
import * as fs from "node:fs"
import * as path from "node:path"
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest"
import { copyWorkspace, exec, linkPackage, repoRoot, type Result } from "./workspace.js"

const minutes = (n: number) => n * 60_000
let copy = ""

// The copy takes the CLI and the libraries as built here (`nx run @spark-etl/plugin:test` builds
// them first: the cli is an implicit dependency of this project).
const built = [
  "packages/cli/dist/main.js",
  "packages/core/dist/index.js",
  "packages/runner-sql/dist/index.js"
]

beforeAll(() => {
  const missing = built.filter((f) => !fs.existsSync(path.join(repoRoot, f)))
  if (missing.length > 0)
    throw new Error(`build the workspace first (npx nx run-many -t build): missing ${missing.join(", ")}`)
  copy = copyWorkspace()
})
afterAll(() => {
  if (copy !== "") fs.rmSync(copy, { recursive: true, force: true })
})

// Commands run as a developer's would in the copy: its node_modules/.bin first, no Nx daemon.
const run = (cwd: string, command: string, args: ReadonlyArray<string>, minutesAllowed = 5) =>
  exec(command, args, {
    cwd,
    timeoutMs: minutes(minutesAllowed),
    env: {
      PATH: `${path.join(copy, "node_modules", ".bin")}${path.delimiter}${process.env["PATH"] ?? ""}`,
      NX_DAEMON: "false",
      NX_NO_CLOUD: "true",
      NX_TUI: "false",
      NO_COLOR: "1",
      SPARK_REMOTE: inject("sparkRemote")
    }
  })

const ok = (step: string, result: Result) =>
  expect(result.code, `${step} failed:\n${result.stdout}\n${result.stderr}`).toBe(0)

describe("nx g @spark-etl/plugin:runner", () => {
  it("generates a package that builds, passes its tests and runs in a batch", async () => {
    const started = performance.now()
    const generated = await run(copy, "nx", ["g", "@spark-etl/plugin:runner", "demo", "--no-interactive"])
    ok("nx g", generated)
    expect(generated.stdout).toContain("npx nx run @spark-etl/runner-demo:test")
    const pkg = path.join(copy, "packages", "runner-demo")
    expect(fs.existsSync(path.join(pkg, "src", "DemoRunner.ts"))).toBe(true)

    // What `npm install` does for a new workspace package: the lock gains it (checked offline,
    // which proves every dependency it names is one the workspace has) and node_modules links it.
    const install = await run(copy, "npm", lockOnly)
    ok("npm install --package-lock-only", install)
    const lock = JSON.parse(fs.readFileSync(path.join(copy, "package-lock.json"), "utf8")) as {
      packages: Record<string, { link?: boolean; resolved?: string }>
    }
    expect(lock.packages["node_modules/@spark-etl/runner-demo"]).toEqual({
      resolved: "packages/runner-demo",
      link: true
    })
    linkPackage(copy, "@spark-etl/runner-demo", "packages/runner-demo")

    const build = await run(copy, "nx", ["run", "@spark-etl/runner-demo:build", "--excludeTaskDependencies"])
    ok("build", build)
    const tests = await run(pkg, "vitest", ["run"], 10)
    ok("the generated package's tests", tests)
    const toGreen = performance.now() - started
    expect(tests.stdout).toMatch(/Tests\s+\d+ passed \(\d+\)/)
    console.info(
      `[plugin] nx g → passing plugin tests: ${(toGreen / 1000).toFixed(1)} s ` +
        `(nx g ${s(generated)}, npm lock ${s(install)}, build ${s(build)}, tests ${s(tests)})`
    )

    // Beyond the figure: the package passes the workspace's type check and lint as generated.
    ok("typecheck", await run(pkg, "tsc", ["-p", "tsconfig.json"]))
    ok("lint", await run(pkg, "eslint", ["."]))

    const batchDir = path.join(copy, "batches", "demo")
    fs.mkdirSync(batchDir, { recursive: true })
    fs.writeFileSync(path.join(batchDir, "batch.yaml"), batch)
    const cli = await exec(
      process.execPath,
      [
        path.join(copy, "packages", "cli", "dist", "main.js"),
        "run",
        "batch.yaml",
        "--remote",
        inject("sparkRemote"),
        "--state-dir",
        path.join(batchDir, "state")
      ],
      { cwd: batchDir, timeoutMs: minutes(5) }
    )
    ok("spark-etl run", cli)
    const summary = cli.stdout.trim().split("\n").at(-1) ?? ""
    expect(summary).toMatch(/^spark-etl SUCCEEDED batch=with_demo /)
    console.info(`[plugin] ${summary}`)
    // The demo rule ran through the generated runner (its own log line), before the sql rule read it.
    const log = fs.readFileSync(/\blog=(\S+)/.exec(summary)?.[1] ?? "", "utf8")
    expect(log).toContain("view rates computed and cached")
  })
})

const lockOnly = [
  "install",
  "--package-lock-only",
  "--offline",
  "--ignore-scripts",
  "--no-audit",
  "--no-fund"
]

const s = (r: Result) => `${(r.ms / 1000).toFixed(1)} s`

// A demo rule and a sql rule reading its view, with an expectation on what it read.
const batch = `batch: with_demo
plugins: ["@spark-etl/runner-demo"]
rules:
  - id: rates
    kind: demo
    options:
      columns:
        currency: "'EUR'"
        rate: CAST(1.08 AS DECIMAL(6, 4))
      row_count: 2
  - id: priced
    kind: sql
    depends_on: [rates]
    options:
      sql: SELECT currency, rate * 100 AS price FROM rates
      expect:
        row_count: { min: 2, max: 2 }
        not_null: [price]
`
