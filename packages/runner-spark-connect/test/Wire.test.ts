import { create, toBinary } from "@bufbuild/protobuf"
import { tableFromArrays, tableFromIPC, tableToIPC } from "apache-arrow"
import { describe, expect, it } from "vitest"
import { ExecutePlanResponseSchema } from "../src/generated/spark/connect/base_pb.js"
import * as Wire from "../src/internal/Wire.js"

// 2,000 rows: over 16 KiB, so the tags and lengths in front of the data span 8 bytes.
const ipc = (rows: number) =>
  tableToIPC(
    tableFromArrays({
      id: BigInt64Array.from({ length: rows }, (_, i) => BigInt(i)),
      s: Array.from({ length: rows }, (_, i) => `row-${i}`)
    })
  )

const response = (data: Uint8Array) =>
  toBinary(
    ExecutePlanResponseSchema,
    create(ExecutePlanResponseSchema, {
      sessionId: "00000000-0000-0000-0000-000000000001",
      operationId: "00000000-0000-0000-0000-000000000002",
      responseId: "00000000-0000-0000-0000-000000000003",
      serverSideSessionId: "00000000-0000-0000-0000-000000000004",
      responseType: { case: "arrowBatch", value: { rowCount: 2000n, data } }
    })
  )

/** The encoded message at `at` bytes into a larger buffer whose other bytes are a known pattern. */
const placed = (message: Uint8Array, at: number) => {
  const whole = new Uint8Array(at + message.byteLength + 16).fill(0xa5)
  whole.set(message, at)
  return { whole, message: whole.subarray(at, at + message.byteLength) }
}

const arrowData = (decoded: ReturnType<typeof Wire.decodeExecutePlanResponse>) => {
  if (decoded.responseType.case !== "arrowBatch") throw new Error("no arrow batch")
  return decoded.responseType.value.data
}

describe("Wire.decodeExecutePlanResponse", () => {
  it("moves the Arrow data to an 8-byte boundary, within the message's own bytes, unchanged", () => {
    const data = ipc(2000)
    const encoded = response(data)
    for (let at = 0; at < 8; at++) {
      const { message, whole } = placed(encoded, at)
      const decoded = Wire.decodeExecutePlanResponse(message)
      const moved = arrowData(decoded)
      expect(moved.byteOffset % 8).toBe(0)
      expect(moved.buffer).toBe(whole.buffer)
      expect(moved.byteOffset).toBeGreaterThanOrEqual(at)
      expect(Buffer.from(moved).equals(data)).toBe(true)
      // Nothing outside the message is touched.
      expect(whole.subarray(0, at).every((b) => b === 0xa5)).toBe(true)
      expect(whole.subarray(at + encoded.byteLength).every((b) => b === 0xa5)).toBe(true)
      expect(decoded.sessionId).toBe("00000000-0000-0000-0000-000000000001")
      expect(tableFromIPC(moved).getChild("id")?.toArray()).toEqual(
        BigInt64Array.from({ length: 2000 }, (_, i) => BigInt(i))
      )
    }
  })

  it("leaves data in place when the bytes before it may hold something else", () => {
    // An unknown field in the batch (protobuf-es keeps its bytes as a view) pins the data.
    const data = ipc(2000)
    const withUnknown = create(ExecutePlanResponseSchema, {
      responseType: { case: "arrowBatch", value: { rowCount: 2000n, data } }
    })
    if (withUnknown.responseType.case === "arrowBatch")
      withUnknown.responseType.value.$unknown = [{ no: 99, wireType: 2, data: new Uint8Array([3, 1, 2, 3]) }]
    const encoded = toBinary(ExecutePlanResponseSchema, withUnknown)
    for (let at = 0; at < 8; at++) {
      const { message } = placed(encoded, at)
      const before = arrowData(Wire.decodeExecutePlanResponse(message.slice()))
      const decoded = arrowData(Wire.decodeExecutePlanResponse(message))
      expect(decoded.byteOffset - message.byteOffset).toBe(before.byteOffset)
      expect(Buffer.from(decoded).equals(data)).toBe(true)
    }
  })

  it("aligns only as far as the tags and lengths in front of the data allow", () => {
    const data = new Uint8Array([1, 2, 3])
    const encoded = toBinary(
      ExecutePlanResponseSchema,
      create(ExecutePlanResponseSchema, { responseType: { case: "arrowBatch", value: { data } } })
    )
    for (let at = 0; at < 8; at++) {
      const { message } = placed(encoded, at)
      const decoded = arrowData(Wire.decodeExecutePlanResponse(message))
      // 2 tags + 2 one-byte lengths: at most 4 bytes back; the data starts 4 bytes in.
      expect(decoded.byteOffset).toBeGreaterThanOrEqual(message.byteOffset)
      expect(Array.from(decoded)).toEqual([1, 2, 3])
    }
  })
})
