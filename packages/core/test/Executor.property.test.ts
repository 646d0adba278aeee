import { Effect } from "effect"
import * as fc from "fast-check"
import { describe, expect, it } from "vitest"
import * as Dag from "../src/Dag.js"
import * as Executor from "../src/Executor.js"
import * as Failure from "../src/Failure.js"
import { arbitraryDeps, arbitraryOrder } from "./arbitrary.js"

// A random DAG: rule i may depend only on rules before it (so it is acyclic), listed in a random
// order, each rule taking a random number of scheduler turns.
const arbitraryBatch = fc.integer({ min: 1, max: 25 }).chain((n) =>
  fc.record({
    deps: arbitraryDeps(n, 4),
    turns: fc.array(fc.integer({ min: 0, max: 6 }), { minLength: n, maxLength: n }),
    order: arbitraryOrder(n),
    parallelism: fc.integer({ min: 1, max: 5 }),
    failAt: fc.option(fc.integer({ min: 0, max: n - 1 }), { nil: undefined })
  })
)

// What the rules did ("start", "end", "fail") and what the executor saw ("failed": its record
// of a rule's failure, i.e. the moment the batch knows it failed).
type Log = Array<{ readonly id: string; readonly event: "start" | "end" | "fail" | "failed" }>

interface Generated {
  readonly deps: ReadonlyArray<ReadonlyArray<number>>
  readonly turns: ReadonlyArray<number>
  readonly order: ReadonlyArray<number>
  readonly parallelism: number
  readonly failAt: number | undefined
}

const runBatch = (b: Generated) => {
  const id = (i: number) => `r${i}`
  const planned = Dag.make(b.order.map((i) => ({ id: id(i), dependsOn: b.deps[i]!.map(id) })))
  if (planned._tag === "Failure") throw new Error("generator made an invalid DAG")
  const log: Log = []
  const runRule: Executor.RunRule = (rule) =>
    Effect.gen(function* () {
      log.push({ id: rule, event: "start" })
      const i = Number(rule.slice(1))
      for (let t = 0; t < b.turns[i]!; t++) yield* Effect.yieldNow
      if (i === b.failAt) {
        log.push({ id: rule, event: "fail" })
        return yield* Effect.fail(new Failure.ExpectationFailed({ message: "injected", ruleId: rule }))
      }
      log.push({ id: rule, event: "end" })
    })
  const onTransition = (t: Executor.Transition) =>
    Effect.sync(() => {
      if (t._tag === "RuleEnded" && t.result.state === "failed")
        log.push({ id: t.result.id, event: "failed" })
    })
  return Effect.runPromise(
    Executor.execute(planned.success, runRule, { parallelism: b.parallelism, onTransition })
  ).then((report) => ({ report, log, plan: planned.success }))
}

describe("Executor properties", () => {
  it("runs each rule at most once, only after its dependencies succeeded", async () => {
    await fc.assert(
      fc.asyncProperty(arbitraryBatch, async (b) => {
        const { report, log, plan } = await runBatch(b)
        const starts = log.filter((e) => e.event === "start").map((e) => e.id)
        expect(new Set(starts).size).toBe(starts.length)
        for (const [index, entry] of log.entries()) {
          if (entry.event !== "start") continue
          for (const dep of plan.dependencies.get(entry.id) ?? []) {
            const depEnd = log.findIndex((e) => e.id === dep && e.event === "end")
            expect(depEnd).toBeGreaterThanOrEqual(0)
            expect(depEnd).toBeLessThan(index)
          }
        }
        if (b.failAt === undefined) {
          expect(report.status).toBe("succeeded")
          expect(starts.length).toBe(plan.order.length)
        }
        // The report accounts for every rule exactly once.
        expect(report.rules.map((r) => r.id).sort()).toEqual([...plan.order].sort())
      }),
      { numRuns: 300 }
    )
  })

  it("starts no rule after an injected failure, and records the rest as not run", async () => {
    await fc.assert(
      fc.asyncProperty(
        arbitraryBatch.filter((b) => b.failAt !== undefined),
        async (b) => {
          const { report, log } = await runBatch(b)
          // Only one failure is injected, and every rule's dependencies succeed, so it is reached.
          const failed = log.findIndex((e) => e.event === "failed")
          expect(failed).toBeGreaterThanOrEqual(0)
          expect(log.slice(failed).filter((e) => e.event === "start")).toEqual([])
          expect(report.status).toBe("failed")
          expect(report.failure?.ruleId).toBe(`r${b.failAt}`)
          const started = new Set(log.filter((e) => e.event === "start").map((e) => e.id))
          for (const r of report.rules) {
            if (!started.has(r.id)) expect(r.state).toBe("not_run")
            else expect(["succeeded", "failed", "interrupted"]).toContain(r.state)
          }
        }
      ),
      { numRuns: 300 }
    )
  })
})
