// The JDBC path end to end: a table made in the harness's PostgreSQL with psql, read by the
// Spark Connect server through Spark's own JDBC data source (the driver on its classpath).
import { NodeServices } from "@effect/platform-node"
import { Effect, Exit } from "effect"
import { SparkSession } from "@spark-etl/runner-spark-connect"
import { randomUUID } from "node:crypto"
import { describe, expect, inject, it } from "vitest"
import * as LocalPostgres from "../src/LocalPostgres.js"

const run = <A, E>(program: Effect.Effect<A, E, SparkSession.SparkSession | NodeServices.NodeServices>) =>
  Effect.runPromise(
    program.pipe(
      Effect.provide(SparkSession.layer({ remote: inject("sparkRemote") })),
      Effect.provide(NodeServices.layer)
    )
  )

const psql = (sql: string) =>
  Effect.runPromise(LocalPostgres.query(inject("postgres"), sql).pipe(Effect.provide(NodeServices.layer)))

describe("PostgreSQL for the jdbc runner", () => {
  it("Spark reads a PostgreSQL table through format jdbc, typed and exact", async () => {
    const pg = inject("postgres")
    const table = `orders_${randomUUID().replaceAll("-", "").slice(0, 12)}`
    await psql(
      `CREATE TABLE ${table} (id integer PRIMARY KEY, customer text NOT NULL, amount numeric(10,2), ordered date, paid boolean);
       INSERT INTO ${table} VALUES (1, 'Ada', 12.34, '2024-02-29', true), (2, 'Zoë', -0.50, '1999-12-31', false), (3, 'Bob', NULL, NULL, NULL);`
    )
    expect((await psql(`SELECT count(*) FROM ${table}`)).trim()).toBe("3")

    const [schema, rows] = await run(
      Effect.gen(function* () {
        const spark = yield* SparkSession.SparkSession
        // Credentials are options of the data source, never part of SQL text.
        const df = spark.read({
          format: "jdbc",
          paths: [],
          options: { url: pg.jdbcUrl, dbtable: table, user: pg.user, password: pg.password }
        })
        return [yield* spark.schema(df), yield* spark.collect(df)] as const
      })
    )
    expect(schema.map((c) => `${c.name} ${c.type}`)).toEqual([
      "id int",
      "customer string",
      "amount decimal(10,2)",
      "ordered date",
      "paid boolean"
    ])
    expect([...rows].sort((a, b) => Number(a["id"]) - Number(b["id"]))).toEqual([
      { id: 1, customer: "Ada", amount: "12.34", ordered: "2024-02-29", paid: true },
      { id: 2, customer: "Zoë", amount: "-0.50", ordered: "1999-12-31", paid: false },
      { id: 3, customer: "Bob", amount: null, ordered: null, paid: null }
    ])
  })

  it("logs in with the generated password only", async () => {
    const pg = inject("postgres")
    expect(pg.host).toBe("127.0.0.1")
    expect((await psql("SHOW password_encryption")).trim()).toBe("scram-sha-256")
    const wrong = await Effect.runPromiseExit(
      LocalPostgres.query({ ...pg, password: `${pg.password}x` }, "SELECT 1").pipe(
        Effect.provide(NodeServices.layer)
      )
    )
    expect(Exit.isFailure(wrong)).toBe(true)
    expect(String(Exit.isFailure(wrong) ? wrong.cause : "")).toMatch(/password authentication failed/)
  })
})
