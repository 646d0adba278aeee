/**
 * Builders of protocol messages: relations, commands, literals and a readable rendering of
 * Spark's DataType. Pure functions, no I/O.
 */
import { create } from "@bufbuild/protobuf"
import type { Plan as PlanMessage } from "../generated/spark/connect/base_pb.js"
import { PlanSchema } from "../generated/spark/connect/base_pb.js"
import type { Command } from "../generated/spark/connect/commands_pb.js"
import {
  CommandSchema,
  CreateDataFrameViewCommandSchema,
  SqlCommandSchema,
  WriteOperation_SaveMode,
  WriteOperation_SaveTable_TableSaveMethod,
  WriteOperationSchema
} from "../generated/spark/connect/commands_pb.js"
import type { Expression, Expression_Literal } from "../generated/spark/connect/expressions_pb.js"
import { ExpressionSchema, Expression_LiteralSchema } from "../generated/spark/connect/expressions_pb.js"
import type { Relation } from "../generated/spark/connect/relations_pb.js"
import {
  Aggregate_GroupType,
  AggregateSchema,
  RelationSchema,
  ReadSchema,
  SQLSchema
} from "../generated/spark/connect/relations_pb.js"
import type { DataType } from "../generated/spark/connect/types_pb.js"
import { DataTypeSchema, DataType_NULLSchema } from "../generated/spark/connect/types_pb.js"

/** A value bound as a SQL parameter; Spark binds it, it is never spliced into the text. */
export type ParamValue = string | number | bigint | boolean | null | Date | Uint8Array

/** Parameters: named (`:name` in the SQL) or positional (`?`). */
export type Params = Readonly<Record<string, ParamValue>> | ReadonlyArray<ParamValue>

// -0 is an integer to JS, but an int literal would lose its sign: it goes as the double -0.0.
const int32 = (n: number) => Number.isInteger(n) && n >= -2147483648 && n <= 2147483647 && !Object.is(n, -0)

/** A JS value as a Spark literal (int32 numbers as int, other numbers, -0 included, as double). */
export const literal = (value: ParamValue): Expression_Literal => {
  const of = (literalType: Expression_Literal["literalType"]) =>
    create(Expression_LiteralSchema, { literalType })
  if (value === null)
    return of({
      case: "null",
      value: create(DataTypeSchema, { kind: { case: "null", value: create(DataType_NULLSchema, {}) } })
    })
  if (typeof value === "string") return of({ case: "string", value })
  if (typeof value === "boolean") return of({ case: "boolean", value })
  if (typeof value === "bigint") return of({ case: "long", value })
  if (typeof value === "number")
    return of(int32(value) ? { case: "integer", value } : { case: "double", value })
  if (value instanceof Date) return of({ case: "timestamp", value: BigInt(value.getTime()) * 1000n })
  return of({ case: "binary", value })
}

const literalExpression = (value: ParamValue): Expression =>
  create(ExpressionSchema, { exprType: { case: "literal", value: literal(value) } })

/** The SQL relation with its parameters bound by Spark. */
export const sql = (query: string, params?: Params): Relation => {
  const named: Record<string, Expression> = {}
  const positional: Array<Expression> = []
  if (Array.isArray(params))
    for (const v of params as ReadonlyArray<ParamValue>) positional.push(literalExpression(v))
  else if (params !== undefined)
    for (const [k, v] of Object.entries(params as Readonly<Record<string, ParamValue>>))
      named[k] = literalExpression(v)
  return create(RelationSchema, {
    relType: {
      case: "sql",
      value: create(SQLSchema, { query, namedArguments: named, posArguments: positional })
    }
  })
}

/**
 * The SQL relation of Spark 3.5, which has no expression arguments: the parameters as literals
 * (`args`, `pos_args`), as a 3.5 server returns it for a query.
 */
export const literalSql = (query: string, params?: Params): Relation => {
  const { args, posArgs } = literalArguments(params)
  return create(RelationSchema, {
    relType: { case: "sql", value: create(SQLSchema, { query, args, posArgs }) }
  })
}

/** A plan whose root is a relation (a query). */
export const root = (relation: Relation): PlanMessage =>
  create(PlanSchema, { opType: { case: "root", value: relation } })

