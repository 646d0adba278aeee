import * as fs from "node:fs"
import * as path from "node:path"
import { describe, expect, it } from "vitest"
import { ExitCode, forSignal, restartMayHelp } from "../src/ExitCode.js"

// The table L2 reads (docs/exit-codes.md): code, name and "may a plain rerun help?" per row.
const documented = () => {
  const doc = fs.readFileSync(path.resolve(import.meta.dirname, "../../../docs/exit-codes.md"), "utf8")
  const table = doc.split(/^## /m)[0] ?? ""
  return [...table.matchAll(/^\| (\d+) \| `(\w+)` \|.*\| ([^|]+) \|$/gm)].map(([, code, name, rerun]) => ({
    code: Number(code),
    name: name!,
    rerun: rerun!.trim()
  }))
}

describe("ExitCode", () => {
  it("is the documented table, its codes all distinct", () => {
    const rows = documented()
    expect(rows.map((r) => r.name)).toEqual(Object.keys(ExitCode))
    expect(Object.fromEntries(rows.map((r) => [r.name, r.code]))).toEqual(ExitCode)
    expect(new Set(Object.values(ExitCode)).size).toBe(rows.length)
    // What the shell and sysexits(3) fix, whatever the doc says.
    expect(ExitCode.Success).toBe(0)
    expect(ExitCode.Usage).toBe(64)
  })

  it("maps signals to 128 + signal number", () => {
    expect(forSignal("SIGINT")).toBe(128 + 2)
    expect(forSignal("SIGTERM")).toBe(128 + 15)
  })

  it("tells L2 a restart may help only where the documented table says yes", () => {
    const rows = documented()
    expect(rows.filter((r) => r.rerun === "yes").map((r) => r.name)).toEqual([
      "SystemFailure",
      "Interrupted",
      "Terminated"
    ])
    for (const r of rows) expect(restartMayHelp(r.code as ExitCode), r.name).toBe(r.rerun === "yes")
  })
})
