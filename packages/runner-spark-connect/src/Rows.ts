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
 * | date | string `YYYY-MM-DD` |
 * | timestamp | string, UTC instant with microseconds: `2024-01-02T03:04:05.123456Z` |
 * | timestamp_ntz | string, local date-time with microseconds: `2024-01-02T03:04:05.123456` |
 * | interval year to month | number of months |
 * | interval day to second | bigint of microseconds |
 * | array<T> | Array |
 * | map<K,V> | Map |
 * | struct<…> | object keyed by field name |
 * | void (NULL) and any null | null |
 *
 * @example
 * import { Rows } from "@spark-etl/runner-spark-connect"
 * const rows = Rows.fromTable(table) // [{ id: 1n, amount: "12.34", day: "2026-11-26" }]
 */
import type { Data, Field, RecordBatch, Table, Vector } from "apache-arrow"
import { makeVector, TimeUnit, Type } from "apache-arrow"

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

const pad = (n: number | bigint, width: number) => String(n).padStart(width, "0")

/** `YYYY-MM-DD` of a day count since 1970-01-01. */
export const isoDate = (days: number): string => new Date(days * 86_400_000).toISOString().slice(0, 10)

/** `YYYY-MM-DDTHH:MM:SS.ffffff` of microseconds since the epoch (no zone). */
export const isoMicros = (micros: bigint): string => {
  const ms = micros / 1000n - (micros % 1000n < 0n ? 1n : 0n)
  const sub = micros - ms * 1000n
  const text = new Date(Number(ms)).toISOString()
  return `${text.slice(0, 23)}${pad(sub, 3)}`
}

/** The exact decimal text of an unscaled integer and a scale. */
export const decimalText = (unscaled: bigint | number, scale: number): string => {
  if (scale <= 0) return (BigInt(unscaled) * 10n ** BigInt(-scale)).toString()
  const negative = unscaled < 0
  const digits = (negative ? -unscaled : unscaled).toString().padStart(scale + 1, "0")
  return `${negative ? "-" : ""}${digits.slice(0, -scale)}.${digits.slice(-scale)}`
}

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
      const ms = vector.get(index) as number
      return isoDate(Math.floor(ms / 86_400_000))
    }
    case Type.Timestamp: {
      const micros = toMicros(int64At(vector, index), (type as { unit: TimeUnit }).unit)
      const zoned = (type as { timezone?: string | null }).timezone
      return zoned ? `${isoMicros(micros)}Z` : isoMicros(micros)
    }
    case Type.Interval: {
      const pair = vector.get(index) as Int32Array
      return pair[0]! * 12 + pair[1]!
    }
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
      const out: Record<string, Value> = {}
      children.forEach((field, c) => {
        out[field.name] = valueAt(makeVector(data.children[c]!), i)
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
    text = isoDate(days)
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

/** The rows of one record batch. */
export const fromBatch = (batch: RecordBatch): Array<Row> => {
  const names = batch.schema.fields.map((f) => f.name)
  const readers = batch.schema.fields.map((_, i) => columnReader(batch.getChildAt(i)!))
  const rows: Array<Row> = new Array<Row>(batch.numRows)
  for (let r = 0; r < batch.numRows; r++) {
    const row: Record<string, Value> = {}
    for (let c = 0; c < names.length; c++) row[names[c]!] = readers[c]!(r)
    rows[r] = row
  }
  return rows
}

/** The rows of a table, batch after batch. */
export const fromTable = (table: Table): Array<Row> => {
  const rows: Array<Row> = []
  for (const batch of table.batches) for (const row of fromBatch(batch)) rows.push(row)
  return rows
}