/** A plan that is a command. */
const command = (commandType: Command["commandType"]): PlanMessage =>
  create(PlanSchema, { opType: { case: "command", value: create(CommandSchema, { commandType }) } })

/** The SqlCommand the official clients send for `spark.sql(...)`. */
export const sqlCommand = (relation: Relation): PlanMessage =>
  command({ case: "sqlCommand", value: create(SqlCommandSchema, { input: relation }) })

/**
 * The SqlCommand of Spark 3.5, which has no `input` relation: the text and the parameters as
 * literals in the command itself (fields 4.0 keeps, deprecated, for such servers).
 */
export const inlineSqlCommand = (query: string, params?: Params): PlanMessage => {
  const { args, posArgs } = literalArguments(params)
  return command({ case: "sqlCommand", value: create(SqlCommandSchema, { sql: query, args, posArgs }) })
}

// Parameters as 3.5's literal arguments: named in `args`, positional in `posArgs`.
const literalArguments = (params: Params | undefined) => {
  const args: Record<string, Expression_Literal> = {}
  const posArgs: Array<Expression_Literal> = []
  if (Array.isArray(params)) for (const v of params as ReadonlyArray<ParamValue>) posArgs.push(literal(v))
  else if (params !== undefined)
    for (const [k, v] of Object.entries(params as Readonly<Record<string, ParamValue>>)) args[k] = literal(v)
  return { args, posArgs }
}

/** A catalog table by its (possibly qualified) name. */
export const table = (name: string, options: Readonly<Record<string, string>> = {}): Relation =>
  create(RelationSchema, {
    relType: {
      case: "read",
      value: create(ReadSchema, {
        readType: { case: "namedTable", value: { unparsedIdentifier: name, options: { ...options } } }
      })
    }
  })

/** Options of a path read. */
export interface ReadOptions {
  readonly format: string
  readonly paths: ReadonlyArray<string>
  /** A DDL schema, e.g. `id BIGINT, name STRING`; inferred when absent. */
  readonly schema?: string
  readonly options?: Readonly<Record<string, string>>
}

/** Files read through a data source. */
export const read = (options: ReadOptions): Relation =>
  create(RelationSchema, {
    relType: {
      case: "read",
      value: create(ReadSchema, {
        readType: {
          case: "dataSource",
          value: {
            format: options.format,
            paths: [...options.paths],
            options: { ...options.options },
            ...(options.schema !== undefined ? { schema: options.schema } : {})
          }
        }
      })
    }
  })

/** `SELECT count(1) FROM input`, as an Aggregate relation. */
export const count = (input: Relation): Relation =>
  create(RelationSchema, {
    relType: {
      case: "aggregate",
      value: create(AggregateSchema, {
        input,
        groupType: Aggregate_GroupType.GROUPBY,
        aggregateExpressions: [
          create(ExpressionSchema, {
            exprType: {
              case: "unresolvedFunction",
              value: { functionName: "count", arguments: [literalExpression(1)] }
            }
          })
        ]
      })
    }
  })

/** A temporary view over a relation. */
export const createView = (input: Relation, name: string, options: { global: boolean; replace: boolean }) =>
  command({
    case: "createDataframeView",
    value: create(CreateDataFrameViewCommandSchema, {
      input,
      name,
      isGlobal: options.global,
      replace: options.replace
    })
  })

/** DataFrameWriter save modes. */
export type SaveMode = "overwrite" | "append" | "errorIfExists" | "ignore"

/** Where and how to write (DataFrameWriter semantics). */
export interface WriteOptions {
  /** Data source format: parquet, csv, json, orc, text…; the server default when absent. */
  readonly format?: string
  /** Default errorIfExists, as in DataFrameWriter. */
  readonly mode?: SaveMode
  readonly partitionBy?: ReadonlyArray<string>
  readonly options?: Readonly<Record<string, string>>
  /** Exactly one target: a path, a new/replaced table, or an insert into an existing one. */
  readonly target:
    { readonly path: string } | { readonly saveAsTable: string } | { readonly insertInto: string }
}

