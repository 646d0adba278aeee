// Per-rule retry on real Spark and Kafka, through the built CLI. A transient failure (the link to
// Spark cut mid-rule, for longer than the client's own retry budget) that `retry.on` covers is
// retried once and the batch succeeds; the failed attempt's work on the server is stopped before
// the retry runs. A SQL analysis error is never retried, whatever `retry.on` says.
import { NodeServices } from "@effect/platform-node"
import { ConnectionString, SparkSession } from "@spark-etl/runner-spark-connect"
import { SqlRunner } from "@spark-etl/runner-sql"
import { Effect, Exit, Scope } from "effect"
import { randomUUID } from "node:crypto"
import * as fs from "node:fs"
import * as path from "node:path"
import { describe, expect, it } from "vitest"
import {
  batchFile,
  cli,
  eventually,
  events,
  ledgerRecord,
  logLines,
  ofType,
  readBack,
  runArgs,
  runIdOf,
  spark,
  start,
  summary,
  topic,
  waitFor,
  within
} from "./harness.js"
import * as Proxy from "./proxy.js"

// The client's deadline of each Spark call and its retry budget, in seconds (`--spark-timeout`):
// the cut outlasts it, so the rule fails as a system failure instead of riding it out.
const sparkTimeout = 3

/** A session of the test's own on `remote`: plain SQL, rows back; closed (released) at the end. */
const session = async (remote: string) => {
  const scope = Effect.runSync(Scope.make())
  const opened = await Effect.runPromiseExit(
    SparkSession.make({ remote }).pipe(Scope.provide(scope), Effect.provide(NodeServices.layer))
  )
  if (Exit.isFailure(opened)) {
    await Effect.runPromise(Scope.close(scope, Exit.void))
    throw new Error(`no session on ${remote}: ${String(opened.cause)}`)
  }
  const s = opened.value
  return {
    rows: (sql: string) => Effect.runPromise(Effect.flatMap(s.sql(sql), (df) => s.collect(df))),
    close: () => Effect.runPromise(Scope.close(scope, Exit.void))
  }
}

const reflect = (target: string, method: string, ...args: ReadonlyArray<string>) =>
  `reflect('java.lang.${target}', '${method}', ${args.join(", ")})`

/**
 * A filter that holds every row but first waits, row by row, on a gate: the JVM system property
 * `<key>.open`, holding a time stamp (epoch ms on the server's clock). An execution that started
 * before the gate's stamp — or while it is unset — sleeps 50 ms per row (so a scan of n rows on one
 * partition waits up to n × 50 ms); one that started at or after it passes at once. The first
 * attempt therefore stays blocked even after the gate opens (only an interrupt ends it: its task
 * sleeps, and a cancel interrupts a sleep at once), and every later execution passes. Each row
 * stamps `<key>.running` with its execution's start: the server's word that the query runs.
 * Sees the driver's JVM only: a local server (dev and CI).
 */
const gate = (key: string) => {
  const startedAt = "unix_millis(current_timestamp())"
  const stamp = reflect("System", "setProperty", `'${key}.running'`, `CAST(${startedAt} AS STRING)`)
  // reflect answers a null as the text 'null': try_cast makes it (and any other text) a NULL.
  const opened = `coalesce(try_cast(${reflect("System", "getProperty", `'${key}.open'`)} AS BIGINT) <= ${startedAt}, false)`
  const sleep = reflect("Thread", "sleep", "CAST(50 AS BIGINT)")
  // Always true, but Spark cannot know it: nothing is folded away, every row evaluates it.
  const filter = `length(concat('x', coalesce(${stamp}, ''), coalesce(CASE WHEN ${opened} THEN 'open' ELSE ${sleep} END, ''))) > 0`
  const property = (method: string, suffix: string) =>
    `SELECT ${reflect("System", method, `'${key}.${suffix}'`)} AS value FROM VALUES (1) AS t(x)`
  return {
    filter,
    /** Reads the `running` stamp (the text 'null' until an execution ran a row). */
    running: property("getProperty", "running"),
    /** Opens the gate for every execution that starts from now on. */
    open: `SELECT ${reflect("System", "setProperty", `'${key}.open'`, `CAST(${startedAt} AS STRING)`)} AS value FROM VALUES (1) AS t(x)`,
    clear: [property("clearProperty", "running"), property("clearProperty", "open")]
  }
}

