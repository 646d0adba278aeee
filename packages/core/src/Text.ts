/**
 * Text files as spark-etl reads them: UTF-8, strictly. A byte that is not UTF-8 would
 * otherwise become U+FFFD and flow into SQL and data unnoticed; instead it is reported with
 * the line and column where it stands. A leading byte-order mark is accepted and dropped.
 */
import * as Result from "effect/Result"

/** Where the first byte that is not UTF-8 stands (1-based; the column counts characters). */
export interface InvalidUtf8 {
  readonly line: number
  readonly column: number
  /** The byte offset in the file, from 0. */
  readonly offset: number
  readonly byte: number
  /** `not valid UTF-8 at line 3, column 5 (byte 0xFF at offset 42)` */
  readonly message: string
}

const bom = [0xef, 0xbb, 0xbf]
const strict = new TextDecoder("utf-8", { fatal: true })

// For each lead byte of a multi-byte sequence: its length and the range of its second byte
// (the later ones are always 80..BF). Unicode 15, table 3-7: no overlongs, no surrogates,
// nothing above U+10FFFF.
const leads: ReadonlyArray<readonly [from: number, to: number, length: number, lo: number, hi: number]> = [
  [0xc2, 0xdf, 2, 0x80, 0xbf],
  [0xe0, 0xe0, 3, 0xa0, 0xbf],
  [0xe1, 0xec, 3, 0x80, 0xbf],
  [0xed, 0xed, 3, 0x80, 0x9f],
  [0xee, 0xef, 3, 0x80, 0xbf],
  [0xf0, 0xf0, 4, 0x90, 0xbf],
  [0xf1, 0xf3, 4, 0x80, 0xbf],
  [0xf4, 0xf4, 4, 0x80, 0x8f]
]

// The length of the well-formed sequence at `i`, 0 when the byte there starts none.
const sequenceAt = (bytes: Uint8Array, i: number): number => {
  const lead = bytes[i] ?? 0
  if (lead < 0x80) return 1
  const entry = leads.find(([from, to]) => lead >= from && lead <= to)
  if (entry === undefined) return 0
  const [, , length, lo, hi] = entry
  for (let k = 1; k < length; k++) {
    const b = bytes[i + k]
    if (b === undefined || b < (k === 1 ? lo : 0x80) || b > (k === 1 ? hi : 0xbf)) return 0
  }
  return length
}

const isContinuation = (b: number) => b >= 0x80 && b <= 0xbf

/** Where the first byte that is not part of well-formed UTF-8 is; undefined when there is none. */
const firstInvalidUtf8 = (bytes: Uint8Array): InvalidUtf8 | undefined => {
  let offset = 0
  for (let n = sequenceAt(bytes, 0); offset < bytes.length && n > 0; n = sequenceAt(bytes, offset))
    offset += n
  if (offset >= bytes.length) return undefined
  // (lastIndexOf from -1 would search from the end.)
  const lineStart = offset === 0 ? 0 : bytes.lastIndexOf(0x0a, offset - 1) + 1
  const hasBom = bom.every((b, i) => bytes[i] === b)
  const from = lineStart === 0 && hasBom ? bom.length : lineStart
  let column = 1
  // The bytes before are well formed: each byte that is not a continuation starts a character.
  for (let i = from; i < offset; i++) if (!isContinuation(bytes[i] ?? 0)) column++
  const line = bytes.subarray(0, offset).filter((b) => b === 0x0a).length + 1
  const byte = bytes[offset] ?? 0
  const hex = byte.toString(16).toUpperCase().padStart(2, "0")
  return {
    line,
    column,
    offset,
    byte,
    message: `not valid UTF-8 at line ${line}, column ${column} (byte 0x${hex} at offset ${offset})`
  }
}

/** Decodes `bytes` as UTF-8 (a leading BOM is dropped), or says where it stops being so. */
export const decodeUtf8 = (bytes: Uint8Array): Result.Result<string, InvalidUtf8> =>
  Result.mapError(
    Result.try(() => strict.decode(bytes)),
    // The decoder only says no; find the byte ourselves.
    () =>
      firstInvalidUtf8(bytes) ?? {
        line: 1,
        column: 1,
        offset: 0,
        byte: bytes[0] ?? 0,
        message: "not valid UTF-8"
      }
  )
