/**
 * The soak's batch: four SQL rules with dependencies, each writing a small Parquet target, one
 * of them a single-partition range scan slow enough (a second or more) for faults to land
 * mid-rule. Its exact outputs are computed here, in TypeScript, never by asking Spark.
 */
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"

export const batchName = "soak"

/** Rows of the scan's range; the only knob of the slow rule's duration. */
const scanRows = 1_000_000_000n
const numbersUpTo = 40

const yaml = `batch: ${batchName}
engine:
  parallelism: 1
  settings:
    spark.sql.shuffle.partitions: "1"
targets:
  roots: [output]
rules:
  - id: numbers
    kind: sql
    target: output/numbers
    options:
      sql: SELECT id AS n FROM range(1, ${numbersUpTo + 1})
  - id: squares
    kind: sql
    depends_on: [numbers]
    target: output/squares
    options:
      sql: SELECT n, n * n AS sq, n % 3 AS grp FROM numbers
  - id: scan
    kind: sql
    depends_on: [numbers]
    target: output/scan
    options:
      # One partition: the scan runs on one task slot for a while, whatever the core count.
      sql: SELECT count(*) AS hits FROM range(0, ${scanRows}, 1, 1) WHERE id % 7 = 3
      cache: true
  - id: summary
    kind: sql
    depends_on: [squares, scan]
    target: output/summary
    options:
      sql: |
        SELECT s.grp, count(*) AS cnt, sum(s.sq) AS total, max(c.hits) AS hits
        FROM squares s CROSS JOIN scan c GROUP BY s.grp
`

export const ruleIds = ["numbers", "squares", "scan", "summary"] as const
export type RuleId = (typeof ruleIds)[number]

type Row = Readonly<Record<string, bigint>>

const numbers: ReadonlyArray<bigint> = Array.from({ length: numbersUpTo }, (_, i) => BigInt(i + 1))
// ids in [0, scanRows) with id % 7 = 3: 3, 10, 17, …
const hits = (scanRows - 3n + 6n) / 7n
const squares: ReadonlyArray<Row> = numbers.map((n) => ({ n, sq: n * n, grp: n % 3n }))

/** Every target's exact rows. */
export const expected: Readonly<Record<RuleId, ReadonlyArray<Row>>> = {
  numbers: numbers.map((n) => ({ n })),
  squares,
  scan: [{ hits }],
  summary: [0n, 1n, 2n].map((grp) => {
    const group = squares.filter((s) => s.grp === grp)
    return {
      grp,
      cnt: BigInt(group.length),
      total: group.reduce((sum, s) => sum + (s.sq ?? 0n), 0n),
      hits
    }
  })
}

/** One row as canonical text: columns sorted, every value as its decimal text. */
export const canonical = (row: Readonly<Record<string, unknown>>): string =>
  Object.keys(row)
    .sort()
    .map((k) => {
      const v = row[k]
      return `${k}=${typeof v === "bigint" || typeof v === "number" ? v.toString() : JSON.stringify(v)}`
    })
    .join(",")

/** The batch in a fresh folder: batch file, `output/` root, state dir. */
export const create = (): { readonly dir: string; readonly batch: string; readonly stateDir: string } => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "spark-etl-soak-"))
  fs.mkdirSync(path.join(dir, "output"))
  const batch = path.join(dir, `${batchName}.yaml`)
  fs.writeFileSync(batch, yaml)
  return { dir, batch, stateDir: path.join(dir, "state") }
}