// The loop's length: 2400 rows of 50 ms, two minutes at most for an execution the gate holds.
const steps = 2400

// An upstream rule, a rule that waits on the gate (and writes its own target), and a downstream
// rule that totals it into a Parquet target.
const gatedBatch = (name: string, filter: string) => `batch: ${name}
engine:
  parallelism: 1
targets:
  roots: [output]
rules:
  - id: steps
    kind: sql
    options:
      sql: SELECT id FROM range(0, ${steps}, 1, 1)
  - id: gated
    kind: sql
    depends_on: [steps]
    target: output/gated
    retry: { attempts: 3, delay: 5s, on: [system] }
    options:
      sql: |
        SELECT id FROM steps
        WHERE ${filter}
  - id: totals
    kind: sql
    depends_on: [gated]
    target: output/totals
    options:
      sql: SELECT count(*) AS n, sum(id) AS total FROM gated
`

/** The `running` stamp of a gate: the start (epoch ms) of the last execution to evaluate a row, or "null". */
const stampOf = async (
  own: Awaited<ReturnType<typeof session>>,
  g: ReturnType<typeof gate>
): Promise<string> => String((await own.rows(g.running))[0]?.["value"])

/** The host and port of an `sc://host:port/…` remote, and the remote through another port. */
const addressOf = (remote: string) => {
  const m = /^sc:\/\/([^:/]+):(\d+)(.*)$/.exec(remote)
  if (m === null) throw new Error(`not an sc://host:port remote: ${remote}`)
  return {
    host: m[1] ?? "",
    port: Number(m[2]),
    via: (port: number) => `sc://127.0.0.1:${port}${m[3] ?? ""}`
  }
}

