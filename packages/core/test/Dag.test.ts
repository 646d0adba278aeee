import { Result } from "effect"
import { describe, expect, it } from "vitest"
import * as Dag from "../src/Dag.js"

const plan = (nodes: ReadonlyArray<Dag.Node>) => {
  const r = Dag.make(nodes)
  if (Result.isFailure(r)) throw new Error(r.failure.map(Dag.describe).join("\n"))
  return r.success
}
const issues = (nodes: ReadonlyArray<Dag.Node>) => {
  const r = Dag.make(nodes)
  if (Result.isSuccess(r)) throw new Error("expected issues")
  return r.failure
}

describe("Dag", () => {
  it("orders every dependency before its dependents", () => {
    const p = plan([
      { id: "report", dependsOn: ["join"] },
      { id: "join", dependsOn: ["a", "b"] },
      { id: "a", dependsOn: [] },
      { id: "b", dependsOn: ["a"] }
    ])
    const pos = (id: string) => p.order.indexOf(id)
    expect(p.order).toHaveLength(4)
    expect(pos("a")).toBeLessThan(pos("b"))
    expect(pos("b")).toBeLessThan(pos("join"))
    expect(pos("join")).toBeLessThan(pos("report"))
    expect(p.dependencies.get("join")).toEqual(["a", "b"])
    expect(p.dependents.get("a")).toEqual(["join", "b"])
  })

  it("reports duplicates, unknown references and self-dependencies together", () => {
    const found = issues([
      { id: "a", dependsOn: ["ghost"] },
      { id: "a", dependsOn: [] },
      { id: "b", dependsOn: ["b"] }
    ])
    expect(found.map(Dag.describe)).toEqual([
      'rule "a" depends on unknown rule "ghost"',
      'duplicate rule id "a" (first declared as rule #1)',
      'rule "b" depends on itself'
    ])
  })

  it("reports a cycle with its path", () => {
    const found = issues([
      { id: "start", dependsOn: [] },
      { id: "x", dependsOn: ["start", "z"] },
      { id: "y", dependsOn: ["x"] },
      { id: "z", dependsOn: ["y"] }
    ])
    expect(found).toHaveLength(1)
    const cycle = found[0]!
    expect(cycle._tag).toBe("Cycle")
    if (cycle._tag !== "Cycle") return
    // The loop closes on itself and contains exactly x, y, z.
    expect(cycle.path[0]).toBe(cycle.path[cycle.path.length - 1])
    expect(new Set(cycle.path)).toEqual(new Set(["x", "y", "z"]))
    expect(Dag.describe(cycle)).toMatch(/^dependency cycle: (\w+ -> ){3}\w+$/)
  })

  it("renders the plan as text and as Mermaid", () => {
    const p = plan([
      { id: "load", dependsOn: [] },
      { id: "agg", dependsOn: ["load"] }
    ])
    expect(Dag.toText(p)).toBe("1. load\n2. agg (after load)")
    const mermaid = Dag.toMermaid(p)
    expect(mermaid.split("\n")[0]).toBe("flowchart LR")
    expect(mermaid).toContain('["load"]')
    expect(mermaid).toContain('["agg"]')
    expect(mermaid).toMatch(/0 -->.*1/)
  })
})
