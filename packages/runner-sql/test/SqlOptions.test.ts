import { NodeServices } from "@effect/platform-node"
import { Plugin, Text } from "@spark-etl/core"
import { Effect, Result } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { assert, describe, expect, it } from "vitest"
import * as SqlRunner from "../src/SqlRunner.js"
import * as Script from "../src/internal/script.js"
import * as Static from "../src/internal/validate.js"

const fixtures = path.resolve(import.meta.dirname, "fixtures")

const issuesOf = (raw: unknown) => {
  const decoded = Plugin.decodeOptions(SqlRunner.runner, raw)
  return Result.isFailure(decoded) ? decoded.failure : []
}

const validate = (
  raw: unknown,
  parameters: Record<string, { readonly type: "string" | "date" | "int" }> = {},
  ruleId = "rule_a"
) => {
  const decoded = Plugin.decodeOptions(SqlRunner.runner, raw)
  if (Result.isFailure(decoded)) throw new Error(`does not decode: ${JSON.stringify(decoded.failure)}`)
  return Effect.runPromise(
    Static.validate({
      batchDir: fixtures,
      rule: { id: ruleId, kind: "sql" },
      options: decoded.success,
      parameters
    }).pipe(Effect.provide(NodeServices.layer))
  )
}

describe("sql options: decoding", () => {
  it("accepts a full set of options", () => {
    expect(
      issuesOf({
        sql: "SELECT 1",
        inputs: { raw_orders: { path: "data/orders.csv", format: "csv", options: { header: true } } },
        format: "csv",
        mode: "append",
        partition_by: ["day"],
        write_options: { header: "true", compression: "gzip" },
        expect: {
          row_count: { min: 1, max: 10 },
          not_null: ["a"],
          unique: ["a", "b"],
          assert_empty: "SELECT 1"
        }
      })
    ).toEqual([])
  })

  it.each([
    [{}, [], "give the rule's SQL"],
    [{ sql: "SELECT 1", file: "a.sql" }, ["file"], 'either "sql" or "file"'],
    [{ sql: 42 }, ["sql"], "Expected string"],
    [{ sql: "" }, ["sql"], ""],
    [{ sql: "SELECT 1", colour: "red" }, ["colour"], "unknown field"],
    [{ sql: "SELECT 1", format: "xlsx" }, ["format"], "parquet"],
    [{ sql: "SELECT 1", mode: "replace" }, ["mode"], "overwrite"],
    [{ sql: "SELECT 1", partition_by: [] }, ["partition_by"], "at least one column"],
    [
      { sql: "SELECT 1", table: "insert_into", partition_by: ["d"] },
      ["partition_by"],
      "table's own partitioning"
    ],
    [{ sql: "SELECT 1", table: "insert_into", format: "orc" }, ["format"], "table's own format"],
    [
      { sql: "SELECT 1", inputs: { "bad-name": { path: "x", format: "csv" } } },
      ["inputs", "bad-name"],
      "cannot name a view"
    ],
    [
      { sql: "SELECT 1", inputs: { v: { format: "csv" } } },
      ["inputs", "v", "path"],
      "required field is missing"
    ],
    [
      { sql: "SELECT 1", expect: { row_count: { min: 5, max: 1 } } },
      ["expect", "row_count", "max"],
      "below min"
    ],
    [{ sql: "SELECT 1", expect: { row_count: {} } }, ["expect", "row_count"], "min, max or both"],
    [{ sql: "SELECT 1", expect: { row_count: { min: -1 } } }, ["expect", "row_count", "min"], "0"],
    [{ sql: "SELECT 1", expect: { not_null: "a" } }, ["expect", "not_null"], "array"],
    [{ sql: "SELECT 1", expect: { unique: [] } }, ["expect", "unique"], "at least one column"],
    [{ sql: "SELECT 1", expect: { assert_emtpy: "SELECT 1" } }, ["expect", "assert_emtpy"], "unknown field"]
  ])("refuses %j at its path", (raw, at, message) => {
    const issues = issuesOf(raw)
    expect(issues.length).toBeGreaterThan(0)
    const issue = issues.find((i) => JSON.stringify(i.path) === JSON.stringify(at))
    expect(issue, JSON.stringify(issues)).toBeDefined()
    expect(issue!.message.trim()).not.toBe("")
    expect(issue!.message).toContain(message)
  })

  it("reports every problem at once", () => {
    const issues = issuesOf({ sql: 1, mode: "x", expect: { not_null: [] } })
    expect(issues.map((i) => i.path.join("."))).toEqual(
      expect.arrayContaining(["sql", "mode", "expect.not_null"])
    )
  })
})

