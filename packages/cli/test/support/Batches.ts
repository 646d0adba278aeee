/** Batch files the e2e tests and the fault bench share (no vitest inside, as in Clients.ts). */

/**
 * A batch whose one rule scans `rows` ids on one partition, keeping those with `id % 7 ===
 * residue`. By default the scan never ends in practice and matches nothing: a Spark operation
 * that runs until something stops it, so every fault lands mid-rule.
 */
export const endless = (name: string, rows = "100000000000", residue = 13): string => `batch: ${name}
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
