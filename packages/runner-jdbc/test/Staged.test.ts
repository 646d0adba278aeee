// The staged load's statements: the staging table's name, and the one transaction of the swap.
import { describe, expect, it } from "vitest"
import * as Staged from "../src/internal/staged.js"

describe("Staged", () => {
  it("names the staging table beside the target, within PostgreSQL's 63 bytes", () => {
    expect(Staged.stageName("reporting.daily")).toBe("reporting.daily__spark_etl_stage")
    expect(Staged.stageName("daily")).toBe("daily__spark_etl_stage")
    const long = Staged.stageName(`db.s.${"x".repeat(80)}`)
    expect(long.split(".")[2]).toHaveLength(63)
  })

  it("replaces the key range of the staged rows, or every row, in one transaction that drops the stage", () => {
    const stage = "s.t__spark_etl_stage"
    expect(Staged.swap({ from: "a", table: "s.t", mode: "delete_key_range", key: "day" }, stage)).toBe(
      `BEGIN; DELETE FROM s.t WHERE day BETWEEN (SELECT min(day) FROM ${stage}) AND (SELECT max(day) FROM ${stage}); INSERT INTO s.t SELECT * FROM ${stage}; DROP TABLE ${stage}; COMMIT`
    )
    expect(Staged.swap({ from: "a", table: "s.t", atomic: true }, stage)).toBe(
      `BEGIN; TRUNCATE TABLE s.t; INSERT INTO s.t SELECT * FROM ${stage}; DROP TABLE ${stage}; COMMIT`
    )
  })
})
