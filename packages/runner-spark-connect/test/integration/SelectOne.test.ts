// Smoke test: the generated stubs speak to a real Spark Connect server.
import { Effect } from "effect"
import { describe, expect, inject, it } from "vitest"
import * as Sql from "../../src/Sql.js"

describe("Spark Connect server", () => {
  it("answers ExecutePlan of SELECT 1 with an Arrow batch holding 1", async () => {
    const table = await Effect.runPromise(Sql.collect(inject("sparkRemote"), "SELECT 1 AS one"))
    expect(table.numRows).toBe(1)
    expect(table.schema.fields.map((f) => f.name)).toEqual(["one"])
    expect(table.getChild("one")?.get(0)).toBe(1)
  })

  it("reports an unresolved column as a failed call, not an empty result", async () => {
    const exit = await Effect.runPromiseExit(Sql.collect(inject("sparkRemote"), "SELECT no_such_column"))
    expect(exit._tag).toBe("Failure")
    expect(JSON.stringify(exit)).toContain("UNRESOLVED_COLUMN")
  })
})
