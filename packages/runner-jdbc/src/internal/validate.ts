/** The static check of a `jdbc` rule: its id names a view, its parameters are declared and secret. */
import * as Effect from "effect/Effect"
import { Parameter } from "@spark-etl/core"
import type { Plugin } from "@spark-etl/core"
import type * as JdbcOptions from "../JdbcOptions.js"

const identifier = /^[A-Za-z_][A-Za-z0-9_]*$/

const declaredIssue = (
  ctx: Plugin.ValidateContext<JdbcOptions.JdbcOptions>,
  field: "user" | "password",
  name: string
): ReadonlyArray<Plugin.Issue> => {
  const spec = ctx.parameters[name]
  const declared = Object.keys(ctx.parameters)
  if (spec === undefined)
    return [
      {
        path: [field, "param"],
        message: `parameter "${name}" is not declared in the batch's parameters (declared: ${declared.length > 0 ? declared.join(", ") : "none"})`
      }
    ]
  if (field === "password" && !Parameter.isSecret(name, spec))
    return [
      {
        path: [field, "param"],
        message: `parameter "${name}" must be secret (secret: true, read from its env variable): a password never comes from the command line or the batch file`
      }
    ]
  return []
}

/**
 * Everything checkable without the engine, `write.from` being one of the rule's `depends_on`
 * included (preflight and run check it again, for a caller that gives no `depends_on`).
 */
export const validate = (
  ctx: Plugin.ValidateContext<JdbcOptions.JdbcOptions>
): Effect.Effect<ReadonlyArray<Plugin.Issue>> =>
  Effect.sync(() => {
    const { options } = ctx
    return [
      ...(options.read !== undefined && !identifier.test(ctx.rule.id)
        ? [
            {
              path: [],
              message: `rule id "${ctx.rule.id}" cannot name the rule's temp view; a jdbc read rule's id must be letters, digits and '_'`
            }
          ]
        : []),
      ...(options.write !== undefined && options.write.from === ctx.rule.id
        ? [{ path: ["write", "from"], message: "a rule cannot write its own result" }]
        : options.write !== undefined &&
            ctx.rule.dependsOn !== undefined &&
            !ctx.rule.dependsOn.includes(options.write.from)
          ? [
              {
                path: ["write", "from"],
                message: `rule "${options.write.from}" is not in this rule's depends_on (${ctx.rule.dependsOn.join(", ") || "none"}): its view may not exist yet when this rule runs`
              }
            ]
          : []),
      ...(typeof options.user === "object" ? declaredIssue(ctx, "user", options.user.param) : []),
      ...(options.password !== undefined ? declaredIssue(ctx, "password", options.password.param) : [])
    ]
  })
