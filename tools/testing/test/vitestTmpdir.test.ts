// The run's temporary folder (src/vitestTmpdir.ts), set up and torn down as vitest does it:
// a fresh spark-etl-test-* folder open as /tmp is, TMPDIR for this process and its children,
// then gone, and TMPDIR as it was.
import { execFileSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { afterEach, expect, it } from "vitest"
import setup from "../src/vitestTmpdir.js"

const before = process.env["TMPDIR"]

afterEach(() => {
  if (before === undefined) delete process.env["TMPDIR"]
  else process.env["TMPDIR"] = before
})

it("points TMPDIR at a fresh folder open as /tmp is, and removes it at teardown", () => {
  const teardown = setup()
  let dir: string | undefined
  try {
    dir = process.env["TMPDIR"]
    expect(dir).toBeDefined()
    expect(dir).not.toBe(before)
    expect(path.basename(dir!)).toMatch(/^spark-etl-test-/)
    const stat = fs.statSync(dir!)
    expect(stat.isDirectory()).toBe(true)
    expect(stat.mode & 0o7777).toBe(0o1777)
    expect(os.tmpdir()).toBe(dir)
    expect(execFileSync("sh", ["-c", 'echo "$TMPDIR"'], { encoding: "utf8" }).trim()).toBe(dir)
  } finally {
    teardown()
  }
  expect(fs.existsSync(dir!)).toBe(false)
  expect(process.env["TMPDIR"]).toBe(before)
})
