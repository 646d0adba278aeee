/**
 * The npm packages as a user of the registry gets them: each packed with `npm pack`, installed
 * together into an empty folder, and the CLI started from there: its version, a batch on Spark,
 * and the Node flags its bin starts with. The client is also installed alone, as a library.
 */
import { waitFor, within } from "@spark-etl/testing"
import { execFileSync, spawn, spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as net from "node:net"
import * as os from "node:os"
import * as path from "node:path"
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest"
import { repoRoot } from "../src/Release.js"

const packages = ["core", "runner-spark-connect", "runner-sql", "kafka-reporter", "cli", "runner-jdbc"]
const work = fs.mkdtempSync(path.join(os.tmpdir(), "spark-etl-pack-test-"))
afterAll(() => fs.rmSync(work, { recursive: true, force: true }))

const npmArgs = (args: ReadonlyArray<string>) => [...args, "--no-audit", "--no-fund", "--loglevel=error"]
const npm = (args: ReadonlyArray<string>, cwd: string): string =>
  execFileSync("npm", npmArgs(args), { cwd, encoding: "utf8" })

const packs = path.join(work, "packs")
const app = path.join(work, "app")
const bin = path.join(app, "node_modules", ".bin", "spark-etl")
// The bin's `#!/usr/bin/env -S node ...` finds this test's Node 24 first on PATH.
const env = { PATH: `${path.dirname(process.execPath)}:/usr/bin:/bin`, HOME: os.homedir() }
const tarballOf = (name: string) => tarballs[packages.indexOf(name)]!
const oneRule = (batch: string) =>
  `batch: ${batch}\nrules:\n  - id: one\n    kind: sql\n    options:\n      sql: SELECT 1 AS one\n`

let tarballs: ReadonlyArray<string> = []
beforeAll(() => {
  fs.mkdirSync(packs)
  // npm prints the tarball's name last (after the prepack script's own lines).
  tarballs = packages.map((name) => {
    const printed = npm(["pack", "--pack-destination", packs], path.join(repoRoot, "packages", name))
    return path.join(packs, printed.trim().split("\n").at(-1) ?? "")
  })
  fs.mkdirSync(app)
  fs.writeFileSync(path.join(app, "package.json"), '{ "private": true }\n')
  npm(["install", "--prefer-offline", "--ignore-scripts", ...tarballs], app)
})

describe("the npm packages", () => {
  it("pack with their licence and typings, and the installed CLI starts", () => {
    for (const tarball of tarballs) {
      const files = execFileSync("tar", ["-tzf", tarball], { encoding: "utf8" }).split("\n")
      expect(files, tarball).toContain("package/LICENSE")
      expect(files, tarball).toContain("package/dist/index.d.ts")
      expect(
        files.filter((f) => f.includes("/test/")),
        tarball
      ).toEqual([])
    }
    const version = spawnSync(bin, ["--version"], { encoding: "utf8", env })
    expect(version.stderr).toBe("")
    expect(version.stdout.trim()).toBe("spark-etl v0.1.0")
    expect(version.status).toBe(0)
  })

  // Two copies of Effect (a transitive range once pulled in a newer one beside the packages'
  // pinned copy) and the installed CLI rejected a valid batch: its schemas came from one copy,
  // the values they checked from another.
  it("install one copy of Effect, and the CLI runs a batch on Spark", () => {
    const copies = npm(["ls", "effect", "--all", "--parseable"], app).trim().split("\n")
    expect(new Set(copies)).toEqual(new Set([path.join(app, "node_modules", "effect")]))
    fs.writeFileSync(path.join(app, "batch.yaml"), oneRule("from_npm"))
    const run = spawnSync(
      bin,
      ["run", "batch.yaml", "--remote", inject("sparkRemote"), "--state-dir", "state"],
      { cwd: app, encoding: "utf8", env }
    )
    expect(run.status, run.stderr).toBe(0)
    expect(run.stdout.trim().split("\n").at(-1)).toMatch(/^spark-etl SUCCEEDED batch=from_npm /)
  })

  // A plugin from the registry, beside the CLI: found from the batch file's folder upward, and
  // sharing the CLI's copy of core (its peer dependency), or its kind would be another core's.
  it("install the jdbc plugin, which a batch naming it under plugins: finds and validates", () => {
    fs.writeFileSync(
      path.join(app, "plugin.yaml"),
      [
        "batch: with_plugin",
        'plugins: ["@spark-etl/runner-jdbc"]',
        "rules:",
        "  - id: orders",
        "    kind: jdbc",
        "    options:",
        "      url: jdbc:postgresql://127.0.0.1:5432/shop",
        "      user: etl",
        "      read: { table: public.orders }",
        ""
      ].join("\n")
    )
    const validated = spawnSync(bin, ["validate", "plugin.yaml"], { cwd: app, encoding: "utf8", env })
    expect(validated.stderr).toBe("")
    expect(validated.status).toBe(0)
    // Another kind's option under jdbc is refused by the plugin's own schema, at its line.
    fs.writeFileSync(
      path.join(app, "plugin.yaml"),
      fs.readFileSync(path.join(app, "plugin.yaml"), "utf8").replace("read:", "sql: SELECT 1\n      read:")
    )
    const refused = spawnSync(bin, ["validate", "plugin.yaml"], { cwd: app, encoding: "utf8", env })
    expect(refused.status).toBe(3)
    expect(refused.stderr).toMatch(/plugin\.yaml:\d+:\d+: rules\[0\]\.options\.sql/)
  })

  // As the release's launcher does: V8's young generation capped at 32 MiB (tools/release/README.md).
  it("start Node with --max-semi-space-size=16 from the bin", async () => {
    // A run dialling a server that accepts and never answers stays up long enough to be read.
    let dialled = false
    const silent = net.createServer((socket) => {
      dialled = true
      socket.on("error", () => {})
    })
    await new Promise<void>((resolve) => silent.listen(0, "127.0.0.1", resolve))
    const port = (silent.address() as net.AddressInfo).port
    fs.writeFileSync(path.join(app, "silent.yaml"), oneRule("silent"))
    const child = spawn(
      bin,
      ["run", "silent.yaml", "--remote", `sc://127.0.0.1:${port}`, "--state-dir", "state"],
      {
        cwd: app,
        env,
        stdio: ["ignore", "ignore", "pipe"]
      }
    )
    let stderr = ""
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()))
    const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)))
    try {
      expect(await waitFor(() => dialled, 60_000), `the run dialled the server; its stderr: ${stderr}`).toBe(
        true
      )
      const commandLine = fs
        .readFileSync(`/proc/${child.pid}/cmdline`, "utf8")
        .split("\0")
        .filter((a) => a !== "")
      expect(commandLine.slice(0, 3)).toEqual(["node", "--max-semi-space-size=16", bin])
    } finally {
      child.kill("SIGINT")
      await within(exited, 10_000, "the run's exit after SIGINT")
      silent.close()
    }
  })
})

