import { describe, expect, it } from "vitest"
import { split } from "../src/Statements.js"

describe("Statements.split", () => {
  it("splits at top-level semicolons and keeps each statement's line", () => {
    expect(split("SELECT 1;\n\nINSERT INTO t\nSELECT 2;\n")).toEqual([
      { sql: "SELECT 1", line: 1 },
      { sql: "INSERT INTO t\nSELECT 2", line: 3 }
    ])
  })

  it("does not split inside strings, quoted identifiers or comments", () => {
    const script = "SELECT 'a;b', \"c;d\", `e;f` -- g;h\nFROM t /* i;\nj */ WHERE x = 'it''s;';\nSELECT 2"
    const statements = split(script)
    expect(statements.map((s) => s.line)).toEqual([1, 4])
    expect(statements[0]?.sql).toContain("WHERE x = 'it''s;'")
    expect(statements[1]?.sql).toBe("SELECT 2")
  })

  it("drops empty and comment-only statements", () => {
    expect(split(";;\n-- nothing here;\n/* nor; here */;")).toEqual([])
  })
})
