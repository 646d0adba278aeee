// Our rows against pyspark-client's, value by value, on the same server: the differential check
// that found issue #17's defects, kept as a test. The Python side (differential.py) writes each
// pyspark value in the form our README's type table documents for its Spark type, so a value we
// lose, round or write differently fails here with the query and the column.
import { Effect, Stream } from "effect"
import { execFileSync } from "node:child_process"
import * as path from "node:path"
import { describe, expect, it } from "vitest"
import type * as Rows from "../../src/Rows.js"
import { remote, session, sparkVersion } from "./harness.js"

const utc = { "spark.sql.session.timeZone": "UTC", "spark.sql.timeType.enabled": "true" }

/** Every type pyspark-client can return, at its edges, with nulls, nesting and several batches. */
const queries: ReadonlyArray<string> = [
  "SELECT true AS t, false AS f, CAST(NULL AS BOOLEAN) AS n",
  `SELECT CAST(-128 AS TINYINT) AS a, CAST(127 AS TINYINT) AS b, CAST(-32768 AS SMALLINT) AS c,
     CAST(32767 AS SMALLINT) AS d, -2147483648 AS e, 2147483647 AS f, -9223372036854775808L AS g,
     9223372036854775807L AS h, 0L AS i, CAST(NULL AS BIGINT) AS j`,
  `SELECT CAST(1.5 AS FLOAT) AS a, CAST(0.1 AS FLOAT) AS b, CAST('NaN' AS FLOAT) AS c,
     CAST('Infinity' AS FLOAT) AS d, CAST('-Infinity' AS FLOAT) AS e, CAST(-0.0 AS FLOAT) AS f,
     CAST(3.4028235E38 AS FLOAT) AS g, CAST(1.4E-45 AS FLOAT) AS h`,
  `SELECT 0.1D AS a, -0.0D AS b, CAST('NaN' AS DOUBLE) AS c, CAST('Infinity' AS DOUBLE) AS d,
     CAST('-Infinity' AS DOUBLE) AS e, 1.7976931348623157E308D AS f, 4.9E-324D AS g, 1E21D AS h,
     1.5E-7D AS i, 123456789.123456789D AS j, 1D / 3 AS k`,
  `SELECT CAST(12.34 AS DECIMAL(18,2)) AS a, CAST(-0.05 AS DECIMAL(18,2)) AS b,
     CAST(0 AS DECIMAL(18,2)) AS c, CAST(7 AS DECIMAL(10,0)) AS d,
     CAST('12345678901234567890123456.123456789012' AS DECIMAL(38,12)) AS e,
     CAST('99999999999999999999999999999999999999' AS DECIMAL(38,0)) AS f,
     CAST('-99999999999999999999999999999999999999' AS DECIMAL(38,0)) AS g,
     CAST('0.00000000000000000000000000000000000001' AS DECIMAL(38,38)) AS h,
     CAST(-0.99999 AS DECIMAL(5,5)) AS i, CAST(0 AS DECIMAL(20,10)) AS j, 1.5BD AS k`,
  `SELECT 'héllo ☃' AS a, '' AS b, '😀 𝄞' AS c, concat('x', chr(0), 'y') AS d, 'two\nlines\ttab' AS e,
     CAST('ab' AS CHAR(4)) AS f, CAST('ab' AS VARCHAR(4)) AS g, 'Ab' COLLATE UTF8_LCASE AS h`,
  "SELECT X'00FF10' AS a, X'' AS b, CAST(NULL AS BINARY) AS c, CAST('é' AS BINARY) AS d",
  `SELECT DATE'2024-02-29' AS a, DATE'1900-01-01' AS b, DATE'0001-01-01' AS c, DATE'9999-12-31' AS d,
     DATE'1970-01-01' AS e, DATE'1582-10-04' AS f, DATE'1582-10-15' AS g, DATE'1969-12-31' AS h`,
  `SELECT TIMESTAMP'2024-01-02 03:04:05.123456' AS a, TIMESTAMP'1970-01-01 00:00:00' AS b,
     TIMESTAMP'0001-01-01 00:00:00' AS c, TIMESTAMP'9999-12-31 23:59:59.999999' AS d,
     TIMESTAMP'1850-06-01 12:00:00.5' AS e, TIMESTAMP'1969-12-31 23:59:59.999999' AS f,
     TIMESTAMP'1582-10-04 10:00:00' AS g, TIMESTAMP_MICROS(1) AS h`,
  `SELECT TIMESTAMP_NTZ'2024-01-02 03:04:05.123456' AS a, TIMESTAMP_NTZ'0001-01-01 00:00:00' AS b,
     TIMESTAMP_NTZ'1969-12-31 23:59:59.999999' AS c, TIMESTAMP_NTZ'9999-12-31 23:59:59.999999' AS d`,
  `SELECT TIME'12:34:56.123456' AS a, TIME'00:00:00' AS b, TIME'23:59:59.999999' AS c,
     CAST(TIME'01:02:03.456' AS TIME(3)) AS d, CAST(TIME'01:02:03' AS TIME(0)) AS e`,
  `SELECT INTERVAL '1 02:03:04.123456' DAY TO SECOND AS a, INTERVAL '-3' DAY AS b,
     INTERVAL '10' HOUR AS c, INTERVAL '5' MINUTE AS d, INTERVAL '1.000001' SECOND AS e,
     INTERVAL '-0 00:00:00.000001' DAY TO SECOND AS f, INTERVAL '106751991 04:00:54.775807' DAY TO SECOND AS g`,
  `SELECT array(1, 2, NULL) AS a, CAST(array() AS ARRAY<INT>) AS b, array(array('a'), array()) AS c,
     array(named_struct('x', 1, 'y', 'u'), NULL) AS d, array(DATE'2024-01-01') AS e,
     CAST(NULL AS ARRAY<STRING>) AS f, array(CAST(NULL AS STRING)) AS g`,
  `SELECT map('a', 1, 'b', NULL) AS a, map(1, array('x', 'y')) AS b,
     map('k', named_struct('v', 2.5D)) AS c, CAST(map() AS MAP<STRING, INT>) AS d,
     map(DATE'2024-01-01', X'01') AS e, CAST(NULL AS MAP<INT, INT>) AS f`,
  `SELECT named_struct('a', 1, 'b', named_struct('c', 'x', 'd', array(1L))) AS a,
     named_struct('a', CAST(NULL AS INT), 'b', CAST(NULL AS STRING)) AS b,
     CAST(NULL AS STRUCT<a: INT>) AS c, named_struct('when', TIMESTAMP'2024-01-02 03:04:05') AS d`,
  `SELECT array(1.5BD, NULL) AS a, array(CAST('NaN' AS DOUBLE), -0.0D) AS b, array(X'01', X'') AS c,
     map('t', TIMESTAMP_NTZ'2024-01-02 03:04:05') AS d, named_struct('t', TIME'01:02:03') AS e,
     array(INTERVAL '1' SECOND) AS f, map(1L, map('x', 1)) AS g, array(map('k', array(1))) AS h`,
  `SELECT NULL AS a, CAST(NULL AS DATE) AS b, CAST(NULL AS TIMESTAMP) AS c, CAST(NULL AS DECIMAL(38,2)) AS d,
     CAST(NULL AS DOUBLE) AS e, CAST(NULL AS TIME) AS f, CAST(NULL AS INTERVAL DAY) AS g`,
  `SELECT CAST(1 AS DECIMAL(38,18)) / 3 AS a, CAST(2 AS DECIMAL(10,2)) * CAST(3.333 AS DECIMAL(10,3)) AS b,
     sum(CAST(id AS DECIMAL(20,4)) / 7) AS c, avg(id) AS d, stddev(id) AS e FROM range(1000)`,
  "SELECT repeat('x', 1000000) AS big, upper('ß') AS sharp_s, CAST(X'F09F9880' AS STRING) AS from_bytes",
  `SELECT map(named_struct('a', 1), 2) AS a, map(DATE'2024-01-01', map('x', NULL)) AS b`,
  `SELECT ST_GeomFromWKB(X'0101000000000000000000F03F0000000000000040') AS a,
     ST_GeogFromWKB(X'0101000000000000000000F03F0000000000000040') AS b,
     ST_SetSrid(ST_GeomFromWKB(X'0101000000000000000000F03F0000000000000040'), 3857) AS c`,
  `SELECT parse_json('{"b": [1.5, "x", null, true], "a": 1, "big": 12345678901, "n": -7, "e": 1.5e300}') AS a,
     parse_json('null') AS b, CAST(2.5D AS VARIANT) AS c, CAST(DATE'2024-02-29' AS VARIANT) AS d,
     CAST(TIMESTAMP'2024-01-02 03:04:05.123456' AS VARIANT) AS e, CAST(X'00FF' AS VARIANT) AS f,
     CAST(TIMESTAMP_NTZ'2024-01-02 03:04:05' AS VARIANT) AS g, parse_json('"text"') AS h,
     CAST(CAST(1.50 AS DECIMAL(5,2)) AS VARIANT) AS i, CAST(NULL AS VARIANT) AS j`,
  "SELECT 1 AS `a b`, 2 AS `c.d`, 3 AS `é`, 4 AS `__proto__`, 5 AS `constructor`",
  // Several Arrow batches (Spark cuts them at 10,000 rows), and values computed per row.
  `SELECT id, CAST(id AS INT) AS i, id * 1.5D AS d, concat('row-', id) AS s,
     date_add(DATE'2020-01-01', CAST(id % 3650 AS INT)) AS dt, CAST(id / 100 AS DECIMAL(18,2)) AS dec,
     IF(id % 7 = 0, NULL, id) AS sometimes FROM range(25003)`,
  "SELECT id, CAST(id AS STRING) AS s FROM range(0) ",
  `SELECT * FROM VALUES (1, 'a', DATE'2024-01-01'), (NULL, NULL, NULL), (3, 'c', NULL) AS t(n, s, d)`
]

