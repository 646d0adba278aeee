import { describe, expect, it } from "vitest"
import * as Rows from "../src/Rows.js"

describe("Rows helpers", () => {
  it.each([
    [1234n, 2, "12.34"],
    [-1234n, 2, "-12.34"],
    [5n, 3, "0.005"],
    [-5n, 3, "-0.005"],
    [0n, 2, "0.00"],
    [123n, 0, "123"],
    [12n, -2, "1200"],
    [99999999999999999999999999999999999999n, 10, "9999999999999999999999999999.9999999999"]
  ])("writes unscaled %s with scale %s as %s", (unscaled, scale, text) => {
    expect(Rows.decimalText(unscaled, scale)).toBe(text)
  })

  it("writes dates and microsecond timestamps exactly, before and after the epoch", () => {
    expect(Rows.isoDate(0)).toBe("1970-01-01")
    expect(Rows.isoDate(19782)).toBe("2024-02-29")
    expect(Rows.isoDate(-1)).toBe("1969-12-31")
    expect(Rows.isoMicros(1704164645123456n)).toBe("2024-01-02T03:04:05.123456")
    expect(Rows.isoMicros(-1n)).toBe("1969-12-31T23:59:59.999999")
    expect(Rows.isoMicros(0n)).toBe("1970-01-01T00:00:00.000000")
  })
})
