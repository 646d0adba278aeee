// Defects a differential check against pyspark-client 4.2.0 found (issue #17), value by value
// against the server: key-safe row objects, repeated names, the full date/timestamp range,
// Spark's own type strings, variants, calendar intervals, TIME, and -0 as a parameter.
import { Effect, Stream } from "effect"
import { describe, expect, it } from "vitest"
import * as Rows from "../../src/Rows.js"
import type * as SparkSession from "../../src/SparkSession.js"
import { failureOf, session, withSession } from "./harness.js"

const conf = {
  "spark.sql.session.timeZone": "UTC",
  // TIME is behind a flag in Spark 4.2; CHAR/VARCHAR keep their type in query results with this.
  "spark.sql.timeType.enabled": "true",
  "spark.sql.preserveCharVarcharTypeInfo": "true"
}

const collect = (spark: SparkSession.Session, sql: string, params?: SparkSession.Params) =>
  Effect.flatMap(spark.sql(sql, params !== undefined ? { params } : {}), (df) => spark.collect(df))

const rowsOf = (sql: string, params?: SparkSession.Params): Promise<ReadonlyArray<Rows.Row>> =>
  session((spark) => Effect.andThen(spark.setConf(conf), collect(spark, sql, params)))

const own = (object: object, key: string): unknown => Object.getOwnPropertyDescriptor(object, key)?.value

describe("row objects", () => {
  it("keep a column named __proto__ as a field, and inherit nothing", async () => {
    const select =
      "SELECT named_struct('polluted', 1) AS __proto__, 7 AS y, " +
      "named_struct('__proto__', named_struct('x', 1), 'constructor', 2, 'toString', 3) AS s, " +
      "map('k', named_struct('__proto__', 4)) AS m"
    const [row] = await rowsOf(select)
    const streamed = await session((spark) =>
      Effect.flatMap(spark.sql(select), (df) => Stream.runCollect(spark.streamRows(df)))
    )
    for (const r of [row!, streamed[0]!]) {
      expect(Object.keys(r)).toEqual(["__proto__", "y", "s", "m"])
      expect(Object.getPrototypeOf(r)).toBe(Rows.rowPrototype)
      expect(Object.getPrototypeOf(Rows.rowPrototype)).toBeNull()
      expect((r as Record<string, unknown>)["polluted"]).toBeUndefined()
      const proto = own(r, "__proto__") as object
      expect(Object.keys(proto)).toEqual(["polluted"])
      expect(own(proto, "polluted")).toBe(1)
      expect(r["y"]).toBe(7)
      const s = r["s"] as Record<string, Rows.Value>
      expect(Object.keys(s)).toEqual(["__proto__", "constructor", "toString"])
      expect(Object.keys(own(s, "__proto__") as object)).toEqual(["x"])
      expect([s["constructor"], s["toString"]]).toEqual([2, 3])
      const inMap = (r["m"] as ReadonlyMap<Rows.Value, Rows.Value>).get("k") as object
      expect(own(inMap, "__proto__")).toBe(4)
      expect(Object.getPrototypeOf(inMap)).toBe(Rows.rowPrototype)
    }
    expect(({} as Record<string, unknown>)["polluted"]).toBeUndefined()
  })
})

describe("repeated names", () => {
  const refused = async (select: string) => {
    const viaCollect = await withSession((spark) => collect(spark, select))
    const viaStream = await withSession((spark) =>
      Effect.flatMap(spark.sql(select), (df) => Stream.runCollect(spark.streamRows(df)))
    )
    return [failureOf(viaCollect), failureOf(viaStream)]
  }

  it.each([
    ["SELECT 1 AS a, 2 AS a", "`a`"],
    ["SELECT 1 AS x, named_struct('a', 1, 'a', 2) AS s", "`s`.`a`"],
    [
      "SELECT array(named_struct('b', 1, 'c', named_struct('d', 1, 'd', 2))) AS arr",
      "`arr`.`element`.`c`.`d`"
    ],
    ["SELECT map(1, named_struct('v', 1, 'v', 2)) AS m", "`m`.`value`.`v`"],
    ["SELECT 1 AS `a.b`, 2 AS `a.b`", "`a.b`"]
  ])("%s is refused naming %s", async (select, column) => {
    for (const failure of await refused(select))
      expect(failure).toMatchObject({
        _tag: "SparkAnalysisError",
        errorClass: "COLUMN_ALREADY_EXISTS",
        sqlState: "42711",
        messageParameters: { columnName: column }
      })
  })

  it("keeps names that only look alike, and Arrow keeps repeated ones", async () => {
    // Spark renames repeated struct fields to a_0, a_1 in Arrow: a real a_0 is not refused.
    const [row] = await rowsOf("SELECT 1 AS a, 2 AS A, named_struct('a_0', 1, 'a_1', 2) AS s")
    expect(row).toEqual({ a: 1, A: 2, s: { a_0: 1, a_1: 2 } })
    const table = await session((spark) =>
      Effect.flatMap(spark.sql("SELECT 1 AS a, 2 AS a"), (df) => spark.toArrow(df))
    )
    expect(table.schema.fields.map((f) => f.name)).toEqual(["a", "a"])
  })
})

