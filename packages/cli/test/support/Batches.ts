/**
 * Batch files the e2e tests and the fault benchmark share. Plain text builders, no vitest, so a
 * benchmark run by plain node can use them too.
 */

// One rule scanning `range(0, rows)` on one partition, keeping the ids with `id % 7 = residue`,
// and expecting at least one row.
const oneScan = (name: string, rows: string, residue: number): string => `batch: ${name}
targets:
  roots: [output]
rules:
  - id: endless
    kind: sql
    options:
      sql: SELECT id FROM range(0, ${rows}, 1, 1) WHERE id % 7 = ${residue}
      expect:
        row_count: { min: 1 }
`

/**
 * A batch whose one rule scans forever on one partition (`id % 7 = 13` never holds, so it never
 * finds its row): a Spark operation that runs until something stops it, so a fault lands mid-rule.
 */
export const endless = (name: string): string => oneScan(name, "100000000000", 13)

/**
 * The same batch made short (a thousand rows, a filter that matches): it ends, and succeeds. The
 * rerun of an {@link endless} batch in the same state dir, after a crash.
 */
export const short = (name: string): string => oneScan(name, "1000", 6)

/** A valid batch of two rules, `b` depending on `a`, each a constant SELECT. */
export const twoRules = (name: string): string => `batch: ${name}
rules:
  - id: a
    kind: sql
    options: { sql: SELECT 1 }
  - id: b
    kind: sql
    depends_on: [a]
    options: { sql: SELECT 2 }
`

/** A batch whose rules depend on each other: rejected (exit 3). */
export const cyclic = `batch: cyclic
rules:
  - id: a
    kind: sql
    depends_on: [b]
    options: { sql: SELECT 1 }
  - id: b
    kind: sql
    depends_on: [a]
    options: { sql: SELECT 2 }
`
