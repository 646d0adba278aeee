/**
 * Decoding of ExecutePlan / ReattachExecute responses straight from the gRPC message buffer,
 * with the Arrow IPC bytes moved in place to an 8-byte boundary.
 *
 * Why: protobuf-es returns `bytes` fields as views into the message buffer, and where the
 * Arrow data lands there depends on the ids before it (6 bytes past a boundary, with Spark
 * 4.2's responses). apache-arrow copies every record batch body that is not 8-byte aligned: a
 * second fresh, zeroed allocation as large as the batch, for every batch, which cost a 1M-row
 * result some 15% of the client's CPU, mostly in garbage collection. Moving the bytes back
 * by at most 7, over tags and lengths already read, is a memmove within memory we own.
 */
import { fromBinary } from "@bufbuild/protobuf"
import type { ExecutePlanResponse } from "../generated/spark/connect/base_pb.js"
import { ExecutePlanResponseSchema } from "../generated/spark/connect/base_pb.js"

const varintSize = (n: number): number => {
  let size = 1
  while (n >= 0x80) {
    n = Math.floor(n / 0x80)
    size++
  }
  return size
}

/**
 * Moves ArrowBatch.data, a view into `message`, back to an 8-byte boundary of its buffer and
 * returns the new view (or the same one when already aligned, or when it cannot move safely).
 *
 * Only bytes that hold no value a decoded message still points at are overwritten: the field's
 * own tag and length and its enclosing message's tag and length (in front of all of that
 * message's fields, whatever their order) — which is why that message must have no unknown
 * fields (protobuf-es keeps those as views too), and nothing outside `message` is touched.
 */
const alignInPlace = (message: Uint8Array, data: Uint8Array): Uint8Array => {
  const shift = data.byteOffset % 8
  if (shift === 0 || data.buffer !== message.buffer) return data
  // tag (1 byte for fields 1–15) + length, for the field and for its enclosing message, whose
  // length is longer than the field's.
  const free = 2 + 2 * varintSize(data.byteLength)
  const target = data.byteOffset - shift
  if (shift > free || target < message.byteOffset) return data
  if (data.byteOffset + data.byteLength > message.byteOffset + message.byteLength) return data
  const bytes = new Uint8Array(data.buffer)
  bytes.copyWithin(target, data.byteOffset, data.byteOffset + data.byteLength)
  return new Uint8Array(data.buffer, target, data.byteLength)
}

/**
 * An ExecutePlanResponse decoded from a gRPC message; Arrow data aligned (see above). The
 * buffer is the message's alone, and nothing reads its raw bytes after decoding.
 */
export const decodeExecutePlanResponse = (message: Uint8Array): ExecutePlanResponse => {
  const response = fromBinary(ExecutePlanResponseSchema, message)
  if (response.responseType.case === "arrowBatch") {
    const batch = response.responseType.value
    if (batch.$unknown === undefined || batch.$unknown.length === 0)
      batch.data = alignInPlace(message, batch.data)
  }
  return response
}
