import { Effect } from "effect"
import * as fc from "fast-check"
import { describe, expect, it } from "vitest"
import * as Dag from "../src/Dag.js"
import * as Resume from "../src/Resume.js"
import { arbitraryDeps, arbitraryOrder } from "./arbitrary.js"

// A random DAG listed in a random order, and for each rule whether its checkpoint is valid.
const arbitraryCase = fc.integer({ min: 1, max: 30 }).chain((n) =>
  fc.record({
    deps: arbitraryDeps(n, 4),
    order: arbitraryOrder(n),
    valid: fc.array(fc.boolean(), { minLength: n, maxLength: n })
  })
)

describe("Resume.plan (property)", () => {
  it("re-runs every rule downstream of a re-run rule, skips only valid ones, asks each rule at most once", () =>
    fc.assert(
      fc.property(arbitraryCase, ({ deps, order, valid }) => {
        const id = (i: number) => `r${i}`
        const planned = Dag.make(order.map((i) => ({ id: id(i), dependsOn: deps[i]!.map(id) })))
        if (planned._tag === "Failure") throw new Error("generator made an invalid DAG")
        const plan = planned.success
        const asked: Array<string> = []
        const decisions = Effect.runSync(
          Resume.plan(plan, (rule) =>
            Effect.sync(() => {
              asked.push(rule)
              return valid[Number(rule.slice(1))] ? Resume.valid : Resume.invalid("changed")
            })
          )
        )
        expect(new Set(asked).size).toBe(asked.length)
        expect([...decisions.keys()].sort()).toEqual(plan.order.slice().sort())
        // Whatever runs makes everything after it run (checked transitively through the order).
        const runs = (r: string) => decisions.get(r)!._tag === "Run"
        for (const r of plan.order) {
          const upstream = plan.dependencies.get(r) ?? []
          if (upstream.some(runs)) {
            expect(runs(r)).toBe(true)
            expect(asked).not.toContain(r)
          } else expect(asked).toContain(r)
          if (!runs(r)) expect(valid[Number(r.slice(1))]).toBe(true)
          if (runs(r) && !upstream.some(runs)) expect(valid[Number(r.slice(1))]).toBe(false)
        }
        // No rule is listed twice: each is either skipped or run, once.
        const skipped = Resume.skipped(plan, decisions)
        expect(skipped.length + plan.order.filter(runs).length).toBe(plan.order.length)
      }),
      { numRuns: 300 }
    ))
})
