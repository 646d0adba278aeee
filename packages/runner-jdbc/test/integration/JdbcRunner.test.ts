// Reads and delete-and-load writes against the real PostgreSQL and Spark, and how each failure
// a batch author can meet is classified: class, code (the database's), SQLSTATE and message.
import { Failure } from "@spark-etl/core"
import { Effect, Logger } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { describe, expect, inject, it } from "vitest"
import {
  abandonRule,
  connection,
  downUrl,
  failureOf,
  preflightRule,
  psql,
  psqlRows,
  run,
  runRule,
  sparkAtLeast,
  sparkRows,
  throughRelay,
  unique
} from "./harness.js"

const source = async () => {
  const table = unique("src")
  await Effect.runPromise(
    psql(
      `CREATE TABLE ${table} (id integer PRIMARY KEY, customer text NOT NULL, amount numeric(10,2), ordered date);
       INSERT INTO ${table} VALUES (1, 'Ada', 12.34, '2024-02-29'), (2, 'Zoë', -0.50, '1999-12-31'), (3, 'Bob', NULL, NULL);`
    )
  )
  return table
}

const target = async () => {
  const table = unique("dst")
  await Effect.runPromise(
    psql(
      `CREATE TABLE ${table} (customer text PRIMARY KEY, total numeric(12,2) NOT NULL CHECK (total > -100));
       COMMENT ON TABLE ${table} IS 'owned by the warehouse team';`
    )
  )
  return table
}

