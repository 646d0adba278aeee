/**
 * Arrow results as plain JS rows, with one documented JS type per Spark SQL type. Values that
 * JS numbers cannot hold exactly stay exact: bigint for long, strings for decimals and
 * microsecond timestamps.
 *
 * | Spark SQL type | JS value |
 * | --- | --- |
 * | boolean | boolean |
 * | tinyint, smallint, int, float, double | number |
 * | bigint (long) | bigint |
 * | decimal(p,s) | string, exact (`"-12.34"`) |
 * | string, char, varchar | string |
 * | binary | Uint8Array |
 * | date | string `YYYY-MM-DD`; other years than 0000–9999 signed, six digits or more: `+010000-01-01` |
 * | timestamp | string, UTC instant with microseconds: `2024-01-02T03:04:05.123456Z` |
 * | timestamp_ntz | string, local date-time with microseconds: `2024-01-02T03:04:05.123456` |
 * | time(p) | string with microseconds: `12:34:56.123456` |
 * | interval year, interval month, interval year to month | number of months |
 * | interval day … interval second (all day-time kinds) | bigint of microseconds |
 * | interval (calendar) | row object `{ months, days, microseconds }` (numbers, bigint) |
 * | array<T> | Array |
 * | map<K,V> | Map |
 * | struct<…> | row object keyed by field name |
 * | variant | decoded, JSON-like (see internal/Variant.ts) |
 * | geometry(srid), geography(srid) | row object `{ srid, wkb }` (wkb a Uint8Array) |
 * | void (NULL) and any null | null |
 *
 * Rows, struct values and variant objects inherit nothing: their prototype is
 * {@link rowPrototype}, an empty frozen object without a prototype, so a column named
 * `__proto__`, `constructor` or `toString` is an ordinary own field. Names must be unique:
 * a repeated column or struct-field name is refused (see {@link fromBatch}).
 *
 * @example
 * import * as Rows from "@spark-etl/runner-spark-connect/Rows"
 * const rows = Rows.fromTable(table) // Result.succeed([{ id: 1n, amount: "12.34", day: "2026-11-26" }])
 */
import type { Data, Field, RecordBatch, Table, Vector } from "apache-arrow"
import { IntervalUnit, makeVector, TimeUnit, Type } from "apache-arrow"
import * as Result from "effect/Result"
import type { DataType } from "./generated/spark/connect/types_pb.js"
import * as Civil from "./internal/Civil.js"
import { decimalText } from "./internal/Decimal.js"
import * as Names from "./internal/Names.js"
import * as RowObject from "./internal/RowObject.js"
import * as Variant from "./internal/Variant.js"
import * as SparkError from "./SparkError.js"

export { decimalText } from "./internal/Decimal.js"

/** A JS value of a result cell (see the table above). */
export type Value =
  | null
  | boolean
  | number
  | bigint
  | string
  | Uint8Array
  | ReadonlyArray<Value>
  | ReadonlyMap<Value, Value>
  | { readonly [field: string]: Value }

/** One result row, keyed by column name. */
export type Row = Readonly<Record<string, Value>>

/** The prototype of rows, struct values and variant objects (empty, frozen, no prototype). */
export const rowPrototype: object = RowObject.prototype

const newObject = RowObject.make<Value>

/** Why rows could not be made: a repeated name, or a batch this client cannot read. */
export type RowsError = SparkError.SparkAnalysisError | SparkError.SparkProtocolError

/** `YYYY-MM-DD` of a day count since 1970-01-01 (whole int32 range, exact). */
export const isoDate = (days: number): string => Civil.dateText(days)

/** `YYYY-MM-DDTHH:MM:SS.ffffff` of microseconds since the epoch (no zone; whole int64 range). */
export const isoMicros = (micros: bigint): string => Civil.timestampText(micros)

// A cell of a fixed-width column read from its buffer (arrow-js slices data buffers, so the
// index within the chunk is the index into `values`).
const chunkAt = (vector: Vector, index: number): [Data, number] => {
  let i = index
  for (const data of vector.data) {
    if (i < data.length) return [data, i]
    i -= data.length
  }
  return [vector.data[0]!, index]
}

const int64At = (vector: Vector, index: number): bigint => {
  const [data, i] = chunkAt(vector, index)
  return (data.values as BigInt64Array)[i]!
}

const toMicros = (value: bigint, unit: TimeUnit): bigint =>
  unit === TimeUnit.SECOND
    ? value * 1_000_000n
    : unit === TimeUnit.MILLISECOND
      ? value * 1000n
      : unit === TimeUnit.NANOSECOND
        ? value / 1000n
        : value

