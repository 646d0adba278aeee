// Each expectation holding and failing on the real server.
import type { Failure } from "@spark-etl/core"
import * as fs from "node:fs"
import * as path from "node:path"
import { describe, expect, it } from "vitest"
import * as Expectations from "../../src/Expectations.js"
import { failureOf, run, runRule, tempDir, unique } from "./harness.js"

// 5 orders: customer 2 appears twice, order 4 has no customer, order 5 a negative amount.
const orders = `SELECT * FROM VALUES
  (1, 1, 10.0), (2, 2, 20.0), (3, 2, 5.0), (4, NULL, 7.5), (5, 3, -1.0)
  AS t(order_id, customer_id, amount)`

const expectationFailure = async (expectOptions: unknown, extra: Record<string, unknown> = {}) => {
  const id = unique("checked")
  const failure = await failureOf(runRule({ id, options: { sql: orders, expect: expectOptions }, ...extra }))
  expect(failure._tag).toBe("ExpectationFailed")
  const f = failure as Failure.ExpectationFailed
  expect(f.category).toBe("capturable")
  expect(f.ruleId).toBe(id)
  expect(f.message).toContain(`rule "${id}"`)
  return f
}

describe("expectations", () => {
  it("all hold on good data", async () => {
    await run(
      runRule({
        id: unique("good"),
        options: {
          sql: orders,
          expect: {
            row_count: { min: 5, max: 5 },
            not_null: ["order_id", "amount"],
            unique: ["order_id"],
            assert_empty: "SELECT * FROM VALUES (1) AS t(x) WHERE x > :limit"
          }
        },
        parameters: { limit: { type: "int", value: 1, text: "1" } }
      })
    )
  })

  it("row_count: too few rows names the count and the bound", async () => {
    const f = await expectationFailure({ row_count: { min: 6 } })
    expect(f.code).toBe(Expectations.codes.row_count)
    expect(f.message).toContain("expectation row_count failed: 5 rows, expected at least 6")
  })

  it("row_count: too many rows", async () => {
    const f = await expectationFailure({ row_count: { min: 1, max: 4 } })
    expect(f.message).toContain("5 rows, expected at least 1 and at most 4")
  })

  it("not_null: counts the NULLs per column and shows the offending rows", async () => {
    const f = await expectationFailure({ not_null: ["order_id", "customer_id"] })
    expect(f.code).toBe("EXPECTATION_NOT_NULL")
    expect(f.message).toContain("1 rows with NULL in customer_id (1)")
    expect(f.message).toContain('{"order_id":4,"customer_id":null,"amount":"7.5"}')
    expect(f.engineDetail).toContain('row 1: {"order_id":4,"customer_id":null,"amount":"7.5"}')
  })

  it("unique: counts the duplicate keys and shows them with their row counts", async () => {
    const f = await expectationFailure({ unique: ["customer_id"] })
    expect(f.code).toBe("EXPECTATION_UNIQUE")
    expect(f.message).toContain("1 duplicate values of (customer_id) over 2 rows")
    expect(f.message).toContain('{"customer_id":2,"spark_etl_rows":2}')
  })

  it("assert_empty: a query over the rule's view with a bound parameter returns the offending rows", async () => {
    const id = unique("amounts")
    const failure = await failureOf(
      runRule({
        id,
        options: {
          sql: orders,
          expect: { assert_empty: `SELECT order_id, amount FROM ${id} WHERE amount < :floor;` }
        },
        parameters: { floor: { type: "int", value: 0, text: "0" } }
      })
    )
    expect(failure).toMatchObject({ _tag: "ExpectationFailed", code: "EXPECTATION_ASSERT_EMPTY" })
    expect(failure.message).toContain("the assertion query returned 1 rows")
    expect(failure.message).toContain('{"order_id":5,"amount":"-1.0"}')
  })

  it("shows at most a few offending rows in the message and more in the detail", async () => {
    const id = unique("many")
    const failure = (await failureOf(
      runRule({
        id,
        options: { sql: "SELECT id, CAST(NULL AS INT) AS v FROM range(50)", expect: { not_null: ["v"] } }
      })
    )) as Failure.ExpectationFailed
    expect(failure.message).toContain("50 rows with NULL in v (50)")
    expect(failure.message.match(/"v":null/g)).toHaveLength(Expectations.sampleSize.message)
    expect(failure.engineDetail?.match(/^row \d+:/gm)).toHaveLength(Expectations.sampleSize.detail)
  })

  it("a failed expectation leaves the target unwritten", async () => {
    const target = path.join(tempDir(), "orders")
    await expectationFailure({ unique: ["customer_id"] }, { target })
    expect(fs.existsSync(target)).toBe(false)
  })

  it("an expectation on a column the result lacks is a SqlError, not a silent pass", async () => {
    const failure = await failureOf(
      runRule({ id: unique("typo"), options: { sql: orders, expect: { not_null: ["custmer_id"] } } })
    )
    expect(failure).toMatchObject({ _tag: "SqlError", code: "UNRESOLVED_COLUMN.WITH_SUGGESTION" })
    expect(failure.message).toContain("expectation not_null")
  })
})
