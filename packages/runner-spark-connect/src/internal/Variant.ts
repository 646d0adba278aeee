/**
 * Spark's variant binary encoding (a `value` and a `metadata` buffer, as Spark Connect sends a
 * variant column) decoded to a JSON-like JS value with the same per-type values as columns:
 * int8/16/32 and float/double → number, int64 → bigint, decimal → exact string, date,
 * timestamp, timestamp_ntz and time → ISO text, binary → Uint8Array, uuid → its text, object →
 * a null-prototype object, array → Array, variant null → null.
 */
import * as Civil from "./Civil.js"
import { decimalText } from "./Decimal.js"
import * as RowObject from "./RowObject.js"

/** A variant whose bytes break the encoding (a server or transport fault). */
export class MalformedVariant extends Error {
  override readonly name = "MalformedVariant"
}

/** A decoded variant; its objects are row objects (see RowObject). */
export type Decoded =
  | null
  | boolean
  | number
  | bigint
  | string
  | Uint8Array
  | ReadonlyArray<Decoded>
  | { readonly [field: string]: Decoded }

const check = (ok: boolean, what: string): void => {
  if (!ok) throw new MalformedVariant(`malformed variant: ${what}`)
}

const unsigned = (bytes: Uint8Array, at: number, size: number): number => {
  check(at >= 0 && at + size <= bytes.length, "offset out of bounds")
  let n = 0
  for (let i = size - 1; i >= 0; i--) n = n * 256 + bytes[at + i]!
  return n
}

const view = (bytes: Uint8Array, at: number, size: number): DataView => {
  check(at >= 0 && at + size <= bytes.length, "value out of bounds")
  return new DataView(bytes.buffer, bytes.byteOffset + at, size)
}

const utf8 = new TextDecoder("utf-8", { fatal: true })

/** The metadata's dictionary of object keys. */
const dictionary = (metadata: Uint8Array): ReadonlyArray<string> => {
  const header = unsigned(metadata, 0, 1)
  check((header & 0x0f) === 1, `metadata version ${header & 0x0f}`)
  const offsetSize = (header >> 6) + 1
  const size = unsigned(metadata, 1, offsetSize)
  const offsetsAt = 1 + offsetSize
  const stringsAt = offsetsAt + (size + 1) * offsetSize
  const keys: Array<string> = []
  for (let i = 0; i < size; i++) {
    const start = unsigned(metadata, offsetsAt + i * offsetSize, offsetSize)
    const end = unsigned(metadata, offsetsAt + (i + 1) * offsetSize, offsetSize)
    check(start <= end && stringsAt + end <= metadata.length, "key out of bounds")
    keys.push(utf8.decode(metadata.subarray(stringsAt + start, stringsAt + end)))
  }
  return keys
}

const decimal = (bytes: Uint8Array, at: number, width: number): string => {
  const scale = unsigned(bytes, at, 1)
  let unscaled = 0n
  for (let i = width - 1; i >= 0; i--) unscaled = (unscaled << 8n) | BigInt(unsigned(bytes, at + 1 + i, 1))
  return decimalText(BigInt.asIntN(width * 8, unscaled), scale)
}

const uuid = (bytes: Uint8Array, at: number): string => {
  check(at + 16 <= bytes.length, "uuid out of bounds")
  const hex = Array.from(bytes.subarray(at, at + 16), (b) => b.toString(16).padStart(2, "0")).join("")
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`
}

const nanosText = (nanos: bigint): string => {
  const micros = nanos / 1000n - (nanos % 1000n < 0n ? 1n : 0n)
  const rest = nanos - micros * 1000n
  return `${Civil.timestampText(micros)}${String(rest).padStart(3, "0")}`
}

const primitive = (bytes: Uint8Array, at: number, typeId: number): Decoded => {
  const body = at + 1
  switch (typeId) {
    case 0:
      return null
    case 1:
      return true
    case 2:
      return false
    case 3:
      return view(bytes, body, 1).getInt8(0)
    case 4:
      return view(bytes, body, 2).getInt16(0, true)
    case 5:
      return view(bytes, body, 4).getInt32(0, true)
    case 6:
      return view(bytes, body, 8).getBigInt64(0, true)
    case 7:
      return view(bytes, body, 8).getFloat64(0, true)
    case 8:
      return decimal(bytes, body, 4)
    case 9:
      return decimal(bytes, body, 8)
    case 10:
      return decimal(bytes, body, 16)
    case 11:
      return Civil.dateText(view(bytes, body, 4).getInt32(0, true))
    case 12:
      return `${Civil.timestampText(view(bytes, body, 8).getBigInt64(0, true))}Z`
    case 13:
      return Civil.timestampText(view(bytes, body, 8).getBigInt64(0, true))
    case 14:
      return view(bytes, body, 4).getFloat32(0, true)
    case 15:
    case 16: {
      const length = unsigned(bytes, body, 4)
      check(body + 4 + length <= bytes.length, "string out of bounds")
      const content = bytes.subarray(body + 4, body + 4 + length)
      return typeId === 15 ? content.slice() : utf8.decode(content)
    }
    case 17:
      return Civil.timeOfDayText(Number(view(bytes, body, 8).getBigInt64(0, true)))
    case 18:
      return `${nanosText(view(bytes, body, 8).getBigInt64(0, true))}Z`
    case 19:
      return nanosText(view(bytes, body, 8).getBigInt64(0, true))
    case 20:
      return uuid(bytes, body)
    default:
      throw new MalformedVariant(`malformed variant: primitive type ${typeId}`)
  }
}

/** Decodes a variant from its value and metadata buffers. */
export const decode = (value: Uint8Array, metadata: Uint8Array): Decoded => {
  const keys = dictionary(metadata)
  const at = (pos: number): Decoded => {
    const header = unsigned(value, pos, 1)
    const basic = header & 0x03
    const info = header >> 2
    if (basic === 0) return primitive(value, pos, info)
    if (basic === 1) {
      check(pos + 1 + info <= value.length, "short string out of bounds")
      return utf8.decode(value.subarray(pos + 1, pos + 1 + info))
    }
    // Objects and arrays: a count, (object) key ids, offsets relative to the values that follow.
    const large = basic === 2 ? (info >> 4) & 1 : (info >> 2) & 1
    const offsetSize = (info & 0x03) + 1
    const idSize = basic === 2 ? ((info >> 2) & 0x03) + 1 : 0
    const countSize = large === 1 ? 4 : 1
    const count = unsigned(value, pos + 1, countSize)
    const idsAt = pos + 1 + countSize
    const offsetsAt = idsAt + count * idSize
    const valuesAt = offsetsAt + (count + 1) * offsetSize
    const child = (i: number) => at(valuesAt + unsigned(value, offsetsAt + i * offsetSize, offsetSize))
    if (basic === 3) return Array.from({ length: count }, (_, i) => child(i))
    const object = RowObject.make<Decoded>()
    for (let i = 0; i < count; i++) {
      const key = keys[unsigned(value, idsAt + i * idSize, idSize)]
      check(key !== undefined, "unknown key id")
      object[key!] = child(i)
    }
    return object
  }
  return at(0)
}