describe("strings whose bytes are not UTF-8", () => {
  // Spark's strings can hold any bytes; pyspark-client fails such a read (UnicodeDecodeError).
  it.each([
    ["FF41", "\uFFFDA"],
    ["41C328", "A\uFFFD("],
    ["C0AF", "\uFFFD\uFFFD"],
    ["F09F98", "\uFFFD"],
    ["EDA080", "\uFFFD\uFFFD\uFFFD"]
  ])("X'%s' reads as %j: one U+FFFD per bad sequence", async (hex, text) => {
    const [row] = await rowsOf(`SELECT s, array(s) AS a FROM (SELECT CAST(X'${hex}' AS STRING) AS s)`)
    expect([row!["s"], row!["a"]]).toEqual([text, [text]])
  })

  it("read as the server's own JVM writes them, but for an encoded surrogate", async () => {
    const [row] = await rowsOf(
      "SELECT s, to_json(named_struct('s', s)) AS j FROM (SELECT CAST(X'FF41' AS STRING) AS s)"
    )
    expect(row!["s"]).toBe((JSON.parse(row!["j"] as string) as { s: string }).s)
    // ED A0 80 (a UTF-16 surrogate written as UTF-8) is one U+FFFD to the JVM, three to us.
    const [surrogate] = await rowsOf("SELECT to_json(named_struct('s', CAST(X'EDA080' AS STRING))) AS j")
    expect(JSON.parse(surrogate!["j"] as string)).toEqual({ s: "\uFFFD" })
  })
})

// The ISO text of Spark's own calendar fields, to check ours against it value by value.
const isoYear = (year: number) =>
  year >= 0 && year <= 9999
    ? String(year).padStart(4, "0")
    : `${year < 0 ? "-" : "+"}${String(Math.abs(year)).padStart(6, "0")}`
const two = (n: Rows.Value | undefined) => String(n).padStart(2, "0")

describe("dates and timestamps over Spark's whole range", () => {
  const dates = [
    ["DATE_ADD(DATE'9999-12-31', 1)", "+010000-01-01"],
    ["DATE'-0001-01-01'", "-000001-01-01"],
    ["make_date(0, 1, 1)", "0000-01-01"],
    ["DATE_ADD(make_date(0, 1, 1), -1)", "-000001-12-31"],
    ["DATE'1582-10-10'", "1582-10-10"],
    ["DATE'0001-01-01'", "0001-01-01"],
    ["DATE'2024-02-29'", "2024-02-29"],
    ["DATE_FROM_UNIX_DATE(2147483647)", "+5881580-07-11"],
    ["DATE_FROM_UNIX_DATE(-2147483648)", "-5877641-06-23"]
  ] as const

  it.each(dates)("date %s is %s, Spark's own year, month and day", async (expr, text) => {
    const [row] = await rowsOf(
      `SELECT d, array(d) AS a, named_struct('d', d) AS s, year(d) AS y, month(d) AS m, day(d) AS dd FROM (SELECT ${expr} AS d)`
    )
    expect([row!["d"], row!["a"], row!["s"]]).toEqual([text, [text], { d: text }])
    expect(`${isoYear(row!["y"] as number)}-${two(row!["m"])}-${two(row!["dd"])}`).toBe(text)
  })

  const timestamps = [
    ["TIMESTAMP_MICROS(253402300800123456)", "+010000-01-01T00:00:00.123456"],
    ["TIMESTAMP_MICROS(253402300799999999)", "9999-12-31T23:59:59.999999"],
    ["TIMESTAMP_MICROS(-62167219200000001)", "-000001-12-31T23:59:59.999999"],
    ["TIMESTAMP_MICROS(-62167219200000000)", "0000-01-01T00:00:00.000000"],
    ["TIMESTAMP_MICROS(-1)", "1969-12-31T23:59:59.999999"],
    ["TIMESTAMP_MICROS(9223372036854775807)", "+294247-01-10T04:00:54.775807"],
    ["TIMESTAMP_MICROS(-9223372036854775808)", "-290308-12-21T19:59:05.224192"]
  ] as const

  it.each(timestamps)("timestamp %s is %sZ, Spark's own fields (timestamp_ntz too)", async (expr, text) => {
    const [row] = await rowsOf(
      `SELECT t, CAST(t AS TIMESTAMP_NTZ) AS ntz, array(t) AS a, named_struct('n', CAST(t AS TIMESTAMP_NTZ)) AS s,
              year(t) AS y, month(t) AS m, day(t) AS d, hour(t) AS h, minute(t) AS mi,
              CAST(extract(SECOND FROM t) AS STRING) AS sec
       FROM (SELECT ${expr} AS t)`
    )
    expect([row!["t"], row!["ntz"], row!["a"], row!["s"]]).toEqual([
      `${text}Z`,
      text,
      [`${text}Z`],
      { n: text }
    ])
    const seconds = (row!["sec"] as string).padStart(9, "0")
    expect(
      `${isoYear(row!["y"] as number)}-${two(row!["m"])}-${two(row!["d"])}T${two(row!["h"])}:${two(row!["mi"])}:${seconds}`
    ).toBe(text)
  })
})