// Every package takes Effect as a peer dependency: an application's own Effect is the one they
// use, and one they cannot use is refused at install rather than nested beside it.
describe("the client, as a library", () => {
  // As the package's README shows it: a session layer, a query with bound parameters, its rows.
  const script = `import * as Effect from "effect/Effect"
import { SparkSession } from "@spark-etl/runner-spark-connect"
const program = Effect.gen(function* () {
  const spark = yield* SparkSession.SparkSession
  const df = yield* spark.sql("SELECT id, :label AS label FROM range(:n)", { params: { n: 2, label: "x" } })
  return yield* spark.collect(df)
}).pipe(Effect.provide(SparkSession.layer({ remote: process.argv[2] })))
const rows = await Effect.runPromise(program)
console.log(JSON.stringify(rows, (_, v) => (typeof v === "bigint" ? \`\${v}n\` : v)))
`

  it("installs alone with one copy of Effect, and queries Spark", () => {
    const client = path.join(work, "client")
    fs.mkdirSync(client)
    fs.writeFileSync(path.join(client, "package.json"), '{ "private": true, "type": "module" }\n')
    npm(["install", "--prefer-offline", "--ignore-scripts", tarballOf("runner-spark-connect")], client)
    const copies = npm(["ls", "effect", "--all", "--parseable"], client).trim().split("\n")
    expect(new Set(copies)).toEqual(new Set([path.join(client, "node_modules", "effect")]))
    fs.writeFileSync(path.join(client, "query.js"), script)
    const query = spawnSync(process.execPath, ["query.js", inject("sparkRemote")], {
      cwd: client,
      encoding: "utf8",
      env
    })
    expect(query.stderr).toBe("")
    expect(query.stdout.trim()).toBe('[{"id":"0n","label":"x"},{"id":"1n","label":"x"}]')
  })

  it("is refused at install beside another version of Effect, naming both", () => {
    const other = path.join(work, "other-effect")
    fs.mkdirSync(other)
    fs.writeFileSync(
      path.join(other, "package.json"),
      '{ "private": true, "dependencies": { "effect": "4.1.5" } }\n'
    )
    const install = spawnSync(
      "npm",
      npmArgs(["install", "--prefer-offline", "--ignore-scripts", tarballOf("runner-spark-connect")]),
      { cwd: other, encoding: "utf8" }
    )
    expect(install.status).not.toBe(0)
    expect(install.stderr).toContain("ERESOLVE")
    expect(install.stderr).toMatch(/effect@4\.1\.5/)
    expect(install.stderr).toMatch(/peer effect@"4\.1\.0"/)
    expect(fs.existsSync(path.join(other, "node_modules", "@spark-etl"))).toBe(false)
  })
})
