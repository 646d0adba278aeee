// Smoke test: the generated stubs speak to a real Spark Connect server.
import { Effect } from "effect"
import { describe, expect, it } from "vitest"
import { failureOf, session, withSession } from "./harness.js"

describe("Spark Connect server", () => {
  it("answers SELECT 1 with an Arrow table holding 1", async () => {
    const table = await session((spark) =>
      Effect.flatMap(spark.sql("SELECT 1 AS one"), (df) => spark.toArrow(df))
    )
    expect(table.numRows).toBe(1)
    expect(table.schema.fields.map((f) => f.name)).toEqual(["one"])
    expect(table.getChild("one")?.get(0)).toBe(1)
  })

  it("reports an unresolved column as a failed call, not an empty result", async () => {
    const exit = await withSession((spark) =>
      Effect.flatMap(spark.sql("SELECT no_such_column"), (df) => spark.toArrow(df))
    )
    expect(failureOf(exit)).toMatchObject({ errorClass: expect.stringMatching(/^UNRESOLVED_COLUMN/) })
  })
})