/**
 * Timestamp literals and casts read in another session zone: Spark parses them there, and both
 * clients must return the same instants (ours in UTC; pyspark's in the Python process's zone, UTC).
 */
const zoned: ReadonlyArray<string> = [
  `SELECT TIMESTAMP'2024-03-10 02:30:00' AS gap, TIMESTAMP'2024-11-03 01:30:00' AS overlap,
     TIMESTAMP'1850-06-01 12:00:00' AS lmt, CAST('2024-07-01 12:00:00' AS TIMESTAMP) AS cast,
     TIMESTAMP_NTZ'2024-07-01 12:00:00' AS ntz, CAST(TIMESTAMP_NTZ'2024-07-01 12:00:00' AS TIMESTAMP) AS ltz,
     to_timestamp('2024-01-02 03:04:05.5+05:30') AS offset, DATE'2024-07-01' AS d`
]

interface Run {
  readonly conf: Readonly<Record<string, string>>
  readonly queries: ReadonlyArray<string>
}

const runs: ReadonlyArray<Run> = [
  { conf: utc, queries },
  { conf: { ...utc, "spark.sql.session.timeZone": "America/Los_Angeles" }, queries: zoned }
]

/** Our value in the tagged form differential.py writes (see there). */
const tagged = (v: Rows.Value): unknown => {
  if (v === null || typeof v === "boolean" || typeof v === "string") return v
  if (typeof v === "number") {
    if (Number.isNaN(v)) return { $num: "nan" }
    const bits = Buffer.alloc(8)
    bits.writeDoubleBE(v)
    return { $num: bits.toString("hex") }
  }
  if (typeof v === "bigint") return { $bigint: String(v) }
  if (v instanceof Uint8Array) return { $bytes: Buffer.from(v).toString("hex") }
  if (Array.isArray(v)) return v.map(tagged)
  if (v instanceof Map) return { $map: [...v].map(([k, x]) => [tagged(k), tagged(x)]) }
  const row = v as { readonly [field: string]: Rows.Value }
  return { $row: Object.keys(row).map((k) => [k, tagged(row[k]!)]) }
}

