/**
 * The rule DAG, on effect's `Graph`: an edge runs from a rule to each rule that depends on it,
 * so a topological order puts every dependency first. Building it reports duplicate ids,
 * unknown references and a cycle (with its path) together, by rule index, so the batch loader
 * can point at the YAML.
 */
import * as Graph from "effect/Graph"
import * as Option from "effect/Option"
import * as Result from "effect/Result"

/** What the DAG needs to know about a rule. */
export interface Node {
  readonly id: string
  readonly dependsOn: ReadonlyArray<string>
}

/** A problem in the rules' graph; `index` is the rule's position in the batch file. */
export type Issue =
  | { readonly _tag: "DuplicateId"; readonly index: number; readonly id: string; readonly firstIndex: number }
  | {
      readonly _tag: "UnknownDependency"
      readonly index: number
      readonly dependency: number
      readonly id: string
      readonly missing: string
    }
  | { readonly _tag: "SelfDependency"; readonly index: number; readonly id: string }
  | { readonly _tag: "Cycle"; readonly index: number; readonly path: ReadonlyArray<string> }

/** A validated plan: the graph, a topological order and the neighbours of each rule. */
export interface Plan {
  readonly graph: Graph.DirectedGraph<string, void>
  /** Rule ids, every dependency before its dependents. */
  readonly order: ReadonlyArray<string>
  /** Direct dependencies of each rule. */
  readonly dependencies: ReadonlyMap<string, ReadonlyArray<string>>
  /** Direct dependents of each rule. */
  readonly dependents: ReadonlyMap<string, ReadonlyArray<string>>
}

/** Renders an issue as one line of English. */
export const describe = (issue: Issue): string => {
  switch (issue._tag) {
    case "DuplicateId":
      return `duplicate rule id "${issue.id}" (first declared as rule #${issue.firstIndex + 1})`
    case "UnknownDependency":
      return `rule "${issue.id}" depends on unknown rule "${issue.missing}"`
    case "SelfDependency":
      return `rule "${issue.id}" depends on itself`
    case "Cycle":
      return `dependency cycle: ${issue.path.join(" -> ")}`
  }
}

/** Builds the plan, or every problem of the graph at once. */
export const make = (nodes: ReadonlyArray<Node>): Result.Result<Plan, ReadonlyArray<Issue>> => {
  const issues: Array<Issue> = []
  const indexOf = new Map<string, number>()
  const graphIndex = new Map<string, Graph.NodeIndex>()
  const dependencies = new Map<string, Array<string>>()
  const dependents = new Map<string, Array<string>>()
  // Kahn's algorithm alongside the graph: in-degrees and out-edges by graph index.
  const ids: Array<string> = []
  const inDegree: Array<number> = []
  const outgoing: Array<Array<Graph.NodeIndex>> = []
  const graph = Graph.directed<string, void>((mutable) => {
    for (let index = 0; index < nodes.length; index++) {
      const { id } = nodes[index]!
      const first = indexOf.get(id)
      if (first !== undefined) {
        issues.push({ _tag: "DuplicateId", index, id, firstIndex: first })
        continue
      }
      indexOf.set(id, index)
      const at = Graph.addNode(mutable, id)
      graphIndex.set(id, at)
      dependencies.set(id, [])
      dependents.set(id, [])
      ids[at] = id
      inDegree[at] = 0
      outgoing[at] = []
    }
    for (let index = 0; index < nodes.length; index++) {
      const node = nodes[index]!
      if (indexOf.get(node.id) !== index) continue
      const to = graphIndex.get(node.id)!
      const own = dependencies.get(node.id)!
      const seen = new Set<string>()
      node.dependsOn.forEach((dep, dependency) => {
        if (seen.has(dep)) return
        seen.add(dep)
        const from = graphIndex.get(dep)
        if (dep === node.id) issues.push({ _tag: "SelfDependency", index, id: node.id })
        else if (from === undefined) {
          issues.push({ _tag: "UnknownDependency", index, dependency, id: node.id, missing: dep })
        } else {
          Graph.addEdge(mutable, from, to, undefined)
          own.push(dep)
          dependents.get(dep)!.push(node.id)
          outgoing[from]!.push(to)
          inDegree[to]!++
        }
      })
    }
  })
  const order = topologicalOrder(inDegree, outgoing).map((at) => ids[at]!)
  // Only a graph with a cycle leaves rules unordered; then find it, with its path.
  if (order.length < graphIndex.size) {
    const cycle = Graph.findCycle(graph)
    if (Option.isSome(cycle)) {
      const loop = cycle.value.path.map((i) => ids[i]!)
      // Show the loop in data-flow order (x -> y: y depends on x), closed on its first rule.
      const first = loop[0]!
      const closed = loop[loop.length - 1] === first ? loop : [...loop, first]
      issues.push({ _tag: "Cycle", index: indexOf.get(first)!, path: closed })
    }
  }
  if (issues.length > 0) return Result.fail(issues.sort((a, b) => a.index - b.index))
  return Result.succeed({ graph, order, dependencies, dependents })
}

// The order `Graph.topo` gives (Kahn's, first-in first-out, nodes and edges in insertion
// order) without its own acyclicity pass; shorter than the graph when there is a cycle.
const topologicalOrder = (
  inDegree: Array<number>,
  outgoing: ReadonlyArray<ReadonlyArray<Graph.NodeIndex>>
): Array<Graph.NodeIndex> => {
  const queue: Array<Graph.NodeIndex> = []
  for (let at = 0; at < inDegree.length; at++) if (inDegree[at] === 0) queue.push(at)
  for (let head = 0; head < queue.length; head++) {
    for (const next of outgoing[queue[head]!]!) if (--inDegree[next]! === 0) queue.push(next)
  }
  return queue
}

/** The plan as numbered text, one rule a line with its dependencies. */
export const toText = (plan: Plan): string =>
  plan.order
    .map((id, i) => {
      const deps = plan.dependencies.get(id) ?? []
      return `${i + 1}. ${id}${deps.length > 0 ? ` (after ${deps.join(", ")})` : ""}`
    })
    .join("\n")

/** The plan as a Mermaid flowchart, dependencies pointing at their dependents. */
export const toMermaid = (plan: Plan): string =>
  Graph.toMermaid(plan.graph, { direction: "LR", nodeLabel: (id) => id, edgeLabel: () => "" })
