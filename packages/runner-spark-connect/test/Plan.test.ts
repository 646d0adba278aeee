import { create } from "@bufbuild/protobuf"
import type { MessageInitShape } from "@bufbuild/protobuf"
import { describe, expect, it } from "vitest"
import { DataTypeSchema } from "../src/generated/spark/connect/types_pb.js"
import {
  WriteOperation_SaveMode,
  WriteOperation_SaveTable_TableSaveMethod
} from "../src/generated/spark/connect/commands_pb.js"
import * as Plan from "../src/internal/Plan.js"

describe("Plan builders", () => {
  it.each([
    ["text", { case: "string", value: "text" }],
    [7, { case: "integer", value: 7 }],
    [2147483648, { case: "double", value: 2147483648 }],
    [0.5, { case: "double", value: 0.5 }],
    [0, { case: "integer", value: 0 }],
    [5n, { case: "long", value: 5n }],
    [false, { case: "boolean", value: false }],
    [new Date(Date.UTC(2024, 0, 2, 3, 4, 5, 6)), { case: "timestamp", value: 1704164645006000n }],
    [new Uint8Array([1, 2]), { case: "binary", value: new Uint8Array([1, 2]) }]
  ] as const)("binds %s as a %o literal", (value, literalType) => {
    expect(Plan.literal(value).literalType).toEqual(literalType)
  })

  it("binds -0 as the double -0.0, not as int 0", () => {
    const bound = Plan.literal(-0).literalType
    expect(bound.case).toBe("double")
    expect(Object.is(bound.value, -0)).toBe(true)
  })

  it("binds null as a typed null literal", () => {
    expect(Plan.literal(null).literalType.case).toBe("null")
  })

  it("puts named and positional parameters where Spark binds them, never into the text", () => {
    const named = Plan.sql("SELECT :a", { a: "x'--" })
    const positional = Plan.sql("SELECT ?, ?", [1, 2])
    if (named.relType.case !== "sql" || positional.relType.case !== "sql")
      throw new Error("sql relation expected")
    expect(named.relType.value.query).toBe("SELECT :a")
    expect(Object.keys(named.relType.value.namedArguments)).toEqual(["a"])
    expect(positional.relType.value.posArguments).toHaveLength(2)
  })

  it("3.5's SQL relation carries the parameters as literals (args, pos_args), never in the text", () => {
    const named = Plan.literalSql("SELECT :a", { a: "x'--" })
    const positional = Plan.literalSql("SELECT ?, ?", [1, 2])
    if (named.relType.case !== "sql" || positional.relType.case !== "sql")
      throw new Error("sql relation expected")
    expect(named.relType.value.query).toBe("SELECT :a")
    expect(named.relType.value.args["a"]?.literalType).toEqual({ case: "string", value: "x'--" })
    expect(named.relType.value.namedArguments).toEqual({})
    expect(positional.relType.value.posArgs.map((l) => l.literalType.value)).toEqual([1, 2])
    expect(positional.relType.value.posArguments).toEqual([])
  })

  const sqlCommandOf = (plan: ReturnType<typeof Plan.sqlCommand>) => {
    if (plan.opType.case !== "command" || plan.opType.value.commandType.case !== "sqlCommand")
      throw new Error("sqlCommand expected")
    return plan.opType.value.commandType.value
  }

  it("inlines named parameters of a Spark 3.5 SqlCommand as `args` literals, with no input relation", () => {
    const command = sqlCommandOf(
      Plan.inlineSqlCommand("SELECT :a, :b, :c, :d", { a: 41, b: "x", c: null, d: 9007199254740993n })
    )
    expect(command.sql).toBe("SELECT :a, :b, :c, :d")
    expect(Object.keys(command.args)).toEqual(["a", "b", "c", "d"])
    expect(command.args["a"]?.literalType).toEqual({ case: "integer", value: 41 })
    expect(command.args["b"]?.literalType).toEqual({ case: "string", value: "x" })
    expect(command.args["c"]?.literalType.case).toBe("null")
    expect(command.args["d"]?.literalType).toEqual({ case: "long", value: 9007199254740993n })
    expect(command.posArgs).toEqual([])
    expect(command.input).toBeUndefined()
    expect(command.namedArguments).toEqual({})
    expect(command.posArguments).toEqual([])
  })

  it("inlines positional parameters of a Spark 3.5 SqlCommand as `posArgs`, in order", () => {
    const command = sqlCommandOf(Plan.inlineSqlCommand("SELECT ?, ?, ?", ["x", 41, null]))
    expect(command.sql).toBe("SELECT ?, ?, ?")
    expect(command.posArgs.map((l) => l.literalType.case)).toEqual(["string", "integer", "null"])
    expect(command.posArgs[0]?.literalType).toEqual({ case: "string", value: "x" })
    expect(command.posArgs[1]?.literalType).toEqual({ case: "integer", value: 41 })
    expect(command.args).toEqual({})
    expect(command.input).toBeUndefined()
  })

  it("builds a Spark 3.5 SqlCommand without parameters with both argument lists empty", () => {
    const command = sqlCommandOf(Plan.inlineSqlCommand("SELECT 1"))
    expect(command.sql).toBe("SELECT 1")
    expect(command.args).toEqual({})
    expect(command.posArgs).toEqual([])
    expect(command.input).toBeUndefined()
  })

  it("builds the 4.x SqlCommand around an input relation, with no inline text or arguments", () => {
    const command = sqlCommandOf(Plan.sqlCommand(Plan.sql("SELECT :a", { a: 41 })))
    expect(command.sql).toBe("")
    expect(command.args).toEqual({})
    expect(command.posArgs).toEqual([])
    if (command.input?.relType.case !== "sql") throw new Error("sql input relation expected")
    expect(command.input.relType.value.query).toBe("SELECT :a")
    expect(command.input.relType.value.namedArguments["a"]?.exprType).toEqual({
      case: "literal",
      value: Plan.literal(41)
    })
  })

  it("maps writer options to a WriteOperation", () => {
    const input = Plan.table("src")
    const toPath = Plan.write(input, {
      format: "csv",
      mode: "append",
      partitionBy: ["d"],
      options: { header: "true" },
      target: { path: "/p" }
    })
    const toTable = Plan.write(input, { target: { insertInto: "db.t" } })
    const op = (p: ReturnType<typeof Plan.write>) => {
      if (p.opType.case !== "command" || p.opType.value.commandType.case !== "writeOperation")
        throw new Error("write expected")
      return p.opType.value.commandType.value
    }
    expect(op(toPath)).toMatchObject({
      source: "csv",
      mode: WriteOperation_SaveMode.APPEND,
      partitioningColumns: ["d"],
      options: { header: "true" },
      saveType: { case: "path", value: "/p" }
    })
    expect(op(toTable)).toMatchObject({
      mode: WriteOperation_SaveMode.ERROR_IF_EXISTS,
      saveType: {
        case: "table",
        value: { tableName: "db.t", saveMethod: WriteOperation_SaveTable_TableSaveMethod.INSERT_INTO }
      }
    })
  })

  it("names data types as Spark does", () => {
    const t = (kind: Parameters<typeof create<typeof DataTypeSchema>>[1]) =>
      Plan.typeName(create(DataTypeSchema, kind))
    expect(t({ kind: { case: "long", value: {} } })).toBe("bigint")
    expect(t({ kind: { case: "decimal", value: { precision: 18, scale: 2 } } })).toBe("decimal(18,2)")
    expect(
      t({
        kind: {
          case: "map",
          value: {
            keyType: { kind: { case: "string", value: {} } },
            valueType: {
              kind: { case: "array", value: { elementType: { kind: { case: "timestampNtz", value: {} } } } }
            }
          }
        }
      })
    ).toBe("map<string,array<timestamp_ntz>>")
    expect(Plan.typeName(undefined)).toBe("unknown")
  })

  const kinds: ReadonlyArray<
    readonly [NonNullable<MessageInitShape<typeof DataTypeSchema>["kind"]>, string]
  > = [
    [{ case: "dayTimeInterval", value: { startField: 0, endField: 0 } }, "interval day"],
    [{ case: "dayTimeInterval", value: { startField: 1, endField: 3 } }, "interval hour to second"],
    [{ case: "dayTimeInterval", value: {} }, "interval day to second"],
    [{ case: "yearMonthInterval", value: { startField: 1, endField: 1 } }, "interval month"],
    [{ case: "yearMonthInterval", value: {} }, "interval year to month"],
    [{ case: "calendarInterval", value: {} }, "interval"],
    [{ case: "time", value: { precision: 3 } }, "time(3)"],
    [{ case: "time", value: {} }, "time(6)"],
    [{ case: "string", value: { collation: "UTF8_LCASE" } }, "string collate UTF8_LCASE"],
    [{ case: "string", value: { collation: "UTF8_BINARY" } }, "string"],
    [{ case: "variant", value: {} }, "variant"],
    [{ case: "geometry", value: { srid: -1 } }, "geometry(any)"],
    [{ case: "geography", value: { srid: 4326 } }, "geography(4326)"],
    [{ case: "udt", value: { type: "udt", sqlType: { kind: { case: "binary", value: {} } } } }, "binary"],
    [
      {
        case: "struct",
        value: { fields: [{ name: "a b", dataType: { kind: { case: "null", value: {} } }, nullable: true }] }
      },
      "struct<a b:void>"
    ]
  ]
  it.each(kinds)("names %o as Spark does", (kind, name) => {
    expect(Plan.typeName(create(DataTypeSchema, { kind }))).toBe(name)
  })
})
