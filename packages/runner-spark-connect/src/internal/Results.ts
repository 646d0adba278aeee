/**
 * Rows from a result stream. Spark sends the result's schema (its own DataType) before the first
 * Arrow batch; rows are checked against it, as its struct-field names are Spark's while the
 * Arrow batches rename repeated ones.
 */
import { tableFromIPC } from "apache-arrow"
import * as Effect from "effect/Effect"
import * as Result from "effect/Result"
import * as Stream from "effect/Stream"
import type { ExecutePlanResponse } from "../generated/spark/connect/base_pb.js"
import type { DataType } from "../generated/spark/connect/types_pb.js"
import * as Rows from "../Rows.js"

/**
 * The rows of the responses, in order: one array per chunk of responses that arrived together
 * (empty for a chunk without an Arrow batch).
 */
export const rowBatches = <E>(
  responses: Stream.Stream<ExecutePlanResponse, E>
): Stream.Stream<Array<Rows.Row>, E | Rows.RowsError> =>
  Stream.suspend(() => {
    let schema: DataType | undefined
    return responses.pipe(
      Stream.mapArrayEffect((chunk) => {
        let rows: Array<Rows.Row> = []
        for (const response of chunk) {
          if (response.schema !== undefined) schema = response.schema
          if (response.responseType.case !== "arrowBatch") continue
          for (const batch of tableFromIPC(response.responseType.value.data).batches) {
            const decoded = Rows.fromBatch(batch, schema)
            if (Result.isFailure(decoded)) return Effect.fail(decoded.failure)
            rows = rows.length === 0 ? decoded.success : rows.concat(decoded.success)
          }
        }
        return Effect.succeed([rows] as const)
      })
    )
  })