const saveModes: Record<SaveMode, WriteOperation_SaveMode> = {
  overwrite: WriteOperation_SaveMode.OVERWRITE,
  append: WriteOperation_SaveMode.APPEND,
  errorIfExists: WriteOperation_SaveMode.ERROR_IF_EXISTS,
  ignore: WriteOperation_SaveMode.IGNORE
}

/** The WriteOperation command of DataFrameWriter.save / saveAsTable / insertInto. */
export const write = (input: Relation, options: WriteOptions) => {
  const target = options.target
  const saveType =
    "path" in target
      ? ({ case: "path", value: target.path } as const)
      : ({
          case: "table",
          value: {
            tableName: "saveAsTable" in target ? target.saveAsTable : target.insertInto,
            saveMethod:
              "saveAsTable" in target
                ? WriteOperation_SaveTable_TableSaveMethod.SAVE_AS_TABLE
                : WriteOperation_SaveTable_TableSaveMethod.INSERT_INTO
          }
        } as const)
  return command({
    case: "writeOperation",
    value: create(WriteOperationSchema, {
      input,
      ...(options.format !== undefined ? { source: options.format } : {}),
      saveType,
      mode: saveModes[options.mode ?? "errorIfExists"],
      partitioningColumns: [...(options.partitionBy ?? [])],
      options: { ...options.options }
    })
  })
}

const yearMonthFields = ["year", "month"]
const dayTimeFields = ["day", "hour", "minute", "second"]

// `interval day`, `interval hour to second`…: one name when the fields are the same.
const intervalName = (names: ReadonlyArray<string>, start: number, end: number): string =>
  start === end
    ? `interval ${names[start] ?? start}`
    : `interval ${names[start] ?? start} to ${names[end] ?? end}`

// Spark's GeometryType.MIXED_SRID: values of any SRID.
const mixedSrid = -1
const sridName = (srid: number) => (srid === mixedSrid ? "any" : String(srid))

/**
 * Spark's type string for a DataType, as `typeof()` and `DESCRIBE` print it (`bigint`,
 * `decimal(18,2)`, `interval day`, `time(6)`, `array<int>`, `struct<a:int>`…). Spark's
 * `simpleString` is the same except that it abbreviates structs of more than 25 fields.
 */
export const typeName = (type: DataType | undefined): string => {
  const kind = type?.kind
  switch (kind?.case) {
    case undefined:
      return "unknown"
    case "null":
      return "void"
    case "byte":
      return "tinyint"
    case "short":
      return "smallint"
    case "integer":
      return "int"
    case "long":
      return "bigint"
    case "decimal":
      return `decimal(${kind.value.precision ?? 10},${kind.value.scale ?? 0})`
    case "string": {
      const collation = kind.value.collation
      return collation === "" || collation === "UTF8_BINARY" ? "string" : `string collate ${collation}`
    }
    case "char":
      return `char(${kind.value.length})`
    case "varChar":
      return `varchar(${kind.value.length})`
    case "timestampNtz":
      return "timestamp_ntz"
    case "time":
      return `time(${kind.value.precision ?? 6})`
    case "calendarInterval":
      return "interval"
    case "yearMonthInterval":
      return intervalName(yearMonthFields, kind.value.startField ?? 0, kind.value.endField ?? 1)
    case "dayTimeInterval":
      return intervalName(dayTimeFields, kind.value.startField ?? 0, kind.value.endField ?? 3)
    case "array":
      return `array<${typeName(kind.value.elementType)}>`
    case "map":
      return `map<${typeName(kind.value.keyType)},${typeName(kind.value.valueType)}>`
    case "struct":
      return `struct<${kind.value.fields.map((f) => `${f.name}:${typeName(f.dataType)}`).join(",")}>`
    case "geometry":
      return `geometry(${sridName(kind.value.srid)})`
    case "geography":
      return `geography(${sridName(kind.value.srid)})`
    case "udt":
      // A user-defined type prints as the SQL type it is stored as.
      return kind.value.sqlType !== undefined ? typeName(kind.value.sqlType) : kind.value.type
    case "unparsed":
      return kind.value.dataTypeString
    default:
      // binary, boolean, float, double, date, timestamp, variant: Spark's name is the case's.
      return kind?.case ?? "unknown"
  }
}
