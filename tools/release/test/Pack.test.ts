/**
 * The npm packages as a user of the registry gets them: each packed with `npm pack`, installed
 * together into an empty folder, and the CLI started from there.
 */
import { execFileSync, spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { afterAll, describe, expect, it } from "vitest"
import { repoRoot } from "../src/Release.js"

const packages = ["core", "runner-spark-connect", "runner-sql", "kafka-reporter", "cli"]
const work = fs.mkdtempSync(path.join(os.tmpdir(), "spark-etl-pack-test-"))
afterAll(() => fs.rmSync(work, { recursive: true, force: true }))

const npm = (args: ReadonlyArray<string>, cwd: string): string =>
  execFileSync("npm", [...args, "--no-audit", "--no-fund", "--loglevel=error"], { cwd, encoding: "utf8" })

describe("the npm packages", () => {
  it("pack with their licence and typings, install into an empty folder, and run", () => {
    const packs = path.join(work, "packs")
    fs.mkdirSync(packs)
    // npm prints the tarball's name last (after the prepack script's own lines).
    const tarballs = packages.map((name) => {
      const printed = npm(["pack", "--pack-destination", packs], path.join(repoRoot, "packages", name))
      return path.join(packs, printed.trim().split("\n").at(-1) ?? "")
    })
    for (const tarball of tarballs) {
      const files = execFileSync("tar", ["-tzf", tarball], { encoding: "utf8" }).split("\n")
      expect(files, tarball).toContain("package/LICENSE")
      expect(files, tarball).toContain("package/dist/index.d.ts")
      expect(
        files.filter((f) => f.includes("/test/")),
        tarball
      ).toEqual([])
    }
    const app = path.join(work, "app")
    fs.mkdirSync(app)
    fs.writeFileSync(path.join(app, "package.json"), '{ "private": true }\n')
    npm(["install", "--prefer-offline", "--ignore-scripts", ...tarballs], app)
    // The bin's `#!/usr/bin/env node` finds this test's Node 24 first on PATH.
    const version = spawnSync(path.join(app, "node_modules", ".bin", "spark-etl"), ["--version"], {
      encoding: "utf8",
      env: { PATH: `${path.dirname(process.execPath)}:/usr/bin:/bin`, HOME: os.homedir() }
    })
    expect(version.stderr).toBe("")
    expect(version.stdout.trim()).toBe("spark-etl v0.1.0")
    expect(version.status).toBe(0)
  })
})
