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

/** The rows of each response, in order (none for responses without an Arrow batch). */
export const rowBatches = <E>(
  responses: Stream.Stream<ExecutePlanResponse, E>
): Stream.Stream<Array<Rows.Row>, E | Rows.RowsError> =>
  Stream.suspend(() => {
    let schema: DataType | undefined
    return responses.pipe(
      Stream.mapEffect((response) => {
        if (response.schema !== undefined) schema = response.schema
        if (response.responseType.case !== "arrowBatch") return Effect.succeed([])
        const batches = tableFromIPC(response.responseType.value.data).batches
        const decoded = Result.all(batches.map((batch) => Rows.fromBatch(batch, schema)))
        return Effect.fromResult(Result.map(decoded, (rows) => rows.flat()))
      })
    )
  })
