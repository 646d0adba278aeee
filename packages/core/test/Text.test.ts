import { describe, expect, it } from "@effect/vitest"
import { Effect, Result } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import * as Batch from "../src/Batch.js"
import * as Text from "../src/Text.js"
import { layer } from "./support.js"

const bytes = (...parts: ReadonlyArray<string | ReadonlyArray<number>>) =>
  Buffer.concat(parts.map((p) => (typeof p === "string" ? Buffer.from(p, "utf8") : Buffer.from(p))))

describe("Text.decodeUtf8", () => {
  it("decodes UTF-8, multi-byte characters and a leading byte-order mark included", () => {
    expect(Text.decodeUtf8(bytes("SELECT 'é€😀'"))).toEqual(Result.succeed("SELECT 'é€😀'"))
    expect(Text.decodeUtf8(bytes([0xef, 0xbb, 0xbf], "SELECT 1"))).toEqual(Result.succeed("SELECT 1"))
  })

  it("names line and column of the first byte that is not UTF-8", () => {
    const first = Text.decodeUtf8(bytes([0xff, 0xfe], "SELECT 1"))
    expect(Result.isFailure(first) && first.failure).toMatchObject({ line: 1, column: 1, offset: 0 })
    // Columns count characters: "é" is two bytes but one column.
    const third = Text.decodeUtf8(bytes("a\nb\nSELECT 'é", [0xc3, 0x28], "'"))
    expect(Result.isFailure(third) && third.failure).toMatchObject({ line: 3, column: 10, offset: 14 })
    expect(Result.isFailure(third) && third.failure.message).toBe(
      "not valid UTF-8 at line 3, column 10 (byte 0xC3 at offset 14)"
    )
  })

  it("refuses a truncated sequence at the end and an encoded surrogate", () => {
    const truncated = Text.decodeUtf8(bytes("ok", [0xe2, 0x82]))
    expect(Result.isFailure(truncated) && truncated.failure.column).toBe(3)
    const surrogate = Text.decodeUtf8(bytes([0xed, 0xa0, 0x80]))
    expect(Result.isFailure(surrogate) && surrogate.failure.offset).toBe(0)
  })
})

describe("Batch.load of a file that is not UTF-8", () => {
  it.effect("is rejected with the file, line and column of the bad byte", () =>
    Effect.gen(function* () {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), "spark-etl-utf8-"))
      const file = path.join(dir, "batch.yaml")
      fs.writeFileSync(file, bytes("batch: latin1\ndescription: caf", [0xe9], "\nrules: []\n"))
      const exit = yield* Effect.exit(Batch.load(file).pipe(Effect.provide(layer())))
      expect(exit._tag).toBe("Failure")
      const failure = exit._tag === "Failure" ? JSON.stringify(exit.cause) : ""
      expect(failure).toContain(`${file}`)
      expect(failure).toContain('"line":2')
      expect(failure).toContain('"column":17')
      expect(failure).toContain("not valid UTF-8 at line 2, column 17 (byte 0xE9")
    })
  )
})
