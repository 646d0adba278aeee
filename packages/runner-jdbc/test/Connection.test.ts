// The batch parameters a jdbc rule uses, for its checkpoint: those its user and password name.
import { Result } from "effect"
import { Plugin } from "@spark-etl/core"
import { describe, expect, it } from "vitest"
import * as JdbcRunner from "../src/JdbcRunner.js"
import * as Connection from "../src/internal/connection.js"

const decode = (options: unknown): JdbcRunner.Options => {
  const decoded = Plugin.decodeOptions(JdbcRunner.runner, options)
  if (Result.isFailure(decoded)) throw new Error(`options do not decode: ${JSON.stringify(decoded.failure)}`)
  return decoded.success
}

const url = "jdbc:postgresql://db/shop"

describe("Connection.parameters", () => {
  it("names the user's and the password's parameters, nothing of a query or the connection options", () => {
    expect(
      Connection.parameters(
        decode({
          url,
          user: { param: "db_user" },
          password: { param: "db_password" },
          connection_options: { application_name: ":app" },
          read: { query: "SELECT * FROM t WHERE d = :run_date" }
        })
      )
    ).toEqual(["db_user", "db_password"])
    expect(
      Connection.parameters(
        decode({ url, user: "etl", password: { param: "pw" }, write: { from: "a", table: "t" } })
      )
    ).toEqual(["pw"])
    expect(Connection.parameters(decode({ url, read: { table: "t" } }))).toEqual([])
  })
})

describe("Connection.sparkOptions", () => {
  const optionsOf = (rule: unknown) => {
    const built = Connection.sparkOptions(decode(rule), {}, "r")
    if (Result.isFailure(built)) throw new Error(built.failure.message)
    return built.success
  }

  it("on PostgreSQL, a driver property goes in the URL, its name's case kept; Spark's own options stay options", () => {
    expect(
      optionsOf({
        url: "jdbc:postgresql://db/shop?ssl=true",
        connection_options: {
          currentSchema: "mart",
          sslmode: "require",
          queryTimeout: 30,
          options: "-c a=b&c"
        },
        read: { table: "t" }
      })
    ).toEqual({
      url: "jdbc:postgresql://db/shop?ssl=true&currentSchema=mart&sslmode=require&options=-c%20a%3Db%26c",
      queryTimeout: "30"
    })
  })

  it("on another database, every option is an option (its driver gets the name lower-cased)", () => {
    expect(
      optionsOf({
        url: "jdbc:sqlserver://db:1433",
        connection_options: { encrypt: true, trustServerCertificate: false },
        read: { table: "t" }
      })
    ).toEqual({ url: "jdbc:sqlserver://db:1433", encrypt: "true", trustServerCertificate: "false" })
  })
})
