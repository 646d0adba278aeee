// Every Spark SQL type, value by value, as the server returns it (see Rows.ts for the table).
import { Effect } from "effect"
import { describe, expect, it } from "vitest"
import type * as Rows from "../../src/Rows.js"
import { session } from "./harness.js"

const one = (select: string): Promise<Rows.Row> =>
  session((spark) =>
    Effect.gen(function* () {
      yield* spark.setConf({ "spark.sql.session.timeZone": "UTC" })
      const rows = yield* Effect.flatMap(spark.sql(`SELECT ${select}`), (df) => spark.collect(df))
      return rows[0]!
    })
  )

describe("Spark SQL types as JS values", () => {
  it.each([
    ["true", true],
    ["CAST(-128 AS TINYINT)", -128],
    ["CAST(32767 AS SMALLINT)", 32767],
    ["2147483647", 2147483647],
    ["9223372036854775807L", 9223372036854775807n],
    ["-9223372036854775808L", -9223372036854775808n],
    ["CAST(1.5 AS FLOAT)", 1.5],
    ["CAST(0.1 AS DOUBLE)", 0.1],
    ["CAST('NaN' AS DOUBLE)", Number.NaN],
    ["CAST(12.34 AS DECIMAL(18,2))", "12.34"],
    ["CAST(-0.05 AS DECIMAL(18,2))", "-0.05"],
    [
      "CAST('12345678901234567890123456.123456789012' AS DECIMAL(38,12))",
      "12345678901234567890123456.123456789012"
    ],
    ["CAST(7 AS DECIMAL(10,0))", "7"],
    ["'héllo ☃'", "héllo ☃"],
    // Spark pads CHAR(n) when it reads a stored column, not for a cast literal.
    ["CAST('ab' AS CHAR(4))", "ab"],
    ["CAST('ab' AS VARCHAR(4))", "ab"],
    ["X'00FF10'", new Uint8Array([0, 255, 16])],
    ["DATE'2024-02-29'", "2024-02-29"],
    ["DATE'1900-01-01'", "1900-01-01"],
    ["TIMESTAMP'2024-01-02 03:04:05.123456'", "2024-01-02T03:04:05.123456Z"],
    ["TIMESTAMP'1969-12-31 23:59:59.999999'", "1969-12-31T23:59:59.999999Z"],
    ["TIMESTAMP_NTZ'2024-01-02 03:04:05.000001'", "2024-01-02T03:04:05.000001"],
    ["INTERVAL '1-2' YEAR TO MONTH", 14],
    ["INTERVAL '-3' MONTH", -3],
    ["INTERVAL '1 02:03:04.5' DAY TO SECOND", 93784500000n],
    ["NULL", null],
    ["CAST(NULL AS BIGINT)", null],
    ["CAST(NULL AS DECIMAL(5,2))", null],
    ["CAST(NULL AS TIMESTAMP)", null],
    ["array(1, 2, 3)", [1, 2, 3]],
    ["array(CAST(NULL AS INT), 5)", [null, 5]],
    ["array()", []],
    [
      "map('a', 1L, 'b', NULL)",
      new Map<Rows.Value, Rows.Value>([
        ["a", 1n],
        ["b", null]
      ])
    ],
    ["named_struct('x', 1, 'y', 'z', 'd', CAST(1.50 AS DECIMAL(4,2)))", { x: 1, y: "z", d: "1.50" }],
    [
      "array(named_struct('k', 1L, 'v', array(DATE'2024-01-01')), named_struct('k', 2L, 'v', CAST(NULL AS ARRAY<DATE>)))",
      [
        { k: 1n, v: ["2024-01-01"] },
        { k: 2n, v: null }
      ]
    ]
  ] as const)("SELECT %s", async (select, expected) => {
    expect((await one(`${select} AS v`))["v"]).toEqual(expected)
  })

  it("reads exact values at every position of multi-row nested columns", async () => {
    const rows = await session((spark) =>
      Effect.gen(function* () {
        yield* spark.setConf({ "spark.sql.session.timeZone": "UTC" })
        const df = yield* spark.sql(`
          SELECT id,
                 array(timestamp_micros(id * 1000001), timestamp_micros(-id)) AS ts,
                 map(id, d) AS m,
                 CAST(d AS STRING) AS spark_text,
                 named_struct('at', timestamp_micros(id), 'n', CAST(id AS DECIMAL(9,1))) AS s
          FROM (SELECT id, CAST(id AS DECIMAL(20,3)) / 8 AS d FROM range(4))`)
        return yield* spark.collect(df)
      })
    )
    expect(rows[3]).toEqual({
      id: 3n,
      ts: ["1970-01-01T00:00:03.000003Z", "1969-12-31T23:59:59.999997Z"],
      m: new Map([[3n, "0.375000"]]),
      spark_text: "0.375000",
      s: { at: "1970-01-01T00:00:00.000003Z", n: "3.0" }
    })
    // Our decimal text is Spark's own rendering of the same value, row by row.
    expect(rows.map((r) => (r["m"] as Map<Rows.Value, Rows.Value>).get(r["id"]!))).toEqual(
      rows.map((r) => r["spark_text"])
    )
    expect(rows.map((r) => r["s"])).toEqual(
      [0, 1, 2, 3].map((i) => ({ at: `1970-01-01T00:00:00.00000${i}Z`, n: `${i}.0` }))
    )
  })
})
