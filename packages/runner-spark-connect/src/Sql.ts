/**
 * A first, minimal query path: one SQL query on a fresh session, its Arrow batches collected
 * into a table. The full client (sessions, bound parameters, reattach, typed errors) builds
 * on the same Rpc module.
 */
import * as grpc from "@grpc/grpc-js"
import { create } from "@bufbuild/protobuf"
import { tableFromIPC, type Table } from "apache-arrow"
import { Effect, Stream } from "effect"
import { randomUUID } from "node:crypto"
import {
  ExecutePlanRequestSchema,
  PlanSchema,
  SparkConnectService
} from "./generated/spark/connect/base_pb.js"
import { RelationSchema, SQLSchema } from "./generated/spark/connect/relations_pb.js"
import * as Rpc from "./internal/Rpc.js"

export type RpcFailure = Rpc.RpcFailure

/** `sc://host:port/...` → `host:port` (parameters are not used by this minimal path). */
export const addressOf = (remote: string): string => remote.replace(/^sc:\/\//, "").replace(/\/.*$/, "")

/**
 * Runs one query and returns its result as an Arrow table.
 *
 * @example
 * const table = yield* Sql.collect("sc://127.0.0.1:15002", "SELECT 1 AS one")
 */
export const collect = (
  remote: string,
  query: string,
  timeoutMs = 60_000
): Effect.Effect<Table, Rpc.RpcFailure> =>
  Effect.acquireUseRelease(
    Effect.sync(() => new grpc.Client(addressOf(remote), grpc.credentials.createInsecure())),
    (client) =>
      Stream.runCollect(
        Rpc.serverStream(
          client,
          SparkConnectService.method.executePlan,
          create(ExecutePlanRequestSchema, {
            sessionId: randomUUID(),
            userContext: { userId: "spark-etl" },
            clientType: "spark-etl",
            plan: create(PlanSchema, {
              opType: {
                case: "root",
                value: create(RelationSchema, {
                  relType: { case: "sql", value: create(SQLSchema, { query }) }
                })
              }
            })
          }),
          { metadata: new grpc.Metadata(), timeoutMs }
        )
      ).pipe(
        Effect.map((responses) =>
          tableFromIPC(
            responses.flatMap((r) =>
              r.responseType.case === "arrowBatch" ? [r.responseType.value.data] : []
            )
          )
        )
      ),
    (client) => Effect.sync(() => client.close())
  )
