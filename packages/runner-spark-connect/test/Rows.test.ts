import { create } from "@bufbuild/protobuf"
import { Field, Int32, makeData, RecordBatch, Schema, Struct, Table, vectorFromArray } from "apache-arrow"
import { Result } from "effect"
import { describe, expect, it } from "vitest"
import { DataTypeSchema } from "../src/generated/spark/connect/types_pb.js"
import * as Variant from "../src/internal/Variant.js"
import * as Rows from "../src/Rows.js"

// ISO text from JS Date, which is exact within its ±100,000,000 days.
const viaDate = (ms: number) => {
  const text = new Date(ms).toISOString()
  return text.slice(0, text.indexOf("T"))
}

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

  it("writes dates as JS Date does over its whole range, and beyond it", () => {
    for (let days = -100_000_000; days <= 100_000_000; days += 9973)
      expect(Rows.isoDate(days)).toBe(viaDate(days * 86_400_000))
    for (let days = -800_000; days <= 3_000_000; days += 1) {
      const ours = Rows.isoDate(days)
      if (ours !== viaDate(days * 86_400_000)) expect(ours).toBe(viaDate(days * 86_400_000))
    }
    expect(Rows.isoDate(2_932_897)).toBe("+010000-01-01")
    expect(Rows.isoDate(-719_529)).toBe("-000001-12-31")
    expect(Rows.isoDate(2_147_483_647)).toBe("+5881580-07-11")
    expect(Rows.isoDate(-2_147_483_648)).toBe("-5877641-06-23")
  })

  it("writes timestamps exactly to the microsecond over the whole int64 range", () => {
    expect(Rows.isoMicros(253402300800123456n)).toBe("+010000-01-01T00:00:00.123456")
    expect(Rows.isoMicros(-62167219200000001n)).toBe("-000001-12-31T23:59:59.999999")
    expect(Rows.isoMicros(9223372036854775807n)).toBe("+294247-01-10T04:00:54.775807")
    expect(Rows.isoMicros(-9223372036854775808n)).toBe("-290308-12-21T19:59:05.224192")
  })
})

describe("Rows names", () => {
  const ints = (n: number) => vectorFromArray([n], new Int32())
  const batch = (names: ReadonlyArray<string>) =>
    new RecordBatch(
      new Schema(names.map((n) => new Field(n, new Int32()))),
      makeData({
        type: new Struct(names.map((n) => new Field(n, new Int32()))),
        length: 1,
        children: names.map((_, i) => ints(i).data[0]!)
      })
    )

  it("refuses a repeated column with Spark's COLUMN_ALREADY_EXISTS", () => {
    const result = Rows.fromBatch(batch(["a", "b", "a"]))
    expect(Result.isFailure(result) && result.failure).toMatchObject({
      _tag: "SparkAnalysisError",
      errorClass: "COLUMN_ALREADY_EXISTS",
      messageParameters: { columnName: "`a`" }
    })
    expect(Result.isFailure(Rows.fromTable(new Table([batch(["x", "x"])])))).toBe(true)
  })

  it("checks struct fields on Spark's schema, whose names Arrow does not keep", () => {
    const spark = create(DataTypeSchema, {
      kind: {
        case: "struct",
        value: {
          fields: [
            {
              name: "s",
              nullable: true,
              dataType: {
                kind: {
                  case: "struct",
                  value: {
                    fields: ["a`b", "a`b"].map((name) => ({
                      name,
                      nullable: true,
                      dataType: { kind: { case: "integer" as const, value: {} } }
                    }))
                  }
                }
              }
            }
          ]
        }
      }
    })
    const result = Rows.checkNames([], spark)
    expect(Result.isFailure(result) && result.failure.messageParameters).toEqual({ columnName: "`s`.`a``b`" })
  })

  it("makes rows whose keys are own fields, __proto__ included", () => {
    const rows = Result.getOrThrow(Rows.fromBatch(batch(["__proto__", "constructor"])))
    expect(Object.keys(rows[0]!)).toEqual(["__proto__", "constructor"])
    expect(Object.getPrototypeOf(rows[0]!)).toBe(Rows.rowPrototype)
    expect(Object.isFrozen(Rows.rowPrototype)).toBe(true)
  })
})

describe("Variant decoding", () => {
  // {"a":1} as Spark encodes it: an object of one field id 0 whose value is int8 1.
  const value = new Uint8Array([2, 1, 0, 0, 2, 12, 1])
  const metadata = new Uint8Array([1, 1, 0, 1, 97])

  it("decodes Spark's encoding", () => {
    expect(Variant.decode(value, metadata)).toEqual({ a: 1 })
    expect(Variant.decode(new Uint8Array([(6 << 2) | 1, 104, 195, 169, 108, 108, 111]), metadata)).toBe(
      "héllo"
    )
  })

  it("refuses truncated or unknown bytes", () => {
    expect(() => Variant.decode(value.subarray(0, 5), metadata)).toThrow(Variant.MalformedVariant)
    expect(() => Variant.decode(new Uint8Array([63 << 2]), metadata)).toThrow(Variant.MalformedVariant)
    expect(() => Variant.decode(value, new Uint8Array([2, 0, 0]))).toThrow(Variant.MalformedVariant)
  })
})
