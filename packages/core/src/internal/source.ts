/**
 * The batch file's YAML: its value, and the positions of its nodes for issue messages. The
 * value comes from the fast reader when the text is in its subset, and positions from its second
 * reading, only when one is asked for (an issue to report). The `yaml` library's document is
 * built only when the fast reader declined (so syntax errors are `yaml`'s, as always).
 */
import * as Result from "effect/Result"
import * as Yaml from "yaml"
import type * as Failure from "../Failure.js"
import * as FastYaml from "./fastYaml.js"

type Position = FastYaml.Position

/** A parsed batch file. */
export interface Source {
  readonly value: unknown
  /** Where the node at `path` is (its key when `atKey`), else the nearest enclosing node. */
  readonly position: (path: ReadonlyArray<string | number>, atKey?: boolean) => Position
  /** The line of the node at `path`; for an item of a sequence, without building positions. */
  readonly line: (path: ReadonlyArray<string | number>) => number
}

interface Positioned {
  readonly doc: Yaml.Document
  readonly lineCounter: Yaml.LineCounter
}

/**
 * `yaml` warns on the process's stderr, outside every log, about what it keeps anyway (a mapping
 * used as a key, as in `{{ min: 1 }}`, becomes its text); the schema then refuses that key with
 * its file, line and column, so the warning only adds noise ahead of the real message.
 */
export const logLevel = "error"

const withPositions = (text: string): Positioned => {
  const lineCounter = new Yaml.LineCounter()
  const doc = Yaml.parseDocument(text, { lineCounter, uniqueKeys: true, prettyErrors: false, logLevel })
  return { doc, lineCounter }
}

const at = (lineCounter: Yaml.LineCounter, offset: number): Position => {
  const pos = lineCounter.linePos(offset)
  return { line: pos.line, column: pos.col }
}

const positionIn = (
  { doc, lineCounter }: Positioned,
  path: ReadonlyArray<string | number>,
  atKey = false
): Position => at(lineCounter, locate(doc, path, atKey))

/** Parses `text`; fails with its syntax errors (or a document `yaml` refuses to expand). */
export const read = (
  text: string,
  file: string
): Result.Result<Source, ReadonlyArray<Failure.ConfigIssue>> => {
  const fast = FastYaml.read(text)
  if (fast !== undefined) {
    // The second reading cannot decline what the first accepted; `yaml` stays the fallback.
    let located: FastYaml.Located | Positioned | undefined
    const position = (path: ReadonlyArray<string | number>, atKey = false) => {
      located ??= FastYaml.locate(text) ?? withPositions(text)
      return "root" in located ? FastYaml.position(located, path, atKey) : positionIn(located, path, atKey)
    }
    return Result.succeed({
      value: fast.value,
      position,
      line: (path) => itemLine(fast, path) ?? position(path).line
    })
  }
  const positioned = withPositions(text)
  const { doc } = positioned
  if (doc.errors.length > 0) {
    return Result.fail(
      doc.errors.map((e) => ({
        file,
        ...at(positioned.lineCounter, e.pos[0]),
        field: "(syntax)",
        message: e.message.split("\n")[0]!
      }))
    )
  }
  // toJS throws on alias bombs (more than maxAliasCount expansions): that is bad input too.
  const value = Result.try(() => doc.toJS({ maxAliasCount: 100 }) as unknown)
  if (Result.isFailure(value)) {
    const e = value.failure
    return Result.fail([
      { file, line: 1, column: 1, field: "(document)", message: e instanceof Error ? e.message : String(e) }
    ])
  }
  const position = (path: ReadonlyArray<string | number>, atKey = false) =>
    positionIn(positioned, path, atKey)
  return Result.succeed({ value: value.success, position, line: (path) => position(path).line })
}

// The line the fast reader recorded for an item of a block sequence, when `path` names one.
const itemLine = (fast: FastYaml.Read, path: ReadonlyArray<string | number>): number | undefined => {
  const index = path[path.length - 1]
  if (typeof index !== "number") return undefined
  let node: unknown = fast.value
  for (const segment of path.slice(0, -1)) {
    if (typeof node !== "object" || node === null) return undefined
    node = (node as Record<string | number, unknown>)[segment]
  }
  return Array.isArray(node) ? fast.itemLines.get(node)?.[index] : undefined
}

// Offset of the node at `path` (its key when `atKey`), else of the nearest enclosing node.
const locate = (doc: Yaml.Document, path: ReadonlyArray<string | number>, atKey: boolean): number => {
  let node: unknown = doc.contents
  let offset = doc.contents?.range?.[0] ?? 0
  for (const segment of path) {
    if (Yaml.isMap(node)) {
      const pair = node.items.find((p) => (Yaml.isScalar(p.key) ? p.key.value : p.key) === segment)
      if (pair === undefined) return offset
      const value: unknown = pair.value
      const key: unknown = pair.key
      const keyOffset = Yaml.isNode(key) && key.range ? key.range[0] : offset
      offset = !atKey && Yaml.isNode(value) && value.range ? value.range[0] : keyOffset
      node = value
    } else if (Yaml.isSeq(node) && typeof segment === "number") {
      const item: unknown = node.items[segment]
      if (!Yaml.isNode(item) || !item.range) return offset
      offset = item.range[0]
      node = item
    } else return offset
  }
  return offset
}
