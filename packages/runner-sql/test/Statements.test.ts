import { describe, expect, it } from "vitest"
import { classify, explainable, orReplace, split } from "../src/Statements.js"

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

describe("Statements.classify", () => {
  it.each([
    ["SELECT * FROM t WHERE note = 'INSERT INTO x'"],
    ["-- leading comment\nSELECT /*+ BROADCAST(d) */ a FROM t JOIN d USING (k)"],
    ["WITH x AS (SELECT 1 AS a) SELECT a FROM x"],
    ["VALUES (1), (2)"],
    ["TABLE t"],
    ["FROM t SELECT a"],
    ["(SELECT 1) UNION ALL (SELECT 2)"],
    ["select replace(name, 'a', 'b'), `insert` from t"],
    ["FROM t |> WHERE a > 1 |> SELECT a"]
  ])("a query: %s", (sql) => {
    expect(classify(sql)).toEqual({ _tag: "Query" })
  })

  it.each([
    ["CREATE TEMP VIEW v AS SELECT 1", "v", false],
    ["create or replace temporary view `My View` as select 1", "My View", true],
    ["CREATE TEMPORARY VIEW v (a COMMENT 'x') AS WITH c AS (SELECT 1) SELECT * FROM c", "v", false],
    ["CREATE TEMP VIEW v USING csv OPTIONS (path '/data/x.csv', header 'true')", "v", false]
  ])("a session temp view: %s", (sql, view, replace) => {
    expect(classify(sql)).toEqual({ _tag: "TempView", view, replace })
  })

  it.each([
    ["SET spark.sql.ansi.enabled = false", "spark.sql.ansi.enabled"],
    ["set `spark.sql.shuffle.partitions`=8", "spark.sql.shuffle.partitions"],
    ["SET TIME ZONE 'UTC'", "spark.sql.session.timeZone"]
  ])("a session configuration: %s", (sql, key) => {
    expect(classify(sql)).toEqual({ _tag: "SetConf", key })
  })

  it.each([["SET"], ["SET -v"], ["SET spark.sql.ansi.enabled"]])("reads configuration: %s", (sql) => {
    expect(classify(sql)).toEqual({ _tag: "ShowConf" })
  })

  it.each([
    ["INSERT INTO t SELECT 1", "INSERT"],
    ["WITH x AS (SELECT 1) INSERT INTO t SELECT * FROM x", "INSERT"],
    ["FROM src INSERT OVERWRITE TABLE t SELECT a", "INSERT"],
    ["WITH x AS (SELECT 1 AS a) MERGE INTO t USING x ON t.a = x.a WHEN MATCHED THEN DELETE", "MERGE"],
    ["CREATE TABLE t AS SELECT 1", "CREATE"],
    ["CREATE GLOBAL TEMP VIEW v AS SELECT 1", "CREATE"],
    ["CREATE TEMP VIEW db.v AS SELECT 1", "CREATE"],
    ["CREATE VIEW v AS SELECT 1", "CREATE"],
    ["DROP TABLE t", "DROP"],
    ["CACHE TABLE t", "CACHE"],
    ["USE mart", "USE"],
    ["SET VAR x = 1", "SET VARIABLE"],
    ["DECLARE VARIABLE x INT", "DECLARE"],
    ["EXECUTE IMMEDIATE 'INSERT INTO t SELECT 1'", "EXECUTE"],
    ["SELECT * FROM (EXECUTE IMMEDIATE 'x')", "EXECUTE"],
    ["EXPLAIN SELECT 1", "EXPLAIN"],
    ["SELEC 1", "SELEC"]
  ])("a command: %s", (sql, keyword) => {
    expect(classify(sql)).toEqual({ _tag: "Command", keyword })
  })
})

describe("Statements.explainable", () => {
  it("parses plain statements under EXPLAIN, never what Spark runs while analysing", () => {
    expect(explainable("INSERT INTO t SELECT CASE WHEN a IF 1 END FROM s")).toBe(true)
    expect(explainable("SELEC 1")).toBe(true)
    expect(explainable("EXECUTE IMMEDIATE 'INSERT INTO t SELECT 1'")).toBe(false)
    expect(explainable("INSERT INTO t SELECT * FROM (EXECUTE IMMEDIATE 'x')")).toBe(false)
    expect(explainable("CALL cat.sys.compact('t')")).toBe(false)
    expect(explainable("BEGIN")).toBe(false)
    expect(explainable("EXPLAIN SELECT 1")).toBe(false)
  })
})

describe("Statements.orReplace", () => {
  it("makes a plain temp view replace its namesake, and leaves everything else alone", () => {
    expect(orReplace("create temp view v as select 1")).toBe("create OR REPLACE temp view v as select 1")
    expect(orReplace("/* c */ CREATE\nTEMPORARY VIEW v AS SELECT 1")).toBe(
      "/* c */ CREATE OR REPLACE\nTEMPORARY VIEW v AS SELECT 1"
    )
    expect(orReplace("CREATE OR REPLACE TEMP VIEW v AS SELECT 1")).toBe(
      "CREATE OR REPLACE TEMP VIEW v AS SELECT 1"
    )
    expect(orReplace("CREATE TABLE t AS SELECT 1")).toBe("CREATE TABLE t AS SELECT 1")
  })
})
