/**
 * Text files as spark-etl reads them: UTF-8, strictly. A byte that is not UTF-8 would
 * otherwise become U+FFFD and flow into SQL and data unnoticed; instead it is reported with
 * the line and column where it stands. A leading byte-order mark is accepted and dropped.
 */
import { Result } from "effect"

/** Where the first byte that is not UTF-8 stands (1-based; the column counts characters). */
export interface InvalidUtf8 {
  readonly line: number
  readonly column: number
  /** The byte offset in the file. */
  readonly offset: number
  readonly message: string
}

const strict = new TextDecoder("utf-8", { fatal: true, ignoreBOM: false })

/** Decodes `bytes` as UTF-8, or says where the first invalid byte is. */
export const decodeUtf8 = (bytes: Uint8Array): Result.Result<string, InvalidUtf8> => {
  try {
    return Result.succeed(strict.decode(bytes))
  } catch {
    const offset = firstInvalid(bytes)
    // The valid prefix gives the position: lines by "\n", columns in characters.
    const before = new TextDecoder("utf-8").decode(bytes.subarray(0, offset))
    const lines = before.replace(/^\uFEFF/, "").split("\n")
    const line = lines.length
    const column = [...lines[lines.length - 1]!].length + 1
    const byte = bytes[offset]!.toString(16).toUpperCase().padStart(2, "0")
    return Result.fail({
      line,
      column,
      offset,
      message: `not valid UTF-8: byte 0x${byte} at line ${line}, column ${column} (offset ${offset})`
    })
  }
}

// The offset of the first byte that does not begin or continue a well-formed UTF-8 sequence.
const firstInvalid = (bytes: Uint8Array): number => {
  let i = 0
  while (i < bytes.length) {
    const b = bytes[i]!
    const length =
      b < 0x80 ? 1 : b >= 0xc2 && b <= 0xdf ? 2 : b >= 0xe0 && b <= 0xef ? 3 : b >= 0xf0 && b <= 0xf4 ? 4 : 0
    if (length === 0 || i + length > bytes.length) return i
    for (let k = 1; k < length; k++) if ((bytes[i + k]! & 0xc0) !== 0x80) return i
    // Overlong or surrogate forms that the decoder refuses as well.
    const second = bytes[i + 1]!
    if ((b === 0xe0 && second < 0xa0) || (b === 0xed && second > 0x9f)) return i
    if ((b === 0xf0 && second < 0x90) || (b === 0xf4 && second > 0x8f)) return i
    i += length
  }
  return bytes.length
}