describe("jdbc read", () => {
  it("makes the table the rule's view: the rows psql inserted, typed", async () => {
    const table = await source()
    const id = unique("orders")
    const rows = await run(
      Effect.andThen(
        runRule({ id, options: { ...connection(), read: { table } } }),
        sparkRows(`SELECT id, customer, amount, ordered FROM ${id} ORDER BY id`)
      )
    )
    expect(rows).toEqual([
      { id: 1, customer: "Ada", amount: "12.34", ordered: "2024-02-29" },
      { id: 2, customer: "Zoë", amount: "-0.50", ordered: "1999-12-31" },
      { id: 3, customer: "Bob", amount: null, ordered: null }
    ])
  })

  it("reads a query, partitioned reads and cache give the same rows", async () => {
    const table = await source()
    const [byQuery, partitioned] = [unique("q"), unique("p")]
    const rows = await run(
      Effect.gen(function* () {
        yield* runRule({
          id: byQuery,
          options: {
            ...connection(),
            read: { query: `SELECT id, customer FROM ${table} WHERE id > 1`, cache: true }
          }
        })
        yield* runRule({
          id: partitioned,
          options: {
            ...connection(),
            read: {
              table,
              fetch_size: 2,
              partition: { column: "id", lower_bound: 1, upper_bound: 3, num_partitions: 3 }
            }
          }
        })
        return [
          yield* sparkRows(`SELECT id, customer FROM ${byQuery} ORDER BY id`),
          yield* sparkRows(`SELECT count(*) AS n, sum(id) AS s FROM ${partitioned}`)
        ] as const
      })
    )
    expect(rows[0]).toEqual([
      { id: 2, customer: "Zoë" },
      { id: 3, customer: "Bob" }
    ])
    expect(rows[1]).toEqual([{ n: 3n, s: 6n }])
  })

  // Same rows either way, so the split is shown where it happens: each Spark partition of the
  // view is one query of the database, over one stride of the column (bounds 1 and 4 in three
  // partitions: id < 2, 2 <= id < 3, id >= 3).
  it("read.partition: one partition per stride of the column; without it, one partition", async () => {
    const table = await source()
    const [whole, split] = [unique("whole"), unique("split")]
    const byPartition = (view: string) =>
      sparkRows(
        `SELECT spark_partition_id() AS p, min(id) AS lo, max(id) AS hi FROM ${view} GROUP BY 1 ORDER BY 1`
      )
    const [one, three] = await run(
      Effect.gen(function* () {
        yield* runRule({ id: whole, options: { ...connection(), read: { table } } })
        yield* runRule({
          id: split,
          options: {
            ...connection(),
            read: { table, partition: { column: "id", lower_bound: 1, upper_bound: 4, num_partitions: 3 } }
          }
        })
        return [yield* byPartition(whole), yield* byPartition(split)] as const
      })
    )
    expect(one).toEqual([{ p: 0, lo: 1, hi: 3 }])
    expect(three).toEqual([
      { p: 0, lo: 1, hi: 1 },
      { p: 1, lo: 2, hi: 2 },
      { p: 2, lo: 3, hi: 3 }
    ])
  })

  // Where the database is queried shows on the wire (support/pgWire.ts): with cache, once, in
  // the rule; without it, at every use of the view.
  it("read.cache: the rule reads the database once; without it, every use of the view does", async () => {
    const table = await source()
    const scans = (cache: boolean) =>
      throughRelay((url, relay) => {
        const id = unique("orders")
        const scanned = Effect.sync(
          () => relay.seen().executes.filter((e) => e.sql.includes(table) && !e.sql.includes("1=0")).length
        )
        return run(
          Effect.gen(function* () {
            yield* runRule({ id, options: { ...connection(url), read: { table, cache } } })
            const inRule = yield* scanned
            expect(yield* sparkRows(`SELECT count(*) AS n FROM ${id}`)).toEqual([{ n: 3n }])
            expect(yield* sparkRows(`SELECT sum(id) AS s FROM ${id}`)).toEqual([{ s: 6n }])
            return { inRule, afterTwoUses: yield* scanned }
          })
        )
      })
    expect(await scans(true)).toEqual({ inRule: 1, afterTwoUses: 1 })
    expect(await scans(false)).toEqual({ inRule: 0, afterTwoUses: 2 })
  })

  // How the driver fetches shows only on the wire (support/pgWire.ts): each fetch of the scan is
  // one Execute whose row limit is the fetch size.
  it("read.fetch_size: the driver fetches that many rows per round trip; without it, Spark's default", async () => {
    const table = unique("src")
    await Effect.runPromise(psql(`CREATE TABLE ${table} AS SELECT g AS id FROM generate_series(1, 20) g`))
    const fetches = (read: Record<string, unknown>) =>
      throughRelay(async (url, relay) => {
        const id = unique("orders")
        const rows = await run(
          Effect.andThen(
            runRule({ id, options: { ...connection(url), read: { table, ...read } } }),
            sparkRows(`SELECT sum(id) AS total FROM ${id}`)
          )
        )
        expect(rows).toEqual([{ total: 210n }])
        // The scan, not the schema's probe (`WHERE 1=0`).
        return relay
          .seen()
          .executes.filter((e) => e.sql.includes(table) && !e.sql.includes("1=0"))
          .map((e) => e.limit)
      })
    expect(await fetches({ fetch_size: 7 })).toEqual([7, 7, 7])
    // Spark 4.2 reads PostgreSQL 1,000 rows at a time when not told; earlier versions, all at once.
    expect(await fetches({})).toEqual([sparkAtLeast(4, 2) ? 1000 : 0])
  })

  // connection_options go to the driver: PostgreSQL's `currentSchema` decides where an
  // unqualified table name is looked up.
  it("connection_options reach the driver: currentSchema finds a table outside the search path", async () => {
    const schema = unique("elsewhere")
    const table = unique("t")
    await Effect.runPromise(
      psql(
        `CREATE SCHEMA ${schema}; CREATE TABLE ${schema}.${table} (id integer); INSERT INTO ${schema}.${table} VALUES (42);`
      )
    )
    const missing = await failureOf(
      preflightRule({ id: unique("plain"), options: { ...connection(), read: { table } } })
    )
    expect(missing).toMatchObject({ code: "UNDEFINED_TABLE", sqlState: "42P01" })
    const id = unique("in_schema")
    const rows = await run(
      Effect.andThen(
        runRule({
          id,
          options: { ...connection(), connection_options: { currentSchema: schema }, read: { table } }
        }),
        sparkRows(`SELECT id FROM ${id}`)
      )
    )
    expect(rows).toEqual([{ id: 42 }])
  })

  it("driver: the named class reads; a class not on Spark's classpath fails at preflight, naming it", async () => {
    const table = await source()
    const id = unique("named")
    const rows = await run(
      Effect.andThen(
        runRule({ id, options: { ...connection(), driver: "org.postgresql.Driver", read: { table } } }),
        sparkRows(`SELECT count(*) AS n FROM ${id}`)
      )
    )
    expect(rows).toEqual([{ n: 3n }])
    const failure = await failureOf(
      preflightRule({
        id: unique("unknown"),
        options: { ...connection(), driver: "org.example.NoSuchDriver", read: { table } }
      })
    )
    expect(failure).toBeInstanceOf(Failure.SqlError)
    expect(failure).toMatchObject({ category: "capturable", code: "JDBC_DRIVER_NOT_FOUND" })
    expect((failure as Failure.SqlError).message).toMatch(
      /^rule "unknown_\w+", reading table src_\w+: the JDBC driver class org\.example\.NoSuchDriver is not on Spark's classpath \(check the rule's driver, or add the driver's jar to the cluster\)$/
    )
    expect(Failure.restartMayHelp(failure as Failure.SqlError)).toBe(false)
  })

  it("writes the rows to the rule's path target too, as parquet", async () => {
    const table = await source()
    const id = unique("orders")
    const out = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "runner-jdbc-")), "orders")
    const rows = await run(
      Effect.andThen(
        runRule({ id, target: out, options: { ...connection(), read: { table } } }),
        sparkRows(`SELECT count(*) AS n FROM parquet.\`${out}\``)
      )
    )
    expect(rows).toEqual([{ n: 3n }])
  })

  it("a missing table: SqlError with the database's code, at preflight already", async () => {
    const id = unique("orders")
    const options = { ...connection(), read: { table: "no_such_table" } }
    for (const program of [runRule({ id, options }), preflightRule({ id, options })]) {
      const failure = await failureOf(program)
      expect(failure).toBeInstanceOf(Failure.SqlError)
      expect(failure).toMatchObject({ category: "capturable", code: "UNDEFINED_TABLE", sqlState: "42P01" })
      expect((failure as Failure.SqlError).message).toBe(
        `rule "${id}", reading table no_such_table: ERROR: relation "no_such_table" does not exist (SQLSTATE 42P01) [JDBC_EXTERNAL_ENGINE_SYNTAX_ERROR.DURING_OUTPUT_SCHEMA_RESOLUTION]`
      )
    }
  })

  it("a query the database cannot run: DataError with its code", async () => {
    const failure = await failureOf(
      runRule({
        id: unique("bad"),
        options: { ...connection(), read: { query: "SELECT 1 / 0 AS x", cache: true } }
      })
    )
    expect(failure).toBeInstanceOf(Failure.DataError)
    expect(failure).toMatchObject({ code: "DIVISION_BY_ZERO", sqlState: "22012" })
  })

  it("the database down: EngineUnreachable (system), SQLSTATE 08001", async () => {
    const failure = await failureOf(
      runRule({ id: unique("orders"), options: { ...connection(downUrl), read: { table: "t" } } })
    )
    expect(failure).toBeInstanceOf(Failure.EngineUnreachable)
    expect(failure).toMatchObject({ category: "system", sqlState: "08001" })
    expect((failure as Failure.EngineUnreachable).message).toContain("Connection to 127.0.0.1:1 refused")
  })

  it("a login refused: EngineUnreachable, not restartable, the password nowhere in the failure", async () => {
    const failure = await failureOf(
      Effect.suspend(() =>
        runRule({
          id: unique("orders"),
          options: { ...connection(), user: "nobody_here", read: { table: "t" } }
        })
      )
    )
    expect(failure).toBeInstanceOf(Failure.EngineUnreachable)
    expect(failure).toMatchObject({ sqlState: "28P01", restartable: false })
    expect(JSON.stringify(failure)).not.toContain(inject("postgres").password)
  })
})