describe("type strings", () => {
  // Each expression's schema() type is Spark's own typeof() string.
  const expressions = [
    "CAST(1 AS TINYINT)",
    "CAST(1 AS SMALLINT)",
    "1",
    "1L",
    "CAST(1 AS FLOAT)",
    "1D",
    "CAST(1 AS DECIMAL(18,2))",
    "CAST(1 AS DECIMAL(38,0))",
    "'x'",
    "'x' COLLATE UTF8_LCASE",
    "'x' COLLATE UNICODE_CI",
    "CAST('x' AS CHAR(3))",
    "CAST('x' AS VARCHAR(5))",
    "X'00'",
    "true",
    "DATE'2024-01-01'",
    "TIMESTAMP'2024-01-01 00:00:00'",
    "TIMESTAMP_NTZ'2024-01-01 00:00:00'",
    "NULL",
    "INTERVAL '1' YEAR",
    "INTERVAL '1' MONTH",
    "INTERVAL '1-2' YEAR TO MONTH",
    "INTERVAL '1' DAY",
    "INTERVAL '1 2' DAY TO HOUR",
    "INTERVAL '1 2:3' DAY TO MINUTE",
    "INTERVAL '1 2:3:4' DAY TO SECOND",
    "INTERVAL '1' HOUR",
    "INTERVAL '1:2' HOUR TO MINUTE",
    "INTERVAL '1:2:3' HOUR TO SECOND",
    "INTERVAL '1' MINUTE",
    "INTERVAL '1:2' MINUTE TO SECOND",
    "INTERVAL '1' SECOND",
    "make_interval(1, 2, 3, 4, 5, 6, 7.5)",
    "TIME'12:34:56'",
    "CAST(TIME'12:34:56' AS TIME(2))",
    "CAST(TIME'12:34:56' AS TIME(0))",
    "array(1)",
    "array(array(CAST(NULL AS STRING)))",
    "map('a', 1L)",
    "map(1, array(named_struct('a b', 1, 'c', map(DATE'2024-01-01', INTERVAL '1' DAY))))",
    "named_struct('x', 1, 'y', parse_json('1'))",
    "parse_json('{\"a\":1}')",
    "st_geomfromwkb(X'0101000000000000000000F03F0000000000000040')",
    "st_geogfromwkb(X'0101000000000000000000F03F0000000000000040')"
  ]

  it("are Spark's typeof() strings for every type", async () => {
    const [ours, spark] = await session((spark) =>
      Effect.gen(function* () {
        yield* spark.setConf(conf)
        const select = expressions.map((e, i) => `${e} AS c${i}`).join(", ")
        const columns = yield* Effect.flatMap(spark.sql(`SELECT ${select}`), (df) => spark.schema(df))
        const typeofs = expressions.map((e, i) => `typeof(${e}) AS c${i}`).join(", ")
        const [row] = yield* collect(spark, `SELECT ${typeofs}`)
        return [columns.map((c) => c.type), expressions.map((_, i) => row![`c${i}`])] as const
      })
    )
    expect(ours).toEqual(spark)
    expect(ours).toContain("interval day")
    expect(ours).toContain("time(6)")
  })
})

