import { Result } from "effect"
import { describe, expect, it } from "vitest"
import * as Parameter from "../src/Parameter.js"

const ok = (spec: Parameter.Spec, raw: string | number | boolean) => {
  const r = Parameter.parse(spec, raw)
  if (Result.isFailure(r)) throw new Error(r.failure)
  return r.success.value
}
const bad = (spec: Parameter.Spec, raw: string) => {
  const r = Parameter.parse(spec, raw)
  if (Result.isSuccess(r)) throw new Error(`accepted ${raw}`)
  return r.failure
}

describe("Parameter", () => {
  it("parses each type to its value, refusing what does not fit", () => {
    expect(ok({ type: "int" }, "-42")).toBe(-42)
    expect(ok({ type: "int" }, 7)).toBe(7)
    expect(bad({ type: "int" }, "4.2")).toBe('expected an integer, got "4.2"')
    expect(bad({ type: "int" }, "99999999999999999999")).toBe("integer out of range: 99999999999999999999")
    expect(ok({ type: "date" }, "2028-02-29")).toBe("2028-02-29")
    expect(bad({ type: "date" }, "2026-02-29")).toBe('expected a date YYYY-MM-DD, got "2026-02-29"')
    expect(bad({ type: "date" }, "2026-11-26' OR 1=1 --")).toMatch(/^expected a date/)
    expect(ok({ type: "timestamp" }, "2026-11-26T03:00:00.123+01:00")).toBe("2026-11-26T03:00:00.123+01:00")
    expect(ok({ type: "timestamp" }, "2026-11-26 03:00:00")).toBe("2026-11-26 03:00:00")
    expect(bad({ type: "timestamp" }, "2026-11-26T24:00:00Z")).toMatch(/^expected an ISO-8601 timestamp/)
    expect(ok({ type: "boolean" }, "false")).toBe(false)
    expect(bad({ type: "boolean" }, "yes")).toBe('expected true or false, got "yes"')
    expect(ok({ type: "enum", values: ["EU", "US"] }, "US")).toBe("US")
    expect(bad({ type: "enum", values: ["EU", "US"] }, "eu")).toBe('expected one of "EU", "US", got "eu"')
    expect(ok({ type: "string" }, "it's; drop table x")).toBe("it's; drop table x")
  })

  it("is required unless it has a default or says otherwise", () => {
    expect(Parameter.isRequired({ type: "date" })).toBe(true)
    expect(Parameter.isRequired({ type: "date", default: "2026-01-01" })).toBe(false)
    expect(Parameter.isRequired({ type: "date", required: false })).toBe(false)
  })
})