describe("sql options: the static check", () => {
  it("accepts a SQL file whose parameters are declared", async () => {
    expect(await validate({ file: "two_statements.sql" }, { min_id: { type: "int" } })).toEqual([])
  })

  it("refuses a SQL file that does not exist, naming the path", async () => {
    const issues = await validate({ file: "sql/missing.sql" })
    expect(issues).toHaveLength(1)
    expect(issues[0]!.path).toEqual(["file"])
    expect(issues[0]!.message).toContain(path.join(fixtures, "sql/missing.sql"))
  })

  it("refuses a SQL file without a statement", async () => {
    expect(await validate({ file: "empty.sql" })).toEqual([
      { path: ["file"], message: "SQL file empty.sql has no statement" }
    ])
  })

  it("refuses undeclared parameters with file and line", async () => {
    const issues = await validate({ file: "two_statements.sql" }, { run_date: { type: "date" } })
    expect(issues).toEqual([
      {
        path: ["file"],
        message:
          "two_statements.sql:line 5: parameter :min_id is not declared in the batch's parameters (declared: run_date)"
      }
    ])
  })

  it("refuses undeclared parameters in inline SQL and in assert_empty", async () => {
    const issues = await validate({
      sql: "SELECT 1 AS a\nWHERE :day IS NOT NULL",
      expect: { assert_empty: "SELECT * FROM rule_a WHERE a > :limit" }
    })
    expect(issues.map((i) => [i.path.join("."), i.message.split(":")[0]])).toEqual([
      ["sql", "line 2"],
      ["expect.assert_empty", "line 1"]
    ])
  })

  it("refuses an assertion of several statements", async () => {
    const issues = await validate({ sql: "SELECT 1", expect: { assert_empty: "SELECT 1; SELECT 2" } })
    expect(issues).toEqual([
      { path: ["expect", "assert_empty"], message: "expected one query, found 2 statements" }
    ])
  })

  const sqlFile = (bytes: ReadonlyArray<number> | string) => {
    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "runner-sql-utf8-")), "rule.sql")
    fs.writeFileSync(file, typeof bytes === "string" ? bytes : Uint8Array.from(bytes))
    return file
  }
  const ascii = (text: string) => [...Buffer.from(text, "utf8")]

  it("refuses a SQL file that is not UTF-8 (FF FE: a UTF-16 BOM), naming file, line and column", async () => {
    const file = sqlFile([0xff, 0xfe, ...ascii("S\0E\0L\0\n\0x\0\n\0")])
    expect(await validate({ file })).toEqual([
      {
        path: ["file"],
        message: `SQL file ${file} is not valid UTF-8 at line 1, column 1 (byte 0xFF at offset 0)`
      }
    ])
  })

  it("refuses a bad byte on line 3 at its column, counting characters, not bytes", async () => {
    // Line 3 is "WHERE é = " then 0xE9 (Latin-1 é) then " 'x'": column 11, after a 2-byte é.
    const file = sqlFile([...ascii("SELECT *\nFROM t\nWHERE é = "), 0xe9, ...ascii(" 'x'\n")])
    const issues = await validate({ file })
    expect(issues).toHaveLength(1)
    expect(issues[0]!.message).toBe(
      `SQL file ${file} is not valid UTF-8 at line 3, column 11 (byte 0xE9 at offset 27)`
    )
  })

  it("accepts a UTF-8 file with a BOM, and the run reads it without the BOM", async () => {
    const file = sqlFile([0xef, 0xbb, 0xbf, ...ascii("SELECT 'é' AS a\n")])
    expect(await validate({ file })).toEqual([])
    const script = await Effect.runPromise(Script.load({ file }, "/", "r"))
    expect(script.text).toBe("SELECT 'é' AS a\n")
  })

  it("fails the run too when the file stopped being UTF-8 after validation", async () => {
    const file = sqlFile([...ascii("SELECT 1\n"), 0xc3, 0x28])
    const failure = await Effect.runPromise(Effect.flip(Script.load({ file }, "/", "r")))
    expect(failure).toMatchObject({ _tag: "SqlError", code: "SQL_FILE_UNREADABLE", ruleId: "r" })
    expect(failure.message).toContain("is not valid UTF-8 at line 2, column 1 (byte 0xC3 at offset 9)")
  })

  it.each([
    ["a truncated sequence at the end", [0x61, 0xe2, 0x82], 1, 2, 1],
    ["an overlong encoding", [0x61, 0x0a, 0xc0, 0xaf], 2, 1, 2],
    ["a UTF-16 surrogate", [0xed, 0xa0, 0x80], 1, 1, 0],
    ["a code point above U+10FFFF", [0xf4, 0x90, 0x80, 0x80], 1, 1, 0],
    ["a lone continuation byte after a 4-byte character", [0xf0, 0x9f, 0x98, 0x80, 0x80], 1, 2, 4]
  ] as const)("locates %s", (_name, bytes, line, column, offset) => {
    const decoded = Text.decodeUtf8(Uint8Array.from(bytes))
    assert(Result.isFailure(decoded))
    const hex = bytes[offset]!.toString(16).toUpperCase()
    expect(decoded.failure).toMatchObject({ line, column, offset })
    expect(decoded.failure.message).toBe(
      `not valid UTF-8 at line ${line}, column ${column} (byte 0x${hex} at offset ${offset})`
    )
  })

  it("refuses a rule id that cannot name a temp view", async () => {
    const issues = await validate({ sql: "SELECT 1" }, {}, "daily-totals")
    expect(issues[0]?.message).toContain('rule id "daily-totals" cannot name')
  })
})
