/**
 * Input data for the sample batch: customers.csv and orders.csv for a few days, with the
 * dirt a real feed has (duplicate order lines, missing amounts, negative amounts, unknown
 * statuses), and the answers the batch must produce, computed here in plain TypeScript so the
 * end-to-end test checks Spark's results against an independent computation.
 *
 *   node examples/orders/generate-data.ts [--out DIR] [--orders N] [--days N] [--seed N]
 *
 * Deterministic for a given seed. Runs on Node 24 as is (type stripping), with no dependencies.
 */
import * as fs from "node:fs"
import * as path from "node:path"
import { parseArgs } from "node:util"

const { values } = parseArgs({
  options: {
    out: { type: "string", default: path.join(import.meta.dirname, "data") },
    orders: { type: "string", default: "2000" },
    days: { type: "string", default: "3" },
    seed: { type: "string", default: "42" },
    "first-day": { type: "string", default: "2026-11-24" }
  }
})

// mulberry32: a small, well-known PRNG, so the data is the same on every machine.
const random = (() => {
  let a = Number(values.seed) >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
})()
const pick = <A>(xs: ReadonlyArray<A>): A => xs[Math.floor(random() * xs.length)]!

const countries = ["FR", "DE", "US", "JP", "BR"]
const segments = ["retail", "corporate", "public"]
const statuses = ["COMPLETED", "COMPLETED", "COMPLETED", "SHIPPED", "CANCELLED"]
const customerCount = 50
const orderCount = Number(values.orders)
const days = Array.from({ length: Number(values.days) }, (_, i) => {
  const d = new Date(`${values["first-day"]}T00:00:00Z`)
  d.setUTCDate(d.getUTCDate() + i)
  return d.toISOString().slice(0, 10)
})

const customers = Array.from({ length: customerCount }, (_, i) => ({
  customer_id: `C${String(i + 1).padStart(4, "0")}`,
  name: `Customer ${i + 1}`,
  country: pick(countries),
  segment: pick(segments)
}))

interface Order {
  order_id: string
  customer_id: string
  order_date: string
  amount_cents: number | null
  status: string
}

const orders: Array<Order> = []
for (let i = 0; i < orderCount; i++) {
  const dirt = random()
  const order: Order = {
    order_id: `O${String(i + 1).padStart(7, "0")}`,
    customer_id: pick(customers).customer_id,
    order_date: pick(days),
    amount_cents: 100 + Math.floor(random() * 99_900),
    status: pick(statuses)
  }
  if (dirt < 0.02) order.amount_cents = null
  else if (dirt < 0.03) order.amount_cents = -order.amount_cents!
  else if (dirt < 0.04) order.status = "UNKNOWN"
  orders.push(order)
  if (random() < 0.03) orders.push({ ...order }) // the feed repeats some lines
}

const money = (cents: number | null) => (cents === null ? "" : (cents / 100).toFixed(2))
const csv = (header: ReadonlyArray<string>, rows: ReadonlyArray<ReadonlyArray<string>>) =>
  [header.join(","), ...rows.map((r) => r.join(","))].join("\n") + "\n"

// What the batch must keep: one line per order id, a known positive amount, a real status,
// not cancelled. These rules mirror the SQL in the batch, written independently.
const seen = new Set<string>()
const clean = orders.filter((o) => {
  if (seen.has(o.order_id)) return false
  seen.add(o.order_id)
  return o.amount_cents !== null && o.amount_cents > 0 && (o.status === "COMPLETED" || o.status === "SHIPPED")
})

const daily = new Map<string, { orders: number; cents: number }>()
for (const o of clean) {
  const d = daily.get(o.order_date) ?? { orders: 0, cents: 0 }
  daily.set(o.order_date, { orders: d.orders + 1, cents: d.cents + o.amount_cents! })
}
const byCustomer = new Map<string, number>()
for (const o of clean) byCustomer.set(o.customer_id, (byCustomer.get(o.customer_id) ?? 0) + o.amount_cents!)
const country = new Map(customers.map((c) => [c.customer_id, c.country]))
const ranking = [...byCustomer.entries()]
  .map(([customer_id, cents]) => ({
    customer_id,
    country: country.get(customer_id)!,
    total: money(cents),
    cents
  }))
  .sort((a, b) =>
    a.country < b.country
      ? -1
      : a.country > b.country
        ? 1
        : b.cents - a.cents || (a.customer_id < b.customer_id ? -1 : 1)
  )

const out = path.resolve(values.out)
fs.mkdirSync(path.join(out, "expected"), { recursive: true })
fs.writeFileSync(
  path.join(out, "customers.csv"),
  csv(
    ["customer_id", "name", "country", "segment"],
    customers.map((c) => [c.customer_id, c.name, c.country, c.segment])
  )
)
fs.writeFileSync(
  path.join(out, "orders.csv"),
  csv(
    ["order_id", "customer_id", "order_date", "amount", "status"],
    orders.map((o) => [o.order_id, o.customer_id, o.order_date, money(o.amount_cents), o.status])
  )
)
const expected = {
  orders_in_feed: orders.length,
  clean_orders: clean.length,
  daily_totals: [...daily.entries()]
    .sort(([a], [b]) => (a < b ? -1 : 1))
    .map(([order_date, d]) => ({ order_date, orders: d.orders, total: money(d.cents) })),
  top_customer_per_country: Object.fromEntries(
    [...new Set(ranking.map((r) => r.country))].sort().map((c) => {
      const top = ranking.find((r) => r.country === c)!
      return [c, { customer_id: top.customer_id, total: top.total }]
    })
  )
}
fs.writeFileSync(path.join(out, "expected", "results.json"), JSON.stringify(expected, null, 2) + "\n")
console.log(
  `wrote ${orders.length} order lines (${clean.length} clean) and ${customers.length} customers to ${out}`
)
