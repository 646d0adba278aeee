// The mission's main path, end to end: the CLI as a child process on real Spark and Kafka.
import * as fs from "node:fs"
import * as path from "node:path"
import { describe, expect, it } from "vitest"
import { events, logLines, ofType, readBack, runSample, sampleBatch, topic } from "./harness.js"

interface Expected {
  readonly clean_orders: number
  readonly daily_totals: ReadonlyArray<{ order_date: string; orders: number; total: string }>
  readonly top_customer_per_country: Readonly<Record<string, { customer_id: string; total: string }>>
}

const outputsOf = async (dir: string) => {
  const out = (name: string) => path.join(dir, "output", name)
  const daily = await readBack(
    { daily_totals: out("daily_totals") },
    "SELECT CAST(order_date AS STRING) AS order_date, CAST(orders AS INT) AS orders, CAST(total AS STRING) AS total FROM daily_totals ORDER BY order_date"
  )
  const clean = await readBack(
    { orders_clean: out("orders_clean") },
    "SELECT count(*) AS n, count(DISTINCT order_id) AS d FROM orders_clean"
  )
  const top = await readBack(
    { customer_ranking: out("customer_ranking") },
    "SELECT country, customer_id, CAST(total AS STRING) AS total FROM customer_ranking WHERE rank = 1 ORDER BY country"
  )
  return { daily, clean: clean[0], top }
}

describe("spark-etl run", () => {
  it("runs the sample batch: every output equals the independently computed answer, one batch.succeeded", async () => {
    const s = sampleBatch()
    const t = await topic("success")
    const r = await runSample(s, t)
    expect(r.code, r.stderr).toBe(0)
    expect(r.stdout.trim().split("\n").at(-1)).toMatch(
      /^spark-etl SUCCEEDED batch=orders_daily run=\S+ exit=0 .*log=\S+$/
    )

    const expected = JSON.parse(
      fs.readFileSync(path.join(s.dir, "data", "expected", "results.json"), "utf8")
    ) as Expected
    const outputs = await outputsOf(s.dir)
    expect(outputs.daily).toEqual(expected.daily_totals)
    expect(outputs.clean).toEqual({ n: BigInt(expected.clean_orders), d: BigInt(expected.clean_orders) })
    expect(
      Object.fromEntries(
        outputs.top.map((row) => [row["country"], { customer_id: row["customer_id"], total: row["total"] }])
      )
    ).toEqual(expected.top_customer_per_country)

    const all = events(t)
    expect(all.every((e) => e.key === "orders_daily")).toBe(true)
    expect(ofType(all, "batch.started")).toHaveLength(1)
    expect(ofType(all, "batch.succeeded")).toHaveLength(1)
    expect(ofType(all, "rule.succeeded")).toHaveLength(7)
    expect(all.at(-1)?.value["type"]).toBe("spark-etl.batch.succeeded")
  })

  it("reruns after a failed run: the outputs hold each row exactly once, no residue", async () => {
    const s = sampleBatch()
    const t = await topic("rerun")
    // First run fails mid-way: a rule after orders_clean divides by zero.
    const batch = fs.readFileSync(s.batch, "utf8")
    fs.writeFileSync(
      s.batch,
      batch.replace(
        "SELECT order_date, count(*) AS orders, sum(amount) AS total",
        "SELECT order_date, count(*) AS orders, sum(amount) / 0 AS total"
      )
    )
    const failed = await runSample(s, t)
    expect(failed.code, failed.stderr).toBe(1)
    expect(fs.existsSync(path.join(s.dir, "output", "orders_clean"))).toBe(true)

    fs.writeFileSync(s.batch, batch)
    const first = await runSample(s, t)
    expect(first.code, first.stderr).toBe(0)
    const second = await runSample(s, t)
    expect(second.code, second.stderr).toBe(0)

    const expected = JSON.parse(
      fs.readFileSync(path.join(s.dir, "data", "expected", "results.json"), "utf8")
    ) as Expected
    const outputs = await outputsOf(s.dir)
    expect(outputs.clean).toEqual({ n: BigInt(expected.clean_orders), d: BigInt(expected.clean_orders) })
    expect(outputs.daily).toEqual(expected.daily_totals)
  })

  it("writes an error line to its JSON log for a failure", async () => {
    const s = sampleBatch()
    const t = await topic("log")
    fs.writeFileSync(
      s.batch,
      fs.readFileSync(s.batch, "utf8").replace("FROM orders_feed", "FROM orders_feed_missing")
    )
    const r = await runSample(s, t)
    expect(r.code).toBe(1)
    const lines = logLines(r.stdout)
    expect(
      lines.some(
        (l) =>
          (l["level"] === "warn" || l["level"] === "error") &&
          String(l["msg"]).includes("TABLE_OR_VIEW_NOT_FOUND")
      )
    ).toBe(true)
    expect(lines.every((l) => l["runId"] !== undefined)).toBe(true)
  })
})
