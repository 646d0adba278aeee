// docs/exit-codes.md is what L2 reads to decide; its list of codes must be the code's list. The
// codes are collected from the sources of every package (what a failure can carry: a class's
// default code, an explicit `code:`, a rejection's code, the expectation checks' codes) and
// compared with the table of the doc, both ways.
import * as fs from "node:fs"
import * as path from "node:path"
import { describe, expect, it } from "vitest"
import { Expectations } from "@spark-etl/runner-sql"

const root = path.resolve(import.meta.dirname, "..", "..", "..")

const sources = (dir: string): ReadonlyArray<string> =>
  fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name)
    if (e.isDirectory()) return e.name === "generated" ? [] : sources(p)
    return e.name.endsWith(".ts") && !e.name.endsWith(".d.ts") ? [p] : []
  })

// Our own codes as the sources state them; core's conformance kit (testing.ts) imitates Spark's.
const codesInSources = (): ReadonlySet<string> => {
  const found = new Set<string>(Object.values(Expectations.codes))
  const patterns = [
    /\bcode: "([A-Z][A-Z0-9_]+)"/g,
    /withCode\(input, "([A-Z][A-Z0-9_]+)"\)/g,
    /rejected\([^;]*?,\s*"([A-Z][A-Z0-9_]+)"\s*\)/gs
  ]
  for (const pkg of fs.readdirSync(path.join(root, "packages"))) {
    const src = path.join(root, "packages", pkg, "src")
    if (!fs.existsSync(src)) continue
    for (const file of sources(src)) {
      if (file.endsWith(path.join("core", "src", "testing.ts"))) continue
      const text = fs.readFileSync(file, "utf8")
      for (const pattern of patterns) for (const m of text.matchAll(pattern)) found.add(m[1]!)
    }
  }
  return found
}

// The first column of the doc's "Codes" table.
const codesInDoc = (): ReadonlySet<string> => {
  const doc = fs.readFileSync(path.join(root, "docs", "exit-codes.md"), "utf8")
  const section = doc.split(/^## Codes$/m)[1]?.split(/^## /m)[0] ?? ""
  return new Set([...section.matchAll(/^\| `([A-Z][A-Z0-9_]+)` \|/gm)].map((m) => m[1]!))
}

describe("docs/exit-codes.md", () => {
  it("lists exactly the codes a failure can carry", () => {
    const inSources = codesInSources()
    const inDoc = codesInDoc()
    expect(inSources.size).toBeGreaterThan(15)
    expect([...inSources].filter((c) => !inDoc.has(c)).sort(), "codes missing from the doc").toEqual([])
    expect(
      [...inDoc].filter((c) => !inSources.has(c)).sort(),
      "codes the doc lists that nothing emits"
    ).toEqual([])
  })
})
