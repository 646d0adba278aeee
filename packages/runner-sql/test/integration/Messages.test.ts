// The human message of a failed rule: Spark's own words, the error class, the SQLSTATE and
// where in the rule — what the summary table, the progress line and the JSON log show.
import * as fs from "node:fs"
import * as path from "node:path"
import { describe, expect, it } from "vitest"
import { failureOf, preflightRule, runRule, tempDir, unique } from "./harness.js"

const readable = (failure: { readonly message: string }, code: string, sqlState: string) => {
  expect(failure).toMatchObject({ code, sqlState })
  expect(failure.message).toContain(`[${code}] `)
  expect(failure.message).toContain(`SQLSTATE: ${sqlState}`)
  // Nothing after a colon is ever empty (the message used to end in "(line 1): ").
  expect(failure.message).not.toMatch(/:\s*$/)
  expect(failure.message).not.toMatch(/:\s*[,;:]/)
  expect(failure.message).not.toContain("\n")
}

describe("a failed rule's message names what went wrong", () => {
  it.each([
    [
      "a missing table",
      (t: string) => `SELECT 1 AS a;\nSELECT * FROM ${t}`,
      "TABLE_OR_VIEW_NOT_FOUND",
      "42P01",
      "statement 2 (line 2)"
    ],
    [
      "a missing column, with a suggestion",
      (c: string) => `SELECT ${c} FROM range(1)`,
      "UNRESOLVED_COLUMN.WITH_SUGGESTION",
      "42703",
      "statement 1 (line 1)"
    ],
    [
      "a missing column, without a suggestion",
      (c: string) => `\n\nSELECT ${c}`,
      "UNRESOLVED_COLUMN.WITHOUT_SUGGESTION",
      "42703",
      "statement 1 (line 3)"
    ]
  ] as const)("%s, when run and in preflight", async (_name, sql, code, sqlState, where) => {
    const missing = unique("no_such")
    const id = unique("msg")
    const spec = { id, options: { sql: sql(missing) } }
    for (const failure of [await failureOf(runRule(spec)), await failureOf(preflightRule(spec))]) {
      expect(failure).toMatchObject({ _tag: "SqlError", code, ruleId: id })
      expect(failure.message).toContain(`rule "${id}", ${where}: [${code}] `)
      expect(failure.message).toContain(`\`${missing}\``)
      readable(failure, code, sqlState)
    }
  })

  it("a syntax error, when run and in preflight, with the file's line", async () => {
    const batchDir = tempDir()
    fs.mkdirSync(path.join(batchDir, "sql"))
    fs.writeFileSync(path.join(batchDir, "sql", "bad.sql"), "SELECT 1 AS a;\n\nSELEC oops FROM range(1)\n")
    const id = unique("parse")
    const spec = { id, batchDir, options: { file: "sql/bad.sql" } }
    for (const failure of [await failureOf(runRule(spec)), await failureOf(preflightRule(spec))]) {
      expect(failure).toMatchObject({ _tag: "SqlError", code: "PARSE_SYNTAX_ERROR" })
      expect(failure.message).toContain(
        `rule "${id}", statement 2 (line 3 of sql/bad.sql): [PARSE_SYNTAX_ERROR] Syntax error at or near 'SELEC'`
      )
      readable(failure, "PARSE_SYNTAX_ERROR", "42601")
    }
  })

  it("a bad ANSI cast names the bad value", async () => {
    const id = unique("cast")
    const failure = await failureOf(
      runRule({
        id,
        options: { sql: "SELECT CAST(concat('bad_', id) AS INT) AS n FROM range(1)", cache: true }
      })
    )
    expect(failure).toMatchObject({ _tag: "DataError", code: "CAST_INVALID_INPUT" })
    expect(failure.message).toContain(`rule "${id}", statement 1 (line 1): [CAST_INVALID_INPUT] `)
    expect(failure.message).toContain("'bad_0'")
    expect(failure.message).toContain('"INT"')
    readable(failure, "CAST_INVALID_INPUT", "22018")
  })

  it("a divide by zero says so, while writing the target too", async () => {
    const id = unique("div")
    const failure = await failureOf(
      runRule({
        id,
        target: path.join(tempDir(), "out"),
        options: { sql: "SELECT 1 / (id - id) AS x FROM range(1)" }
      })
    )
    expect(failure).toMatchObject({ _tag: "DataError", code: "DIVIDE_BY_ZERO" })
    expect(failure.message).toMatch(
      new RegExp(`^rule "${id}", writing target .*: \\[DIVIDE_BY_ZERO\\] Division by zero\\.`)
    )
    readable(failure, "DIVIDE_BY_ZERO", "22012")
    // The event keeps the full cause chain.
    expect((failure as { engineDetail?: string }).engineDetail).toContain(
      "cause 1: org.apache.spark.SparkArithmeticException"
    )
  })
})
