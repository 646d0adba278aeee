/**
 * The npm packages as a user of the registry gets them: each packed with `npm pack`, installed
 * together into an empty folder, and the CLI started from there: its version, and a batch on Spark.
 */
import { execFileSync, spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest"
import { repoRoot } from "../src/Release.js"

const packages = ["core", "runner-spark-connect", "runner-sql", "kafka-reporter", "cli"]
const work = fs.mkdtempSync(path.join(os.tmpdir(), "spark-etl-pack-test-"))
afterAll(() => fs.rmSync(work, { recursive: true, force: true }))

const npm = (args: ReadonlyArray<string>, cwd: string): string =>
  execFileSync("npm", [...args, "--no-audit", "--no-fund", "--loglevel=error"], { cwd, encoding: "utf8" })

const packs = path.join(work, "packs")
const app = path.join(work, "app")
const bin = path.join(app, "node_modules", ".bin", "spark-etl")
// The bin's `#!/usr/bin/env node` finds this test's Node 24 first on PATH.
const env = { PATH: `${path.dirname(process.execPath)}:/usr/bin:/bin`, HOME: os.homedir() }
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
})
