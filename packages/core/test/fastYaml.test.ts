import * as fc from "fast-check"
import * as fs from "node:fs"
import * as path from "node:path"
import { describe, expect, it } from "vitest"
import * as Yaml from "yaml"
import * as FastYaml from "../src/internal/fastYaml.js"

const corpus = path.join(import.meta.dirname, "corpus")
const corpusFiles = ["valid", "malformed"].flatMap((dir) =>
  fs
    .readdirSync(path.join(corpus, dir))
    .filter((f) => f.endsWith(".batch") || f.endsWith(".yaml"))
    .map((f) => fs.readFileSync(path.join(corpus, dir, f), "utf8"))
)

// What the fast reader accepts, `yaml` (as the loader calls it) reads without error to the same
// value, each item of a block sequence starts on the line `yaml` places it, and the second
// reading places every key and value (and a missing child: at its parent) where `yaml` does.
const agreesWithYaml = (text: string): FastYaml.Read | undefined => {
  const fast = FastYaml.read(text)
  if (fast === undefined) return undefined
  const lineCounter = new Yaml.LineCounter()
  const doc = Yaml.parseDocument(text, { lineCounter, uniqueKeys: true, prettyErrors: false })
  expect(doc.errors.map((e) => e.message)).toEqual([])
  expect(fast.value).toStrictEqual(doc.toJS({ maxAliasCount: 100 }))
  const lines = (node: unknown, value: unknown): void => {
    if (Yaml.isSeq(node) && Array.isArray(value)) {
      if (node.flow !== true) {
        const expected = node.items.map((item) =>
          Yaml.isNode(item) ? lineCounter.linePos(item.range![0]).line : 0
        )
        expect(fast.itemLines.get(value)).toEqual(expected)
      }
      node.items.forEach((item, i) => lines(item, value[i]))
    } else if (Yaml.isMap(node) && typeof value === "object" && value !== null) {
      for (const pair of node.items) {
        const key = Yaml.isScalar(pair.key) ? pair.key.value : undefined
        if (typeof key === "string") lines(pair.value, (value as Record<string, unknown>)[key])
      }
    }
  }
  lines(doc.contents, fast.value)
  const located = FastYaml.locate(text)
  expect(located?.value).toStrictEqual(fast.value)
  const at = (node: unknown): FastYaml.Position => {
    const pos = lineCounter.linePos(Yaml.isNode(node) && node.range ? node.range[0] : 0)
    return { line: pos.line, column: pos.col }
  }
  const positions = (
    node: unknown,
    path: ReadonlyArray<string | number>,
    enclosing: FastYaml.Position
  ): void => {
    const where = (p: ReadonlyArray<string | number>, atKey = false) => FastYaml.position(located!, p, atKey)
    expect(where([...path, "(missing)"]), `${text}\n${path.join(".")}`).toEqual(enclosing)
    if (Yaml.isSeq(node)) {
      expect(where([...path, node.items.length])).toEqual(enclosing)
      node.items.forEach((item, i) => {
        expect(where([...path, i]), `${text}\n${[...path, i].join(".")}`).toEqual(at(item))
        positions(item, [...path, i], at(item))
      })
    } else if (Yaml.isMap(node)) {
      for (const pair of node.items) {
        const key = Yaml.isScalar(pair.key) ? pair.key.value : undefined
        if (typeof key !== "string") continue
        const child = [...path, key]
        expect(where(child), `${text}\n${child.join(".")}`).toEqual(at(pair.value))
        expect(where(child, true)).toEqual(at(pair.key))
        positions(pair.value, child, at(pair.value))
      }
    }
  }
  positions(doc.contents, [], at(doc.contents))
  return fast
}

const accepted = [
  "a: 1\nb: [x, 'y', \"z\"]\nc: { d: true, e: null }\n",
  "rules:\n- id: a\n  kind: sql\n- id: b\n  depends_on: [a]\n",
  "rules:\n  -\n    id: a\n  - # c\n    id: b\n",
  "---\n# comment\nbatch: x # trailing\n\nrules: []\n",
  "sql: |\n  select 1\n\n  from t\n\nnext: 2\n",
  "sql: |-\n  select 1\n  # not a comment\nnext: ~\n",
  "- |\n  a\n   b\n- x\n",
  "n: [1, -2, +3, 007, 1.5, 1e3, .5, 1_0, 0.]\nb: [True, FALSE, Null, NULL, ~]\n",
  "url: http://host:8080/x?y=z#frag\ntext: it's a#b\n",
  "q: 'it''s'\nd: \"a\\\"b\\\\c\\n\"\n\"k e y\": 1\n'k2': 2\n",
  "a:\n  b:\n    c: 1\n  d: 2\ne: 3\n",
  "empty:\nseq:\n-\n- 1\n",
  "flow: [[a, b], {c: d}, []]\n",
  "crlf: 1\r\nlist:\r\n  - a\r\n",
  "unicode: é ü 日本 \u00a0x\n",
  "rules:\n  - id: a\n    options:\n      sql: |\n        select 1\n      n: -5\n"
]

