// The options schema: what decodes, and every refusal at its path with a plain message.
import { Plugin } from "@spark-etl/core"
import { Result } from "effect"
import { describe, expect, it } from "vitest"
import * as JdbcRunner from "../src/JdbcRunner.js"

const url = "jdbc:postgresql://127.0.0.1:5432/shop"
const issues = (raw: unknown) => {
  const decoded = Plugin.decodeOptions(JdbcRunner.runner, raw)
  return Result.isFailure(decoded) ? decoded.failure.map((i) => [i.path.join("."), i.message]) : []
}

describe("JdbcOptions", () => {
  it("decodes a read and a write", () => {
    expect(issues({ url, user: "etl", password: { param: "pw" }, read: { table: "public.orders" } })).toEqual(
      []
    )
    expect(
      issues({
        url,
        read: {
          table: "t",
          fetch_size: 1000,
          cache: true,
          partition: { column: "id", lower_bound: 1, upper_bound: 9, num_partitions: 4 }
        }
      })
    ).toEqual([])
    expect(
      issues({ url, write: { from: "a", table: "t", mode: "truncate", batch_size: 5000, num_partitions: 2 } })
    ).toEqual([])
    expect(
      issues({ url, write: { from: "a", table: "rep.daily", mode: "delete_key_range", key: "day" } })
    ).toEqual([])
    expect(issues({ url, write: { from: "a", table: "rep.daily", atomic: true } })).toEqual([])
  })

  it.each([
    [{ url }, "", 'give "read" (into the rule\'s view) or "write"'],
    [{ url, read: { table: "t" }, write: { from: "a", table: "t" } }, "write", "not both"],
    [{ url, read: {} }, "read", 'give what to read as "table" or "query"'],
    [
      { url, read: { table: "t", query: "SELECT 1" } },
      "read.query",
      'give either "table" or "query", not both'
    ],
    [
      {
        url,
        read: {
          query: "SELECT 1",
          partition: { column: "id", lower_bound: 1, upper_bound: 2, num_partitions: 2 }
        }
      },
      "read.partition",
      "partitions"
    ],
    [{ url, password: "hunter2", read: { table: "t" } }, "password", ""],
    [{ url: `${url}?password=x`, read: { table: "t" } }, "url", "must not hold a password"],
    [{ url: "postgresql://h/db", read: { table: "t" } }, "url", "a JDBC URL"],
    [
      { url, connection_options: { PASSWORD: "x" }, read: { table: "t" } },
      "connection_options.PASSWORD",
      "secret parameter"
    ],
    [
      { url, connection_options: { dbtable: "x" }, read: { table: "t" } },
      "connection_options.dbtable",
      "set by the rule"
    ],
    [{ url, write: { from: "a", table: "t", mode: "append" } }, "write.mode", ""],
    [{ url, write: { from: "a", table: "t", batch_size: 0 } }, "write.batch_size", ""],
    [
      { url, write: { from: "a", table: "t", mode: "delete_key_range" } },
      "write.key",
      "needs the key column"
    ],
    [
      { url, write: { from: "a", table: "t", key: "day" } },
      "write.key",
      'only used by mode "delete_key_range"'
    ],
    [
      { url, write: { from: "a", table: "t", mode: "delete_key_range", key: "day", atomic: false } },
      "write.atomic",
      "always atomic"
    ],
    [
      { url, write: { from: "a", table: "t", mode: "delete_key_range", key: "day; DROP" } },
      "write.key",
      "a column name"
    ],
    [
      { url, write: { from: "a", table: '"Daily Totals"', atomic: true } },
      "write.table",
      "a staged load needs a table name"
    ],
    [
      { url: "jdbc:mysql://h/db", write: { from: "a", table: "t", mode: "delete_key_range", key: "day" } },
      "write.mode",
      "the URL must be jdbc:postgresql:"
    ],
    [
      { url: "jdbc:mysql://h/db", write: { from: "a", table: "t", atomic: true } },
      "write.atomic",
      "the URL must be jdbc:postgresql:"
    ],
    [{ url, read: { table: "t", typo: 1 } }, "read.typo", ""]
  ])("refuses %j at its path", (raw, path, message) => {
    const found = issues(raw)
    expect(found.length).toBeGreaterThan(0)
    expect(
      found.find(([p]) => p === path),
      JSON.stringify(found)
    ).toBeDefined()
    expect(found.find(([p]) => p === path)?.[1]).toContain(message)
  })
})