interface Result {
  readonly columns?: ReadonlyArray<string>
  readonly rows?: ReadonlyArray<ReadonlyArray<unknown>>
  readonly error?: string
}

const venvScript = path.resolve(import.meta.dirname, "../../bench/pyspark-venv.sh")
const reference = path.resolve(import.meta.dirname, "differential.py")

/** pyspark-client's answers, from one Python process (its venv made on first use). */
const theirs = (): ReadonlyArray<ReadonlyArray<Result>> => {
  const python = execFileSync(venvScript, [sparkVersion()], { encoding: "utf8" }).trim()
  const out = execFileSync(python, [reference], {
    input: JSON.stringify({ remote: remote(), runs }),
    env: { ...process.env, TZ: "UTC", PYTHONWARNINGS: "ignore" },
    encoding: "utf8",
    maxBuffer: 256 * 1024 * 1024
  })
  return JSON.parse(out) as ReadonlyArray<ReadonlyArray<Result>>
}

const ours = (): Promise<ReadonlyArray<ReadonlyArray<Result>>> =>
  session((spark) =>
    Effect.forEach(runs, (run) =>
      Effect.andThen(
        spark.setConf(run.conf),
        Effect.forEach(run.queries, (query) =>
          Effect.gen(function* () {
            const df = yield* spark.sql(query)
            const columns = (yield* spark.schema(df)).map((c) => c.name)
            const rows = (all: ReadonlyArray<Rows.Row>) => all.map((r) => columns.map((c) => tagged(r[c]!)))
            const collected = rows(yield* spark.collect(df))
            // streamRows decodes batch by batch: it must give the same rows.
            expect(rows(yield* Stream.runCollect(spark.streamRows(df))), query).toStrictEqual(collected)
            return { columns, rows: collected }
          })
        )
      )
    )
  )

describe("our rows against pyspark-client's, same server", () => {
  it(
    `agree value by value on ${queries.length + zoned.length} queries over every type`,
    { timeout: 900_000 },
    async () => {
      const [reference, ourResults] = [theirs(), await ours()]
      expect(reference).toHaveLength(runs.length)
      runs.forEach((run, r) => {
        expect(reference[r]).toHaveLength(run.queries.length)
        run.queries.forEach((query, i) => {
          const expected = reference[r]![i]!
          expect(expected.error, `pyspark-client failed on: ${query}`).toBeUndefined()
          expect(ourResults[r]![i], `${run.conf["spark.sql.session.timeZone"]}: ${query}`).toStrictEqual(
            expected
          )
        })
      })
      // It compared values: every query but the one over range(0) returned rows.
      expect(reference.flat().filter((r) => (r.rows?.length ?? 0) > 0)).toHaveLength(
        queries.length + zoned.length - 1
      )
    }
  )
})
