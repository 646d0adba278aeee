/** One AnalyzePlan(spark_version) round trip: the cheapest real RPC, used to tell "ready". */
import { create } from "@bufbuild/protobuf"
import * as Effect from "effect/Effect"
import { randomUUID } from "node:crypto"
import {
  AnalyzePlanRequestSchema,
  AnalyzePlanRequest_SparkVersionSchema,
  SparkConnectService,
  UserContextSchema
} from "../generated/spark/connect/base_pb.js"
import * as Connection from "./Connection.js"
import * as Rpc from "./Rpc.js"

export type RpcFailure = Rpc.RpcFailure

// A server started with spark.connect.authenticate.token answers nothing without it.
const withToken = (token: string | undefined): Readonly<Record<string, string>> =>
  token === undefined ? {} : { authorization: `Bearer ${token}` }

export const sparkVersion = (
  address: string,
  timeoutMs: number,
  token?: string
): Effect.Effect<string, Rpc.RpcFailure> =>
  Effect.acquireUseRelease(
    Effect.sync(() => Connection.make({ address, useSsl: false })),
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