describe("values of interval, time, variant and geospatial types", () => {
  it.each([
    ["INTERVAL '3' DAY", 259_200_000_000n],
    ["INTERVAL '-1:30' HOUR TO MINUTE", -5_400_000_000n],
    ["INTERVAL '0.000001' SECOND", 1n],
    ["INTERVAL '5' YEAR", 60],
    ["INTERVAL '-7' MONTH", -7],
    ["make_interval(1, 2, 3, 4, 5, 6, 7.123456)", { months: 14, days: 25, microseconds: 18_367_123_456n }],
    ["make_interval(0, -1, 0, -2, 0, 0, -0.000001)", { months: -1, days: -2, microseconds: -1n }],
    ["TIME'12:34:56.123456'", "12:34:56.123456"],
    ["TIME'00:00:00'", "00:00:00.000000"],
    ["CAST(TIME'23:59:59.99' AS TIME(2))", "23:59:59.990000"],
    [
      "st_geomfromwkb(X'0101000000000000000000F03F0000000000000040')",
      {
        srid: 0,
        wkb: new Uint8Array([1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 240, 63, 0, 0, 0, 0, 0, 0, 0, 64])
      }
    ]
  ] as const)("SELECT %s", async (expr, expected) => {
    const [row] = await rowsOf(`SELECT ${expr} AS v`)
    expect(row!["v"]).toEqual(expected)
  })

  const variants = [
    ["parse_json('null')", null],
    ["parse_json('true')", true],
    ["parse_json('-5')", -5],
    ["parse_json('40000')", 40000],
    ["parse_json('3000000000')", 3000000000n],
    ["parse_json('1.5')", "1.5"],
    ["parse_json('1e300')", 1e300],
    ["parse_json('12345678901234567890.123')", "12345678901234567890.123"],
    ["parse_json('\"héllo ☃\"')", "héllo ☃"],
    ["parse_json(concat('\"', repeat('x', 100), '\"'))", "x".repeat(100)],
    ["parse_json('[1, [], {}, \"a\", null]')", [1, [], {}, "a", null]],
    [
      'parse_json(\'{"b": {"__proto__": 1}, "a": [true, {"c": null}]}\')',
      { a: [true, { c: null }], b: { ["__proto__"]: 1 } }
    ],
    ["CAST(DATE'-0001-01-01' AS VARIANT)", "-000001-01-01"],
    ["CAST(TIMESTAMP_MICROS(253402300800123456) AS VARIANT)", "+010000-01-01T00:00:00.123456Z"],
    ["CAST(TIMESTAMP_NTZ'2024-01-02 03:04:05.000001' AS VARIANT)", "2024-01-02T03:04:05.000001"],
    ["CAST(CAST(1.5 AS FLOAT) AS VARIANT)", 1.5],
    ["CAST(0.1D AS VARIANT)", 0.1],
    ["CAST(CAST(-12.34 AS DECIMAL(18,2)) AS VARIANT)", "-12.34"],
    ["CAST(CAST(1 AS DECIMAL(38,10)) AS VARIANT)", "1.0000000000"],
    ["CAST(X'00FF' AS VARIANT)", new Uint8Array([0, 255])],
    ["CAST(9223372036854775807L AS VARIANT)", 9223372036854775807n],
    ["CAST(CAST(NULL AS INT) AS VARIANT)", null],
    [
      "to_variant_object(named_struct('k', array(1, 2), 'd', DATE'2024-01-01'))",
      { d: "2024-01-01", k: [1, 2] }
    ]
  ] as const

  it.each(variants)("variant %s is decoded", async (expr, expected) => {
    const [row] = await rowsOf(`SELECT ${expr} AS v, array(${expr}) AS a`)
    expect(row!["v"]).toEqual(expected)
    expect(row!["a"]).toEqual([expected])
  })

  it("decodes variant objects as row objects, in Spark's key order", async () => {
    const [row] = await rowsOf(`SELECT parse_json('{"z": 1, "__proto__": {"polluted": 2}, "a": 3}') AS v`)
    const v = row!["v"] as Record<string, Rows.Value>
    expect(Object.getPrototypeOf(v)).toBe(Rows.rowPrototype)
    expect(Object.keys(v)).toEqual(["__proto__", "a", "z"])
    expect(Object.keys(own(v, "__proto__") as object)).toEqual(["polluted"])
    expect((v as Record<string, unknown>)["polluted"]).toBeUndefined()
  })
})

describe("-0 as a parameter", () => {
  it("arrives as the double -0.0, named and positional", async () => {
    // Spark's text of the value keeps the sign (atan2 and friends normalise -0.0 to 0.0).
    const probe = (p: string) => `SELECT typeof(${p}) AS t, CAST(${p} AS STRING) AS s, ${p} AS v`
    const [named] = await rowsOf(probe(":p"), { p: -0 })
    const [positional] = await rowsOf(probe("?"), [-0, -0, -0])
    const [zero] = await rowsOf(probe(":p"), { p: 0 })
    for (const row of [named!, positional!]) {
      expect([row["t"], row["s"]]).toEqual(["double", "-0.0"])
      expect(Object.is(row["v"], -0)).toBe(true)
    }
    expect([zero!["t"], zero!["s"], zero!["v"]]).toEqual(["int", "0", 0])
  })
})
