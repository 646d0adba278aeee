/** One AnalyzePlan(spark_version) round trip: the cheapest real RPC, used to tell "ready". */
import * as grpc from "@grpc/grpc-js"
import { create } from "@bufbuild/protobuf"
import * as Effect from "effect/Effect"
import { randomUUID } from "node:crypto"
import {
  AnalyzePlanRequestSchema,
  AnalyzePlanRequest_SparkVersionSchema,
  SparkConnectService,
  UserContextSchema
} from "../generated/spark/connect/base_pb.js"
import * as Rpc from "./Rpc.js"

export type RpcFailure = Rpc.RpcFailure

// A server started with spark.connect.authenticate.token answers nothing without it.
const withToken = (token: string | undefined): grpc.Metadata => {
  const metadata = new grpc.Metadata()
  if (token !== undefined) metadata.set("authorization", `Bearer ${token}`)
  return metadata
}

export const sparkVersion = (
  address: string,
  timeoutMs: number,
  token?: string
): Effect.Effect<string, Rpc.RpcFailure> =>
  Effect.acquireUseRelease(
    Effect.sync(() => new grpc.Client(address, grpc.credentials.createInsecure())),
    (client) =>
      Rpc.unary(
        client,
        SparkConnectService.method.analyzePlan,
        create(AnalyzePlanRequestSchema, {
          sessionId: randomUUID(),
          userContext: create(UserContextSchema, { userId: "spark-etl-probe" }),
          clientType: "spark-etl/probe",
          analyze: { case: "sparkVersion", value: create(AnalyzePlanRequest_SparkVersionSchema, {}) }
        }),
        { metadata: withToken(token), timeoutMs }
      ).pipe(
        Effect.map((response) =>
          response.result.case === "sparkVersion" ? response.result.value.version : "?"
        )
      ),
    (client) => Effect.sync(() => client.close())
  )
