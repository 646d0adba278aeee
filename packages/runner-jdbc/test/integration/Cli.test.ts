// The plugin as an operator meets it: the built CLI runs a batch that names the package under
// `plugins:`, reading PostgreSQL, transforming with sql, loading PostgreSQL back — then reruns
// it, and runs a batch whose table is missing. The batch lives inside this repository, so the
// CLI finds @spark-etl/runner-jdbc from the batch's folder (the workspace's link to this package).
import { execFile, execFileSync, spawn } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { LocalPostgres } from "@spark-etl/infra"
import { until } from "@spark-etl/testing"
import { Effect } from "effect"
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest"
import { psql, psqlRows, unique } from "./harness.js"

const packageDir = path.resolve(import.meta.dirname, "..", "..")
const repoRoot = path.resolve(packageDir, "..", "..")
const cliMain = path.join(repoRoot, "packages", "cli", "dist", "main.js")
const tmpRoot = path.join(packageDir, "test", ".tmp")

// The CLI imports the package's built output (its `default` export): build it from the sources
// under test first.
beforeAll(() => {
  execFileSync(
    process.execPath,
    [path.join(repoRoot, "node_modules", "typescript", "bin", "tsc"), "-p", "tsconfig.build.json"],
    {
      cwd: packageDir
    }
  )
}, 120_000)

interface Result {
  readonly code: number
  readonly stdout: string
  readonly stderr: string
}

const cli = (args: ReadonlyArray<string>, env: Readonly<Record<string, string>>): Promise<Result> =>
  new Promise((resolve) =>
    execFile(
      process.execPath,
      [cliMain, ...args],
      {
        env: { PATH: process.env["PATH"] ?? "", HOME: process.env["HOME"] ?? "", ...env },
        maxBuffer: 64 * 1024 * 1024
      },
      (error, stdout, stderr) =>
        resolve({
          code: error === null ? 0 : typeof error.code === "number" ? error.code : -1,
          stdout,
          stderr
        })
    )
  )

const summary = (stdout: string): string => stdout.trim().split("\n").at(-1) ?? ""

const batchText = (name: string, source: string, target: string) => {
  const pg = inject("postgres")
  const connection = `url: ${pg.jdbcUrl}\n      user: ${pg.user}\n      password: { param: db_password }`
  return `batch: ${name}
plugins: ["@spark-etl/runner-jdbc"]
parameters:
  db_password: { type: string, env: E2E_DB_PASSWORD, secret: true }
rules:
  - id: orders
    kind: jdbc
    options:
      ${connection}
      read: { table: ${source} }
  - id: totals
    kind: sql
    depends_on: [orders]
    options:
      sql: SELECT customer, CAST(SUM(amount) AS DECIMAL(12,2)) AS total FROM orders GROUP BY customer
  - id: load_totals
    kind: jdbc
    depends_on: [totals]
    options:
      ${connection}
      write: { from: totals, table: ${target}, mode: truncate }
`
}

const made: Array<string> = []
afterAll(() => made.forEach((dir) => fs.rmSync(dir, { recursive: true, force: true })))

const batchIn = (text: string) => {
  const dir = path.join(tmpRoot, unique("batch"))
  made.push(dir)
  fs.mkdirSync(dir, { recursive: true })
  const batch = path.join(dir, "batch.yaml")
  fs.writeFileSync(batch, text)
  return { dir, batch, stateDir: path.join(dir, "state"), log: path.join(dir, "run.jsonl") }
}

const runBatch = (b: ReturnType<typeof batchIn>) =>
  cli(["run", b.batch, "--remote", inject("sparkRemote"), "--state-dir", b.stateDir, "--log-file", b.log], {
    E2E_DB_PASSWORD: inject("postgres").password
  })

const setUp = async () => {
  const [source, target] = [unique("orders"), unique("totals")]
  await Effect.runPromise(
    psql(
      `CREATE TABLE ${source} (id integer PRIMARY KEY, customer text NOT NULL, amount numeric(10,2) NOT NULL);
       INSERT INTO ${source} VALUES (1, 'Ada', 10.00), (2, 'Ada', 2.50), (3, 'Bob', 7.25);
       CREATE TABLE ${target} (customer text PRIMARY KEY, total numeric(12,2) NOT NULL);`
    )
  )
  return { source, target }
}