describe("jdbc retry", () => {
  // The usual case before a retry: the failed attempt's operation had already ended on the server.
  it("abandon with nothing of the rule on the server says so, with nothing left after a colon", async () => {
    const messages: Array<string> = []
    const collector = Logger.make((options) => void messages.push(String(options.message)))
    const id = unique("ended")
    await run(
      abandonRule({ id, options: { ...connection(), read: { table: "t" } } }).pipe(
        Effect.provide(Logger.layer([collector]))
      )
    )
    expect(messages.filter((m) => m.startsWith(`rule ${id}`))).toEqual([
      `rule ${id}: no operation of it was running on the server`
    ])
  })
})

describe("jdbc write (delete-and-load)", () => {
  const load = (upstream: string, table: string, options: Record<string, unknown> = {}) =>
    runRule({
      id: unique("load"),
      dependsOn: [upstream],
      options: { ...connection(), write: { from: upstream, table, ...options } }
    })
  const totals = (view: string, sql: string) =>
    Effect.flatMap(sparkRows(`CREATE OR REPLACE TEMP VIEW ${view} AS ${sql}`), () => Effect.void)

  it("truncates and loads; a rerun leaves the rows exactly once; the table's definition is kept", async () => {
    const table = await target()
    const view = unique("totals")
    await Effect.runPromise(psql(`INSERT INTO ${table} VALUES ('yesterday', 1)`))
    const sql = "SELECT * FROM VALUES ('Ada', 12.34), ('Zoë', -0.5) AS t(customer, total)"
    await run(Effect.andThen(totals(view, sql), load(view, table, { batch_size: 1, num_partitions: 2 })))
    const once = await Effect.runPromise(psqlRows(`SELECT customer, total FROM ${table}`))
    expect(once).toEqual(["Ada|12.34", "Zoë|-0.50"])
    await run(Effect.andThen(totals(view, sql), load(view, table)))
    expect(await Effect.runPromise(psqlRows(`SELECT customer, total FROM ${table}`))).toEqual(once)
    const definition = await Effect.runPromise(
      psqlRows(
        `SELECT obj_description('${table}'::regclass) UNION ALL SELECT contype::text FROM pg_constraint WHERE conrelid = '${table}'::regclass`
      )
    )
    expect(definition).toEqual(["c", "owned by the warehouse team", "p"])
  })

  // Spark inserts each partition in a transaction of its own: the distinct transaction ids the
  // rows carry (a column defaulting to txid_current()) count the partitions that wrote.
  it("write.num_partitions: at most that many partitions insert; without it, one per partition of the rows", async () => {
    const table = unique("dst")
    await Effect.runPromise(
      psql(`CREATE TABLE ${table} (id bigint NOT NULL, tx bigint DEFAULT txid_current())`)
    )
    const view = unique("spread")
    const writers = async (options: Record<string, unknown>) => {
      await run(
        Effect.andThen(
          totals(view, "SELECT /*+ REPARTITION(4) */ id FROM range(40)"),
          load(view, table, options)
        )
      )
      return Effect.runPromise(psqlRows(`SELECT count(*), count(DISTINCT tx) FROM ${table}`))
    }
    expect(await writers({ num_partitions: 2 })).toEqual(["40|2"])
    expect(await writers({})).toEqual(["40|4"])
  })

  // Each executeBatch is one pipeline on the wire, ended by a Sync (support/pgWire.ts).
  it("write.batch_size: the rows go that many per batch; without it, Spark's 1,000", async () => {
    const table = unique("dst")
    await Effect.runPromise(psql(`CREATE TABLE ${table} (id bigint NOT NULL)`))
    const view = unique("rows")
    const batches = (options: Record<string, unknown>) =>
      throughRelay(async (url, relay) => {
        await run(
          Effect.andThen(
            totals(view, "SELECT /*+ REPARTITION(1) */ id FROM range(40)"),
            runRule({
              id: unique("load"),
              dependsOn: [view],
              options: { ...connection(url), write: { from: view, table, ...options } }
            })
          )
        )
        return relay
          .seen()
          .pipelines.map(
            (statements) => statements.filter((sql) => sql.startsWith(`INSERT INTO ${table} `)).length
          )
          .filter((inserts) => inserts > 0)
      })
    expect(await batches({ batch_size: 15 })).toEqual([15, 15, 10])
    expect(await batches({})).toEqual([40])
    expect(await Effect.runPromise(psqlRows(`SELECT count(*), count(DISTINCT id) FROM ${table}`))).toEqual([
      "40|40"
    ])
  })

  it("a missing table: TargetError with the database's code, at preflight, nothing created", async () => {
    const view = unique("totals")
    const table = unique("missing")
    const failure = await failureOf(
      Effect.andThen(
        totals(view, "SELECT 'a' AS customer, 1 AS total"),
        preflightRule({
          id: "load",
          dependsOn: [view],
          options: { ...connection(), write: { from: view, table } }
        })
      )
    )
    expect(failure).toBeInstanceOf(Failure.TargetError)
    expect(failure).toMatchObject({ code: "UNDEFINED_TABLE", sqlState: "42P01" })
    expect(await Effect.runPromise(psql(`SELECT to_regclass('${table}') IS NULL`))).toBe("t\n")
  })

  it("a constraint the rows break: DataError with the database's code and constraint, no secret", async () => {
    const table = await target()
    const view = unique("totals")
    const failure = await failureOf(
      Effect.andThen(
        totals(view, "SELECT * FROM VALUES ('Ada', 1), ('Ada', 2) AS t(customer, total)"),
        load(view, table)
      )
    )
    expect(failure).toBeInstanceOf(Failure.DataError)
    expect(failure).toMatchObject({ code: "UNIQUE_VIOLATION", sqlState: "23505" })
    expect((failure as Failure.DataError).message).toContain(
      `ERROR: duplicate key value violates unique constraint "${table}_pkey" (SQLSTATE 23505)`
    )
  })

  it("`from` not among depends_on: TargetError before anything is written", async () => {
    const table = await target()
    const failure = await failureOf(
      runRule({ id: "load", dependsOn: [], options: { ...connection(), write: { from: "totals", table } } })
    )
    expect(failure).toMatchObject({ _tag: "TargetError", code: "JDBC_FROM_NOT_A_DEPENDENCY" })
  })

  it("the database down: EngineUnreachable", async () => {
    const view = unique("totals")
    const failure = await failureOf(
      Effect.andThen(
        totals(view, "SELECT 'a' AS customer"),
        runRule({
          id: "load",
          dependsOn: [view],
          options: { ...connection(downUrl), write: { from: view, table: "t" } }
        })
      )
    )
    expect(failure).toBeInstanceOf(Failure.EngineUnreachable)
    expect(failure).toMatchObject({ sqlState: "08001" })
  })
})