describe("retry of a rule", () => {
  it("a transient failure covered by retry.on: retried once, the batch succeeds, the first attempt stopped on the server", async () => {
    const name = "retry_transient"
    const key = `spark_etl_e2e_retry_${randomUUID().replaceAll("-", "")}`
    const g = gate(key)
    const b = batchFile(gatedBatch(name, g.filter))
    const t = await topic(name)
    const shared = addressOf(spark())
    const proxy = await Proxy.start({ host: shared.host, port: shared.port })
    const own = await session(spark())
    const run = start(
      runArgs(b, t, { remote: shared.via(proxy.port), extra: ["--spark-timeout", String(sparkTimeout)] })
    )
    try {
      // The gated rule's query runs on the server (its rows stamp the property) — then the cut.
      let firstAttempt = "null"
      const running = await eventually(async () => {
        if (run.child.exitCode !== null) return true
        firstAttempt = await stampOf(own, g)
        return firstAttempt !== "null"
      }, 90_000)
      expect(running && run.child.exitCode === null, run.output()).toBe(true)
      proxy.cut()
      const cutAt = Date.now()

      // The rule fails once the client's budget is spent, and its retry is announced.
      const retrying = await waitFor(
        () =>
          run.child.exitCode !== null ||
          /\[gated\] rule attempt 1 failed: .*retrying in 5000 ms/.test(run.stderr()),
        60_000
      )
      expect(retrying && run.child.exitCode === null, run.output()).toBe(true)
      const failedAfter = Date.now() - cutAt
      // The client gives up within its budget plus one last call's deadline (and some reporting).
      expect(failedAfter).toBeLessThan(2 * sparkTimeout * 1000 + 5_000)
      // Open the gate for what starts from now on, directly (not through the proxy); then the link.
      await own.rows(g.open)
      proxy.restore()

      const { code } = await within(run.exited, 90_000, "the run to end")
      const stdout = run.stdout()
      const output = run.output()
      console.log(`retry: the rule failed ${failedAfter} ms after the cut; the run took ${summary(stdout)}`)
      expect(code, output).toBe(0)
      expect(summary(stdout)).toMatch(new RegExp(`^spark-etl SUCCEEDED batch=${name} .*exit=0`))

      const all = events(t)
      const retries = ofType(all, "rule.retrying")
      expect(retries, JSON.stringify(retries)).toHaveLength(1)
      expect(retries[0]).toMatchObject({
        ruleId: "gated",
        attempt: 2,
        retryInMs: 5000,
        failure: { category: "system" }
      })
      const succeeded = ofType(all, "rule.succeeded")
      expect(succeeded.find((e) => e["ruleId"] === "gated")).toMatchObject({ attempt: 2 })
      expect(succeeded.find((e) => e["ruleId"] === "totals")).toMatchObject({ attempt: 1 })
      expect(ofType(all, "rule.failed")).toHaveLength(0)
      expect(ofType(all, "batch.succeeded")).toHaveLength(1)
      expect(ofType(all, "batch.failed")).toHaveLength(0)

      // Exactly what one clean pass writes: nothing of the first attempt in the outputs.
      expect(
        await readBack(
          { totals: path.join(b.dir, "output", "totals"), gated: path.join(b.dir, "output", "gated") },
          "SELECT t.n, t.total, (SELECT count(*) FROM gated) AS gated_rows, (SELECT count(DISTINCT id) FROM gated) AS gated_ids FROM totals t"
        )
      ).toEqual([
        {
          n: BigInt(steps),
          total: BigInt((steps * (steps - 1)) / 2),
          gated_rows: BigInt(steps),
          gated_ids: BigInt(steps)
        }
      ])

      const runId = runIdOf(stdout)
      const record = ledgerRecord(b.stateDir, name, runId) as {
        status: string
        engineSessionId?: string
        rules: Record<string, { state: string; attempt: number }>
      }
      expect(record.status).toBe("succeeded")
      expect(record.rules["gated"]).toMatchObject({ state: "succeeded", attempt: 2 })
      expect(record.rules["totals"]).toMatchObject({ state: "succeeded", attempt: 1 })

      // Before the retry: the target was emptied again, and the first attempt's operation — left
      // running on the server when its stream broke, still held by the gate — was interrupted
      // there: the server names what it stopped, and it is the operation the failure names.
      const log = logLines(stdout)
      const messages = log.map((l) => String(l["msg"]))
      expect(messages).toContain(`cleaned target ${path.join(b.dir, "output", "gated")} before the retry`)
      const stoppedLine = log.find((l) =>
        /^rule gated: \d+ operation\(s\) stopped on the server/.test(String(l["msg"]))
      )
      expect(stoppedLine, messages.join("\n")).toBeDefined()
      const stoppedIds = String(stoppedLine?.["operationIds"]).split(",")
      const failure = retries[0]?.["failure"] as { readonly engineDetail?: string }
      const failedOperation = /\boperation ([0-9a-f-]{36})\b/.exec(failure.engineDetail ?? "")?.[1]
      expect(failedOperation, JSON.stringify(failure)).toBeDefined()
      expect(stoppedIds).toEqual([failedOperation])

      // Nothing of the rule runs on the server any more: its tag, on the run's own session
      // (interrupts by tag are per session), stops nothing — or the session is gone.
      const sessionId = record.engineSessionId
      expect(sessionId).toBeDefined()
      const leftOver = await Effect.runPromise(
        Effect.gen(function* () {
          const s = yield* SparkSession.make({
            remote: ConnectionString.withSessionId(spark(), sessionId ?? "")
          })
          return yield* s.interrupt({ tag: SqlRunner.tagFor(runId, "gated") })
        }).pipe(
          Effect.scoped,
          Effect.provide(NodeServices.layer),
          Effect.catch((e) =>
            Effect.succeed(`session gone: ${"errorClass" in e ? String(e.errorClass) : e.message}`)
          )
        )
      )
      console.log(`retry: the rule's tag on the run's session after the run: ${JSON.stringify(leftOver)}`)
      if (typeof leftOver === "string") expect(leftOver).toMatch(/SESSION_CLOSED|SESSION_NOT_FOUND/)
      else expect(leftOver).toEqual([])
      // And no execution of the first attempt stamps the gate any more: were it alive, it would
      // stamp its start again within 50 ms; the last stamp is a later execution's (the retry's, or
      // the downstream rule's reading it).
      const last = await stampOf(own, g)
      expect(Number(last)).toBeGreaterThan(Number(firstAttempt))
    } finally {
      if (run.child.exitCode === null && run.child.signalCode === null) run.child.kill("SIGKILL")
      proxy.restore()
      await proxy.close()
      for (const q of g.clear) await own.rows(q).catch(() => undefined)
      await own.close()
    }
  })

  // `retry.on` lists both categories an analysis error could fall in, yet it is never retried:
  // the same SQL fails the same way.
  const analysisError = (
    name: string,
    upstream: (dir: string) => string,
    broken: (dir: string) => string
  ) => {
    const b = batchFile("")
    fs.writeFileSync(
      b.batch,
      `batch: ${name}
targets:
  roots: [output]
rules:
  - id: steps
    kind: sql
${upstream(b.dir)}
  - id: broken
    kind: sql
    depends_on: [steps]
    retry: { attempts: 3, delay: 1s, on: [system, capturable] }
    options:
      sql: ${broken(b.dir)}
  - id: totals
    kind: sql
    depends_on: [broken]
    target: output/totals
    options:
      sql: SELECT count(*) AS n FROM broken
`
    )
    return b
  }

  // What both cases share: exit 1, a batch.failed with Spark's error class, not one retry.
  const expectNotRetried = async (
    name: string,
    b: ReturnType<typeof batchFile>,
    t: string,
    phase: string
  ) => {
    const r = await cli(runArgs(b, t))
    expect(r.code, r.stderr + r.stdout).toBe(1)
    expect(summary(r.stdout)).toMatch(
      new RegExp(
        `^spark-etl FAILED batch=${name} .*exit=1 category=capturable rule=broken code=UNRESOLVED_COLUMN\\S* phase=${phase}`
      )
    )
    const all = events(t)
    expect(ofType(all, "rule.retrying")).toHaveLength(0)
    expect(ofType(all, "batch.succeeded")).toHaveLength(0)
    const failed = ofType(all, "batch.failed")
    expect(failed).toHaveLength(1)
    expect(failed[0]).toMatchObject({ phase, failure: { category: "capturable", restartMayHelp: false } })
    expect((failed[0]?.["failure"] as { readonly code: string }).code).toMatch(/^UNRESOLVED_COLUMN/)
    expect(r.stderr).not.toMatch(/retrying in/)
    const runId = runIdOf(r.stdout)
    const record = ledgerRecord(b.stateDir, name, runId) as {
      readonly status: string
      readonly rules: Record<string, { readonly state: string; readonly attempt: number }>
    }
    expect(record.status).toBe("failed")
    expect(record.rules["broken"]?.state).toBe("failed")
    expect(record.rules["totals"]?.state).toBe("not_run")
    return { r, all, record, log: logLines(r.stdout).map((l) => String(l["msg"])) }
  }

  it("a missing column, caught by preflight: exit 1 before any rule runs, no retry", async () => {
    const name = "retry_missing_column"
    const b = analysisError(
      name,
      () => "    options:\n      sql: SELECT id FROM range(0, 10)",
      () => "SELECT id, no_such_column FROM steps"
    )
    const t = await topic(name)
    const { all, record, log } = await expectNotRetried(name, b, t, "preflight")
    // Preflight analyses every rule before any runs (and before any target is cleaned): the
    // batch fails there, so no attempt was ever made — nothing to retry, and no retry decision
    // to log. Its proof of "no retry" is that nothing started at all.
    expect(ofType(all, "batch.started")).toHaveLength(0)
    expect(ofType(all, "rule.started")).toHaveLength(0)
    expect(record.rules["broken"]?.attempt).toBe(0)
    expect(log.some((m) => m.includes("not retried"))).toBe(false)
  })

  it("a missing column only the run sees: the rule fails once and is not retried", async () => {
    const name = "retry_missing_column_at_run"
    // `broken` reads the target of `steps` by its path, which this run empties and rewrites:
    // preflight leaves such a rule unanalysed, so its missing column shows only when it runs.
    const b = analysisError(
      name,
      () => "    target: output/steps\n    options:\n      sql: SELECT id FROM range(0, 10)",
      (dir) => `SELECT id, no_such_column FROM parquet.\`${path.join(dir, "output", "steps")}\``
    )
    const t = await topic(name)
    const { all, record, log } = await expectNotRetried(name, b, t, "execution")
    expect(log.some((m) => m.startsWith("preflight: rule broken not analysed"))).toBe(true)
    const started = ofType(all, "rule.started").filter((e) => e["ruleId"] === "broken")
    expect(started).toHaveLength(1)
    const failed = ofType(all, "rule.failed")
    expect(failed).toHaveLength(1)
    expect(failed[0]).toMatchObject({ ruleId: "broken", attempt: 1, failure: { category: "capturable" } })
    expect(record.rules["broken"]?.attempt).toBe(1)
    const warning = log.find((m) => m.startsWith("rule failed: [UNRESOLVED_COLUMN"))
    expect(warning, log.join("\n")).toBeDefined()
    expect(warning).toContain("(not retried: a SQL parse or analysis error is never retried)")
  })
})