describe("spark-etl run with the jdbc plugin", () => {
  it("reads PostgreSQL, transforms, loads PostgreSQL; a rerun leaves the rows exactly once", async () => {
    const { source, target } = await setUp()
    const b = batchIn(batchText("jdbc_e2e", source, target))
    for (const attempt of [1, 2]) {
      const r = await runBatch(b)
      expect(r.code, `run ${attempt}: ${r.stderr}\n${r.stdout}`).toBe(0)
      expect(summary(r.stdout)).toMatch(/^spark-etl SUCCEEDED batch=jdbc_e2e /)
      expect(await Effect.runPromise(psqlRows(`SELECT customer, total FROM ${target}`))).toEqual([
        "Ada|12.50",
        "Bob|7.25"
      ])
    }
    // The password reached Spark as an option only: no artefact of the runs shows it.
    const password = inject("postgres").password
    expect(fs.readFileSync(b.log, "utf8")).not.toContain(password)
  })

  it("a missing table: exit 1, the database's code in the summary and the log", async () => {
    const { target } = await setUp()
    const b = batchIn(batchText("jdbc_e2e_missing", "no_such_table", target))
    const r = await runBatch(b)
    expect(r.code, r.stderr + r.stdout).toBe(1)
    expect(summary(r.stdout)).toMatch(/code=UNDEFINED_TABLE/)
    expect(r.stdout + r.stderr).toContain('ERROR: relation "no_such_table" does not exist (SQLSTATE 42P01)')
    expect(fs.readFileSync(b.log, "utf8")).toContain('"sqlState":"42P01"')
    expect(r.stdout + r.stderr + fs.readFileSync(b.log, "utf8")).not.toContain(inject("postgres").password)
  })

  it("read rules are analysed side by side: both wait on the database at once", async () => {
    // Both tables locked by a transaction of the test's: Spark's question for a table's columns
    // (`SELECT * FROM t WHERE 1=0`) then waits in PostgreSQL until the lock goes. Analysed one
    // after the other, only the first rule's question would ever wait there.
    const [first, second, locker] = [unique("first"), unique("second"), unique("locker")]
    await Effect.runPromise(psql(`CREATE TABLE ${first} (n integer); CREATE TABLE ${second} (n integer);`))
    // An open psql session whose transaction holds the locks until the test commits it.
    const pg = inject("postgres")
    const holder = spawn(
      path.join(LocalPostgres.binDir() ?? "/usr/bin", "psql"),
      [
        "--no-psqlrc",
        "--quiet",
        `--host=${pg.host}`,
        `--port=${pg.port}`,
        `--username=${pg.user}`,
        `--dbname=${pg.database}`
      ],
      {
        env: { ...process.env, PGPASSWORD: pg.password, PGAPPNAME: locker },
        stdio: ["pipe", "ignore", "inherit"]
      }
    )
    const ended = new Promise<void>((resolve) => {
      holder.on("close", () => resolve())
      holder.on("error", () => resolve())
    })
    holder.stdin.write(`BEGIN; LOCK TABLE ${first}, ${second} IN ACCESS EXCLUSIVE MODE;\n`)
    const release = async () => {
      if (holder.stdin.writable) holder.stdin.end("COMMIT;\n")
      await ended
    }
    try {
      await Effect.runPromise(
        until(
          Effect.map(
            psql(
              `SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a USING (pid) WHERE a.application_name = '${locker}' AND l.mode = 'AccessExclusiveLock' AND l.granted`
            ),
            (out) => Number(out.trim()) >= 2
          ),
          { what: "the test's lock on both tables", within: "30 seconds", every: "100 millis" }
        )
      )
      const connection = `url: ${pg.jdbcUrl}\n      user: ${pg.user}\n      password: { param: db_password }`
      const b = batchIn(`batch: jdbc_side_by_side
plugins: ["@spark-etl/runner-jdbc"]
parameters:
  db_password: { type: string, env: E2E_DB_PASSWORD, secret: true }
rules:
  - id: read_first
    kind: jdbc
    options:
      ${connection}
      read: { table: ${first} }
  - id: read_second
    kind: jdbc
    options:
      ${connection}
      read: { table: ${second} }
  - id: both
    kind: sql
    depends_on: [read_first, read_second]
    options:
      sql: SELECT * FROM read_first UNION ALL SELECT * FROM read_second
`)
      const running = runBatch(b)
      // Each rule's connections carry its id in their application name (see internal/cancel).
      await Effect.runPromise(
        until(
          Effect.map(
            psql(
              `SELECT string_agg(application_name, ' ') FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND application_name LIKE 'spark-etl.%'`
            ),
            (out) => out.includes("spark-etl.read_first.") && out.includes("spark-etl.read_second.")
          ),
          {
            what: "both rules' questions waiting on the lock at once",
            within: "90 seconds",
            every: "200 millis"
          }
        )
      )
      await release()
      const r = await running
      expect(r.code, r.stderr + r.stdout).toBe(0)
      expect(summary(r.stdout)).toMatch(/^spark-etl SUCCEEDED batch=jdbc_side_by_side /)
    } finally {
      await release()
    }
  })
})