const declined = [
  "a: [-]\n",
  "a: {b: -}\n",
  "a: &x 1\nb: *x\n",
  "a: !!str 1\n",
  "a: >\n  folded\n",
  "a: |+\n  keep\n",
  "a: |2\n  x\n",
  "a: multi\n  line\n",
  "a: 'multi\n  line'\n",
  "a: [x,\n  y]\n",
  "a: 1\na: 2\n",
  "a:\tb\n",
  "? a\n: b\n",
  "a: b: c\n",
  "a: 0x1F\n",
  "a: .inf\n",
  "1: x\n",
  "true: x\n",
  "__proto__: x\n",
  "a: 1\n---\nb: 2\n",
  "%YAML 1.2\n---\na: 1\n",
  "just a scalar\n",
  'a: "\\u00e9"\n',
  "a: [b: c]\n",
  "a: sql\n  - x\n"
]

describe("FastYaml", () => {
  it("reads the plain subset as yaml does", () => {
    for (const text of accepted) expect(agreesWithYaml(text), text).toBeDefined()
  })

  it("leaves everything else to yaml", () => {
    for (const text of declined) expect(FastYaml.read(text), text).toBeUndefined()
  })

  it("reads the batch corpus as yaml does", () => {
    const read = corpusFiles.filter((text) => agreesWithYaml(text) !== undefined)
    // The corpus is written in the subset, save its syntax errors.
    expect(read.length).toBeGreaterThan(corpusFiles.length / 2)
  })

  it("agrees with yaml on corpus files with random edits", () => {
    const pieces = [..." :-#\n'\"[]{},|>&*!?%@`\\0123456789abc~.\r\t"].concat([
      "null",
      "true",
      "- ",
      ": ",
      "  "
    ])
    // Characters inserted or removed, or whole lines doubled, dropped, indented or dedented.
    const edit = fc.oneof(
      fc
        .tuple(fc.nat(), fc.nat(3), fc.constantFrom(...pieces))
        .map(([at, remove, insert]) => (text: string) => {
          const i = at % (text.length + 1)
          return text.slice(0, i) + insert + text.slice(i + remove)
        }),
      fc
        .tuple(fc.nat(), fc.constantFrom("double", "drop", "indent", "dedent"))
        .map(([at, op]) => (text: string) => {
          const lines = text.split("\n")
          const i = at % lines.length
          const line = lines[i]!
          if (op === "double") lines.splice(i, 0, line)
          else if (op === "drop") lines.splice(i, 1)
          else lines[i] = op === "indent" ? `  ${line}` : line.replace(/^ {1,2}/, "")
          return lines.join("\n")
        })
    )
    fc.assert(
      fc.property(
        fc.constantFrom(...corpusFiles),
        fc.array(edit, { minLength: 1, maxLength: 4 }),
        (text, edits) => {
          agreesWithYaml(edits.reduce((t, f) => f(t), text))
        }
      ),
      { numRuns: 2000 }
    )
  })

  it("agrees with yaml on what yaml writes", () => {
    const key = fc.oneof(fc.string({ maxLength: 6 }), fc.constantFrom("id", "kind", "a b", "x:y", "#", "-"))
    const value = fc.letrec((tie) => ({
      node: fc.oneof(
        { depthSize: "small" },
        fc.oneof(fc.string({ maxLength: 12 }), fc.integer(), fc.double(), fc.boolean(), fc.constant(null)),
        fc.array(tie("node"), { maxLength: 4 }),
        fc.dictionary(key, tie("node"), { maxKeys: 4 })
      )
    })).node
    fc.assert(
      fc.property(
        value,
        fc.integer({ min: 0, max: 3 }),
        fc.integer({ min: 2, max: 4 }),
        (v, flowLevel, indent) => {
          const text = Yaml.stringify(v, {
            flowCollectionPadding: flowLevel % 2 === 0,
            indent,
            indentSeq: flowLevel > 1
          })
          agreesWithYaml(text)
        }
      ),
      { numRuns: 1000 }
    )
  })
})