// Spark's year-month intervals come as YEAR_MONTH (months), its calendar `interval` as
// MONTH_DAY_NANO: months, days and nanoseconds, kept apart as Spark keeps them.
const intervalAt = (vector: Vector, index: number): Value => {
  const [data, i] = chunkAt(vector, index)
  const values = data.values as Int32Array
  const unit = (vector.type as { unit: number }).unit
  if (unit === IntervalUnit.YEAR_MONTH) return values[i]!
  const bytes = new DataView(values.buffer, values.byteOffset, values.byteLength)
  if (unit === IntervalUnit.DAY_TIME)
    return BigInt(values[2 * i]!) * 86_400_000_000n + BigInt(values[2 * i + 1]!) * 1000n
  const out = newObject()
  out["months"] = values[4 * i]!
  out["days"] = values[4 * i + 1]!
  out["microseconds"] = bytes.getBigInt64(16 * i + 8, true) / 1000n
  return out
}

// Spark sends a variant as struct<value: binary, metadata: binary>, metadata tagged variant=true.
const isVariant = (children: ReadonlyArray<Field>): boolean =>
  children.length === 2 &&
  children[0]!.name === "value" &&
  children[1]!.name === "metadata" &&
  children[1]!.metadata.get("variant") === "true"

/** The JS value of one cell of an Arrow vector. */
export const valueAt = (vector: Vector, index: number): Value => {
  if (!vector.isValid(index)) return null
  const type = vector.type
  switch (type.typeId) {
    case Type.Null:
      return null
    case Type.Decimal: {
      const raw: unknown = vector.get(index)
      return decimalText(BigInt(String(raw)), (type as { scale: number }).scale)
    }
    case Type.Date: {
      // Day counts are read from the buffer: arrow-js converts them to milliseconds.
      const [data, i] = chunkAt(vector, index)
      return (type as { unit: number }).unit === 0
        ? Civil.dateText((data.values as Int32Array)[i]!)
        : Civil.dateText(Math.floor((vector.get(index) as number) / 86_400_000))
    }
    case Type.Timestamp: {
      const micros = toMicros(int64At(vector, index), (type as { unit: TimeUnit }).unit)
      const zoned = (type as { timezone?: string | null }).timezone
      return zoned ? `${Civil.timestampText(micros)}Z` : Civil.timestampText(micros)
    }
    case Type.Time: {
      const raw = vector.get(index) as number | bigint
      return Civil.timeOfDayText(Number(toMicros(BigInt(raw), (type as { unit: TimeUnit }).unit)))
    }
    case Type.Interval:
      return intervalAt(vector, index)
    case Type.Duration:
      return toMicros(int64At(vector, index), (type as { unit: TimeUnit }).unit)
    case Type.List:
    case Type.FixedSizeList: {
      const items = vector.get(index) as Vector
      return Array.from({ length: items.length }, (_, i) => valueAt(items, i))
    }
    case Type.Map: {
      // Entries live in one struct child (keys, values) addressed by absolute offsets.
      const [data, i] = chunkAt(vector, index)
      const offsets = data.valueOffsets
      const entries = data.children[0]!
      const keys = makeVector(entries.children[0]!)
      const values = makeVector(entries.children[1]!)
      const out = new Map<Value, Value>()
      for (let j = offsets[i]!; j < offsets[i + 1]!; j++) out.set(valueAt(keys, j), valueAt(values, j))
      return out
    }
    case Type.Struct: {
      // arrow-js slices a struct's children with the struct, so the chunk index applies.
      const children = (type as { children: ReadonlyArray<Field> }).children
      const [data, i] = chunkAt(vector, index)
      const fields = children.map((_, c) => valueAt(makeVector(data.children[c]!), i))
      if (isVariant(children) && fields[0] instanceof Uint8Array && fields[1] instanceof Uint8Array)
        return Variant.decode(fields[0], fields[1])
      const out = newObject()
      children.forEach((field, c) => {
        out[field.name] = fields[c]!
      })
      return out
    }
    default:
      return vector.get(index) as Value
  }
}

// Decimals whose unscaled value fits a double exactly take a Number path: BigInt is slow.
const decimalFromWords = (words: Uint32Array, at: number, scale: number): string => {
  const lo = words[at]!
  const hi = words[at + 1]!
  const upper = words[at + 2]! | words[at + 3]!
  if (upper === 0 && hi < 0x200000) return decimalText(hi * 4294967296 + lo, scale)
  let value = 0n
  for (let w = 3; w >= 0; w--) value = (value << 32n) | BigInt(words[at + w]!)
  return decimalText(BigInt.asIntN(128, value), scale)
}

