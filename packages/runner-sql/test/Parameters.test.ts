import { describe, expect, it } from "vitest"
import * as Parameters from "../src/Parameters.js"

describe("Parameters.references", () => {
  it("finds :name markers with their lines", () => {
    expect(Parameters.references("SELECT *\nFROM t\nWHERE day = :run_date AND n > :min_n")).toEqual([
      { name: "run_date", line: 3 },
      { name: "min_n", line: 3 }
    ])
  })

  it("ignores markers in strings, quoted identifiers and comments", () => {
    const sql = "SELECT ':a', \":b\", `:c` -- :d\n/* :e\n */ FROM t WHERE x = :f"
    expect(Parameters.references(sql)).toEqual([{ name: "f", line: 3 }])
  })

  it("ignores the :: cast and semi-structured paths", () => {
    expect(Parameters.references("SELECT x::int, v:field, f(v):a, arr[0]:b, :real FROM t")).toEqual([
      { name: "real", line: 1 }
    ])
  })

  it("lists each name once in names()", () => {
    expect(Parameters.names("SELECT :a, :b, :a")).toEqual(["a", "b"])
  })
})

describe("Parameters.bind", () => {
  const values = {
    run_date: { type: "date", value: "2026-11-26", text: "2026-11-26" },
    n: { type: "int", value: 7, text: "7" },
    big: { type: "int", value: 5_000_000_000, text: "5000000000" },
    flag: { type: "boolean", value: false, text: "false" },
    unused: { type: "string", value: "u", text: "u" }
  } as const

  it("binds only the parameters a statement references, each in its Spark type", () => {
    expect(Parameters.bind("SELECT :run_date, :n, :big, :flag", values)).toEqual({
      run_date: "2026-11-26",
      n: 7,
      big: 5_000_000_000n,
      flag: false
    })
  })

  it("binds NULL for a declared parameter that has no value", () => {
    expect(Parameters.bind("SELECT :absent", values)).toEqual({ absent: null })
  })

  it("reports references to undeclared names", () => {
    expect(Parameters.undeclared("SELECT :n,\n:nope", ["n"])).toEqual([{ name: "nope", line: 2 }])
  })
})
