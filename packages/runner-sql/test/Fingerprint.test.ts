// A rule's definition for checkpoints: the SQL file's text and the parameters the rule binds,
// read without an engine.
import { NodeServices } from "@effect/platform-node"
import { Plugin } from "@spark-etl/core"
import { Effect, Result } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { describe, expect, it } from "vitest"
import * as Fingerprint from "../src/Fingerprint.js"
import * as SqlRunner from "../src/SqlRunner.js"

const fingerprint = (options: unknown, batchDir = "."): Promise<Plugin.Definition> => {
  const decoded = Plugin.decodeOptions(SqlRunner.runner, options)
  if (Result.isFailure(decoded)) throw new Error(`options do not decode: ${JSON.stringify(decoded.failure)}`)
  return Effect.runPromise(
    Fingerprint.of({
      batchDir,
      rule: { id: "r", kind: "sql" },
      options: decoded.success,
      parameters: {}
    }).pipe(Effect.provide(NodeServices.layer))
  )
}

const batchDir = () => fs.mkdtempSync(path.join(os.tmpdir(), "runner-sql-fingerprint-"))

describe("fingerprint", () => {
  it("is the runner's", () => {
    expect(SqlRunner.runner.fingerprint).toBe(Fingerprint.of)
  })

  it("an inline rule: no text (its SQL is in its options), the parameters of its statements and assert_empty", async () => {
    expect(
      await fingerprint({
        sql: "SET x.y = 1;\nSELECT * FROM t WHERE d = :run_date AND note <> ':not_one' -- :nor_this\n;SELECT :run_date, :region",
        expect: { assert_empty: "SELECT * FROM r WHERE v > :limit" }
      })
    ).toEqual({ text: "", parameters: ["run_date", "region", "limit"] })
    expect(await fingerprint({ sql: "SELECT 1" })).toEqual({ text: "", parameters: [] })
  })

  it("a file rule: the file's text, which changes with the file, and the parameters it references", async () => {
    const dir = batchDir()
    fs.mkdirSync(path.join(dir, "sql"))
    const file = path.join(dir, "sql", "daily.sql")
    fs.writeFileSync(file, "SELECT * FROM orders WHERE day = :run_date")
    const before = await fingerprint({ file: "sql/daily.sql", expect: { assert_empty: "SELECT :n" } }, dir)
    fs.writeFileSync(file, "SELECT * FROM orders WHERE day = :run_date;\nSELECT :region AS region")
    const after = await fingerprint({ file: "sql/daily.sql", expect: { assert_empty: "SELECT :n" } }, dir)
    expect(before).toEqual({
      text: "SELECT * FROM orders WHERE day = :run_date",
      parameters: ["run_date", "n"]
    })
    expect(after).toEqual({
      text: "SELECT * FROM orders WHERE day = :run_date;\nSELECT :region AS region",
      parameters: ["run_date", "region", "n"]
    })
  })

  it("a file that cannot be read: a marker for its text, and every parameter counts; it never fails", async () => {
    const dir = batchDir()
    const missing = await fingerprint({ file: "absent.sql" }, dir)
    expect(missing.text).toMatch(/^unreadable:/)
    expect(missing.parameters).toBeUndefined()
    fs.writeFileSync(path.join(dir, "latin1.sql"), Buffer.from([0x53, 0x45, 0x4c, 0xe9, 0x0a]))
    const notUtf8 = await fingerprint({ file: "latin1.sql" }, dir)
    expect(notUtf8).toEqual({ text: expect.stringMatching(/^unreadable:not valid UTF-8/) })
  })
})