const dateCache = new Map<number, string>()
const cachedDate = (days: number): string => {
  let text = dateCache.get(days)
  if (text === undefined) {
    text = Civil.dateText(days)
    if (dateCache.size < 100_000) dateCache.set(days, text)
  }
  return text
}

/**
 * A reader of one single-chunk column: flat types read their buffers directly, the rest go
 * through {@link valueAt}. Same values as valueAt, several times faster on wide results.
 */
const columnReader = (vector: Vector): ((index: number) => Value) => {
  if (vector.data.length !== 1) return (i) => valueAt(vector, i)
  const data = vector.data[0]!
  const hasNulls = data.nullCount > 0
  const type = vector.type
  const read = ((): ((i: number) => Value) | undefined => {
    switch (type.typeId) {
      case Type.Int: {
        const values = data.values as ArrayLike<number | bigint>
        return (i) => values[i]!
      }
      case Type.Float: {
        const values = data.values as ArrayLike<number>
        return (i) => values[i]!
      }
      case Type.Date: {
        const values = data.values as Int32Array
        return (type as { unit: number }).unit === 0 ? (i) => cachedDate(values[i]!) : undefined
      }
      case Type.Decimal: {
        const words = data.values as Uint32Array
        const scale = (type as { scale: number }).scale
        const stride = (type as { bitWidth: number }).bitWidth / 32
        return stride === 4 ? (i) => decimalFromWords(words, i * 4, scale) : undefined
      }
      case Type.Utf8:
      case Type.Bool:
        return (i) => vector.get(i) as Value
      default:
        return undefined
    }
  })()
  if (read === undefined) return (i) => valueAt(vector, i)
  return hasNulls ? (i) => (vector.isValid(i) ? read(i) : null) : read
}

/** The refusal of a repeated name, as Spark words it when it refuses to write one. */
export const duplicateName = (path: Names.Path): SparkError.SparkAnalysisError => {
  const column = Names.quoted(path)
  return SparkError.make("SparkAnalysisError", {
    message:
      `[COLUMN_ALREADY_EXISTS] The column ${column} already exists. Choose another name or rename ` +
      "the existing column. SQLSTATE: 42711 (rows are keyed by name; toArrow and stream keep " +
      "repeated names)",
    errorClass: "COLUMN_ALREADY_EXISTS",
    sqlState: "42711",
    messageParameters: { columnName: column }
  })
}

/**
 * Checks names before rows are made: Spark's schema (the `schema` of an ExecutePlanResponse)
 * when given, as Spark's Arrow batches rename repeated struct fields; else the Arrow fields.
 */
export const checkNames = (
  fields: ReadonlyArray<Field>,
  sparkSchema?: DataType
): Result.Result<void, SparkError.SparkAnalysisError> => {
  const path = sparkSchema !== undefined ? Names.inSparkType(sparkSchema) : Names.inArrowFields(fields)
  return path === undefined ? Result.succeed(undefined) : Result.fail(duplicateName(path))
}

const decodeBatch = (batch: RecordBatch): Array<Row> => {
  const names = batch.schema.fields.map((f) => f.name)
  const readers = batch.schema.fields.map((_, i) => columnReader(batch.getChildAt(i)!))
  const rows: Array<Row> = new Array<Row>(batch.numRows)
  for (let r = 0; r < batch.numRows; r++) {
    const row = newObject()
    for (let c = 0; c < names.length; c++) row[names[c]!] = readers[c]!(r)
    rows[r] = row
  }
  return rows
}

/**
 * The rows of one record batch. A repeated column or struct-field name fails with Spark's own
 * COLUMN_ALREADY_EXISTS (a SparkAnalysisError naming it) rather than losing a value; bytes that
 * cannot be read (a malformed variant) fail as a SparkProtocolError.
 */
export const fromBatch = (batch: RecordBatch, sparkSchema?: DataType): Result.Result<Array<Row>, RowsError> =>
  Result.flatMap(checkNames(batch.schema.fields, sparkSchema), () =>
    Result.try({
      try: () => decodeBatch(batch),
      catch: (cause) =>
        SparkError.make("SparkProtocolError", {
          message: `cannot read a result batch: ${cause instanceof Error ? cause.message : String(cause)}`
        })
    })
  )

/** The rows of a table, batch after batch (see {@link fromBatch}). */
export const fromTable = (table: Table, sparkSchema?: DataType): Result.Result<Array<Row>, RowsError> => {
  const rows: Array<Row> = []
  for (const batch of table.batches) {
    const batchRows = fromBatch(batch, sparkSchema)
    if (Result.isFailure(batchRows)) return batchRows
    for (const row of batchRows.success) rows.push(row)
  }
  return Result.flatMap(checkNames(table.schema.fields, sparkSchema), () => Result.succeed(rows))
}
