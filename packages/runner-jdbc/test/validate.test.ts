// The static check: parameters named by user and password declared, the password's secret.
import type { Parameter } from "@spark-etl/core"
import { Effect } from "effect"
import { describe, expect, it } from "vitest"
import type * as JdbcOptions from "../src/JdbcOptions.js"
import { validate } from "../src/internal/validate.js"

const check = (
  options: JdbcOptions.JdbcOptions,
  parameters: Readonly<Record<string, Parameter.Spec>>,
  ruleId = "orders",
  dependsOn?: ReadonlyArray<string>
) =>
  Effect.runSync(
    validate({
      batchDir: ".",
      rule: { id: ruleId, kind: "jdbc", ...(dependsOn !== undefined ? { dependsOn } : {}) },
      options,
      parameters
    })
  ).map((i) => [i.path.join("."), i.message])

const url = "jdbc:postgresql://db/shop"

describe("validate", () => {
  it("accepts a password from a secret parameter (declared, or secret by its name from env)", () => {
    const read = { table: "t" }
    expect(
      check({ url, password: { param: "pw" }, read }, { pw: { type: "string", env: "PW", secret: true } })
    ).toEqual([])
    expect(
      check(
        { url, password: { param: "db_password" }, read },
        { db_password: { type: "string", env: "DB_PASSWORD" } }
      )
    ).toEqual([])
  })

  it("refuses an undeclared parameter, a password that is not secret, a bad view name, a rule writing itself", () => {
    expect(check({ url, user: { param: "who" }, read: { table: "t" } }, {})).toEqual([
      ["user.param", 'parameter "who" is not declared in the batch\'s parameters (declared: none)']
    ])
    const notSecret = check(
      { url, password: { param: "pw" }, read: { table: "t" } },
      { pw: { type: "string", default: "x" } }
    )
    expect(notSecret).toHaveLength(1)
    expect(notSecret[0]?.[0]).toBe("password.param")
    expect(notSecret[0]?.[1]).toContain('parameter "pw" must be secret')
    expect(check({ url, read: { table: "t" } }, {}, "orders-2024")[0]?.[1]).toContain(
      "cannot name the rule's temp view"
    )
    expect(check({ url, write: { from: "load", table: "t" } }, {}, "load")).toEqual([
      ["write.from", "a rule cannot write its own result"]
    ])
  })

  it("refuses a write whose from is not among the rule's depends_on, when the batch gives them", () => {
    const write = { from: "totals", table: "reporting.t" }
    expect(check({ url, write }, {}, "publish", ["load"])).toEqual([
      [
        "write.from",
        'rule "totals" is not in this rule\'s depends_on (load): its view may not exist yet when this rule runs'
      ]
    ])
    expect(check({ url, write }, {}, "publish", [])[0]?.[1]).toContain("depends_on (none)")
    expect(check({ url, write }, {}, "publish", ["load", "totals"])).toEqual([])
  })
})
