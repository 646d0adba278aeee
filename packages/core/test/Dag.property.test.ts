import { Graph, Result } from "effect"
import * as fc from "fast-check"
import { describe, expect, it } from "vitest"
import * as Dag from "../src/Dag.js"
import { arbitraryDeps, arbitraryOrder } from "./arbitrary.js"

// Rule i depends on some rules before it; ids are listed in a random order.
const arbitraryDag = fc
  .integer({ min: 2, max: 40 })
  .chain((n) => fc.record({ deps: arbitraryDeps(n, 5), order: arbitraryOrder(n) }))

const nodes = (deps: ReadonlyArray<ReadonlyArray<number>>, order: ReadonlyArray<number>) =>
  order.map((i) => ({ id: `r${i}`, dependsOn: deps[i]!.map((d) => `r${d}`) }))

describe("Dag properties", () => {
  it("orders every rule exactly once, after all its dependencies", () => {
    fc.assert(
      fc.property(arbitraryDag, ({ deps, order }) => {
        const plan = Dag.make(nodes(deps, order))
        if (Result.isFailure(plan)) throw new Error(plan.failure.map(Dag.describe).join("; "))
        expect([...plan.success.order].sort()).toEqual(order.map((i) => `r${i}`).sort())
        const position = new Map(plan.success.order.map((id, p) => [id, p]))
        deps.forEach((ds, i) =>
          ds.forEach((d) => expect(position.get(`r${d}`)!).toBeLessThan(position.get(`r${i}`)!))
        )
      }),
      { numRuns: 300 }
    )
  })

  it("finds a cycle closed by any back edge, and its path follows real dependencies", () => {
    fc.assert(
      fc.property(
        arbitraryDag.chain((g) =>
          fc.record({ g: fc.constant(g), from: fc.integer({ min: 0, max: g.deps.length - 2 }) })
        ),
        ({ g, from }) => {
          // Make `from` depend on the last rule, which (transitively or not) may depend on it.
          const last = g.deps.length - 1
          const deps = g.deps.map((ds, i) => (i === from ? [...ds, last] : ds))
          const cyclic = deps[last]!.length > 0 && reaches(deps, last, from)
          const plan = Dag.make(nodes(deps, g.order))
          expect(Result.isFailure(plan)).toBe(cyclic)
          if (Result.isFailure(plan)) {
            const cycle = plan.failure.find((i) => i._tag === "Cycle")
            if (cycle?._tag !== "Cycle") throw new Error("no cycle reported")
            expect(cycle.path[0]).toBe(cycle.path.at(-1))
            // Each step x -> y of the path is an edge: y depends on x.
            for (let k = 0; k + 1 < cycle.path.length; k++) {
              const y = Number(cycle.path[k + 1]!.slice(1))
              expect(deps[y]).toContain(Number(cycle.path[k]!.slice(1)))
            }
          }
        }
      ),
      { numRuns: 300 }
    )
  })
})

// Whether rule `a` depends (transitively) on rule `b`.
const reaches = (deps: ReadonlyArray<ReadonlyArray<number>>, a: number, b: number): boolean => {
  const seen = new Set<number>()
  const stack = [a]
  while (stack.length > 0) {
    const x = stack.pop()!
    if (x === b) return true
    if (seen.has(x)) continue
    seen.add(x)
    stack.push(...deps[x]!)
  }
  return false
}

describe("Dag order", () => {
  it("is the order Graph.topo gives", () => {
    fc.assert(
      fc.property(arbitraryDag, ({ deps, order }) => {
        const plan = Dag.make(nodes(deps, order))
        if (Result.isFailure(plan)) throw new Error(plan.failure.map(Dag.describe).join("; "))
        expect(plan.success.order).toEqual(Array.from(Graph.values(Graph.topo(plan.success.graph))))
      }),
      { numRuns: 300 }
    )
  })
})