describe("jdbc write, staged: one transaction replaces the rows", () => {
  // Daily totals: (day, customer) is the key; the load replaces one day's rows.
  const daily = async () => {
    const table = unique("daily")
    await Effect.runPromise(
      psql(
        `CREATE TABLE ${table} (day date, customer text, total numeric(12,2) NOT NULL, PRIMARY KEY (day, customer));
         INSERT INTO ${table} VALUES ('2026-11-29', 'Ada', 1), ('2026-11-30', 'Ada', 2), ('2026-11-30', 'Bob', 3);`
      )
    )
    return table
  }
  const rows = (table: string) => Effect.runPromise(psqlRows(`SELECT day, customer, total FROM ${table}`))
  const stageGone = (table: string) =>
    Effect.runPromise(psql(`SELECT to_regclass('${table}__spark_etl_stage') IS NULL`))
  const load = (sql: string, table: string, write: Record<string, unknown>) => {
    const view = unique("totals")
    return Effect.andThen(
      sparkRows(`CREATE OR REPLACE TEMP VIEW ${view} AS ${sql}`),
      runRule({
        id: unique("load"),
        dependsOn: [view],
        options: { ...connection(), write: { from: view, table, ...write } }
      })
    )
  }
  const byDay = { mode: "delete_key_range", key: "day" }
  const nov30 =
    "SELECT * FROM VALUES (DATE'2026-11-30', 'Ada', 20), (DATE'2026-11-30', 'Cy', 40) AS t(day, customer, total)"
  const nov30Twice =
    "SELECT * FROM VALUES (DATE'2026-11-30', 'Ada', 20), (DATE'2026-11-30', 'Ada', 21) AS t(day, customer, total)"

  it("delete_key_range replaces the loaded day only; a rerun leaves its rows exactly once", async () => {
    const table = await daily()
    await run(load(nov30, table, { ...byDay, num_partitions: 2, batch_size: 1 }))
    const once = await rows(table)
    expect(once).toEqual(["2026-11-29|Ada|1.00", "2026-11-30|Ada|20.00", "2026-11-30|Cy|40.00"])
    await run(load(nov30, table, byDay))
    expect(await rows(table)).toEqual(once)
    expect(await stageGone(table)).toBe("t\n")
  })

  it("a load that fails in the transaction changes nothing: the day's old rows stay; the next run loads", async () => {
    const table = await daily()
    const before = await rows(table)
    const failure = await failureOf(load(nov30Twice, table, byDay))
    expect(failure).toBeInstanceOf(Failure.DataError)
    expect(failure).toMatchObject({ code: "UNIQUE_VIOLATION", sqlState: "23505" })
    // The DELETE ran before the failing INSERT, in the same transaction: rolled back with it.
    expect(await rows(table)).toEqual(before)
    // The failed run left its staging table; the next run drops it and loads.
    expect(await stageGone(table)).toBe("f\n")
    await run(load(nov30, table, byDay))
    expect(await rows(table)).toEqual(["2026-11-29|Ada|1.00", "2026-11-30|Ada|20.00", "2026-11-30|Cy|40.00"])
    expect(await stageGone(table)).toBe("t\n")
  })

  it("atomic truncate: every row replaced; a failed load keeps the old rows (a plain truncate does not)", async () => {
    const [atomic, plain] = [await daily(), await daily()]
    const before = await rows(atomic)
    expect(await failureOf(load(nov30Twice, atomic, { atomic: true }))).toMatchObject({
      code: "UNIQUE_VIOLATION"
    })
    expect(await rows(atomic)).toEqual(before)
    expect(await failureOf(load(nov30Twice, plain, {}))).toMatchObject({ code: "UNIQUE_VIOLATION" })
    expect((await rows(plain)).length).toBeLessThan(before.length)
    await run(load(nov30, atomic, { atomic: true }))
    expect(await rows(atomic)).toEqual(["2026-11-30|Ada|20.00", "2026-11-30|Cy|40.00"])
  })

  it("a key that is not a column of the table: TargetError at preflight naming it, nothing staged", async () => {
    const table = await daily()
    const view = unique("totals")
    const failure = await failureOf(
      Effect.andThen(
        sparkRows(`CREATE OR REPLACE TEMP VIEW ${view} AS ${nov30}`),
        preflightRule({
          id: "load",
          dependsOn: [view],
          options: { ...connection(), write: { from: view, table, mode: "delete_key_range", key: "dy" } }
        })
      )
    )
    expect(failure).toMatchObject({ _tag: "TargetError", code: "JDBC_KEY_NOT_A_COLUMN" })
    expect(failure?.message).toContain(
      `key "dy" is not a column of table ${table} (columns: day, customer, total)`
    )
    expect(await stageGone(table)).toBe("t\n")
  })
})
