/**
 * A fast reader for the plain YAML that batch files are written in: block mappings and
 * sequences, one-line flow collections, plain and one-line quoted scalars, literal block
 * scalars (`|`, `|-`), comments. It builds no syntax tree: a 10,000-rule file reads in tens of
 * milliseconds, where the `yaml` library takes a second and hundreds of MB to keep positions.
 *
 * It declines (returns `undefined`) anything else — anchors, aliases, tags, folded or
 * multi-line scalars, duplicate keys, tabs, anything that may be an error — and the loader then
 * parses with `yaml` as before. What it accepts, `yaml` reads without error to the same value
 * (test/fastYaml.test.ts checks it against `yaml`).
 *
 * Positions come from a second reading (`locate`), only when there is an issue to report: where
 * each key and value starts, where `yaml` places them (checked by the same test). A 10,000-rule
 * file with an issue then costs a second reading, not a `yaml` document of the whole file (about
 * 0.4 s and 120 MiB more).
 */

/** A document read by the fast path. */
export interface Read {
  readonly value: unknown
  /** For each block sequence: the 1-based line where each of its items starts. */
  readonly itemLines: WeakMap<ReadonlyArray<unknown>, ReadonlyArray<number>>
}

/** A 1-based line and column. */
export interface Position {
  readonly line: number
  readonly column: number
}

/** A document read again with the position of every node. */
export interface Located {
  readonly value: unknown
  readonly root: Position
  /**
   * For each collection, where each entry (a mapping's key, a sequence's index) starts: an
   * index into `starts`, which holds its key's line and column, then its value's. Numbers in
   * one array, not an object per entry: a 10,000-rule file has some 60,000 entries.
   */
  readonly entries: WeakMap<object, Map<string | number, number>>
  readonly starts: ReadonlyArray<number>
}

// Thrown inside the reader to unwind from any depth; `read` turns it into `undefined`.
class Declined extends Error {}
const decline = (): never => {
  throw new Declined()
}

// Characters `yaml` treats specially or rejects (tabs: never indentation; C0/C1 controls, NEL,
// line/paragraph separators, BOM, a lone CR): the fast path leaves them to `yaml`. Built from
// code points, as the control characters themselves are what it matches.
const range = (from: number, to: number): string => `${String.fromCharCode(from)}-${String.fromCharCode(to)}`
const unsupported = new RegExp(
  `[${range(0x00, 0x09)}${range(0x0b, 0x0c)}${range(0x0e, 0x1f)}${range(0x7f, 0x9f)}\\u2028\\u2029\\ufeff]|\\r(?!\\n)`
)
const documentMarker = /^(?:---|\.\.\.)(?: |$)|^%/
// Characters that cannot start a plain scalar (YAML 1.2 c-indicator), `-` handled apart.
const indicators = new Set([..."?:,[]{}#&*!|>'\"%@`"])
// What may follow a `-` that starts a plain scalar (`-5`, `--flag`); else it may be an entry.
const dashSafe = /^[A-Za-z0-9._-]$/
// Where a plain scalar inside a flow collection stops.
const flowStops = new Set([...",[]{}:#"].map((c) => c.charCodeAt(0)))

const mayBeSpecial = /^[-+.0-9~nNtTfF]/
const isNull = /^(?:~|[Nn]ull|NULL)$/
const isTrue = /^(?:[Tt]rue|TRUE)$/
const isFalse = /^(?:[Ff]alse|FALSE)$/
const isInt = /^[-+]?[0-9]+$/
const isFloat = /^[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?$/
const isOtherNumber = /^(?:0o[0-7]+|0x[0-9a-fA-F]+|[-+]?\.(?:inf|Inf|INF)|\.nan|\.NaN|\.NAN)$/

// A plain scalar's value in YAML 1.2's core schema (the `yaml` library's default).
const resolvePlain = (text: string): unknown => {
  // Most scalars are names: a first character no special form starts with settles them.
  if (!mayBeSpecial.test(text)) return text
  if (isNull.test(text)) return null
  if (isTrue.test(text)) return true
  if (isFalse.test(text)) return false
  if (isInt.test(text)) return parseInt(text, 10)
  if (isFloat.test(text)) return parseFloat(text)
  return isOtherNumber.test(text) ? decline() : text
}

// A key must read as a string, or its JS text would differ from its YAML one; `<<` (a merge
// key elsewhere), `__proto__` and keys near YAML's 1024-character limit are left to `yaml`.
const asKey = (value: unknown): string =>
  typeof value === "string" && value.length <= 400 && value !== "__proto__" && value !== "<<"
    ? value
    : decline()

const escapes: Record<string, string> = {
  "\\": "\\",
  '"': '"',
  "/": "/",
  n: "\n",
  t: "\t",
  r: "\r",
  b: "\b",
  f: "\f",
  "0": "\0",
  " ": " "
}

/** Reads `text`, or `undefined` when it is not in the supported subset. */
export const read = (text: string): Read | undefined => attempt(() => new Reader(text).document(), text)

/** Reads `text` keeping where each node starts, or `undefined` when `read` declines it. */
export const locate = (text: string): Located | undefined =>
  attempt(() => {
    const entries = new WeakMap<object, Map<string | number, number>>()
    const starts: Array<number> = []
    const reader = new Reader(text, { entries, starts })
    const { value } = reader.document()
    return { value, root: reader.root, entries, starts }
  }, text)

/**
 * Where the node at `path` starts (its key when `atKey`), else the nearest enclosing node: the
 * position `yaml` gives the same path in the same text.
 */
export const position = (located: Located, path: ReadonlyArray<string | number>, atKey = false): Position => {
  let node = located.value
  let at = located.root
  const { entries, starts } = located
  for (const segment of path) {
    const entry = typeof node === "object" && node !== null ? entries.get(node)?.get(segment) : undefined
    if (entry === undefined) return at
    const k = atKey && !Array.isArray(node) ? entry : entry + 2
    at = { line: starts[k]!, column: starts[k + 1]! }
    node = (node as Record<string | number, unknown>)[segment]
  }
  return at
}

const attempt = <A>(reading: () => A, text: string): A | undefined => {
  if (unsupported.test(text)) return undefined
  try {
    return reading()
  } catch (e) {
    if (e instanceof Declined) return undefined
    throw e
  }
}

const indentOf = (line: string): number => {
  let n = 0
  while (line.charCodeAt(n) === 32) n++
  return n
}

const spacesFrom = (line: string, c: number): number => {
  while (line.charCodeAt(c) === 32) c++
  return c
}

// Blank or a comment: no content for the block structure.
const isBlank = (line: string): boolean => {
  const c = indentOf(line)
  return c === line.length || line[c] === "#"
}

const isSeqEntry = (line: string, c: number): boolean =>
  line[c] === "-" && (c + 1 === line.length || line[c + 1] === " ")

// Where a ` #` comment starts at or after `c` (the end of the line when there is none).
const commentFrom = (line: string, c: number): number => {
  for (let k = line.indexOf("#", c); k !== -1; k = line.indexOf("#", k + 1)) {
    if (k === 0 || line[k - 1] === " ") return k
  }
  return line.length
}

// Nothing but spaces and a comment from `c` on.
const restIsBlank = (line: string, c: number): boolean => {
  const k = spacesFrom(line, c)
  return k === line.length || (line[k] === "#" && line[k - 1] === " ")
}

// A key of a block mapping, and the column after its `:`.
interface Key {
  readonly key: string
  readonly end: number
}

class Reader {
  private readonly lines: Array<string>
  private i = 0
  private readonly itemLines = new WeakMap<ReadonlyArray<unknown>, ReadonlyArray<number>>()
  root: Position = { line: 1, column: 1 }

  /** With `located`, the reader also records where each entry of each collection starts. */
  constructor(
    text: string,
    private readonly located?: Pick<Located, "entries"> & { readonly starts: Array<number> }
  ) {
    this.lines = text.split("\n")
    if (text.includes("\r")) this.lines = this.lines.map((l) => (l.endsWith("\r") ? l.slice(0, -1) : l))
  }

  // Records where an entry of `collection` starts (0-based lines and columns), when positions
  // are kept: its key's, then its value's.
  private record(collection: object, name: string | number, ...at: [number, number, number, number]): void {
    if (this.located === undefined) return
    const { entries, starts } = this.located
    let map = entries.get(collection)
    if (map === undefined) entries.set(collection, (map = new Map()))
    map.set(name, starts.length)
    starts.push(at[0] + 1, at[1] + 1, at[2] + 1, at[3] + 1)
  }

  document(): Read {
    const { lines } = this
    this.skip()
    if (this.i < lines.length && /^---(?: +#.*)? *$/.test(lines[this.i]!)) {
      this.i++
      this.skip()
    }
    for (let k = this.i; k < lines.length; k++) {
      const first = lines[k]!.charCodeAt(0)
      // Only `-`, `.` and `%` can start a marker or a directive: test those lines alone.
      if ((first === 45 || first === 46 || first === 37) && documentMarker.test(lines[k]!)) decline()
    }
    if (this.i >= lines.length) decline()
    this.root = { line: this.i + 1, column: indentOf(lines[this.i]!) + 1 }
    const value = this.block(indentOf(lines[this.i]!))
    this.skip()
    if (this.i < lines.length) decline()
    return { value, itemLines: this.itemLines }
  }

  // Moves to the next line with content.
  private skip(): void {
    while (this.i < this.lines.length && isBlank(this.lines[this.i]!)) this.i++
  }

  // The block node on the current line, which starts at column `n`.
  private block(n: number): unknown {
    const line = this.lines[this.i]!
    if (isSeqEntry(line, n)) return this.sequence(n)
    return this.mapping(n, this.keyAt(line, n) ?? decline())
  }

  private sequence(n: number): Array<unknown> {
    const { lines } = this
    const items: Array<unknown> = []
    const starts: Array<number> = []
    for (;;) {
      this.skip()
      if (this.i >= lines.length) break
      const line = lines[this.i]!
      const indent = indentOf(line)
      if (indent > n) decline()
      if (indent < n || !isSeqEntry(line, n)) break
      const c = spacesFrom(line, n + 1)
      if (c === line.length || line[c] === "#") {
        const dash = this.i
        this.i++
        this.skip()
        const nested = this.i < lines.length ? indentOf(lines[this.i]!) : -1
        starts.push((nested > n ? this.i : dash) + 1)
        // `yaml` places an empty item where its `-` line's content would start.
        if (nested > n) this.record(items, items.length, this.i, nested, this.i, nested)
        else this.record(items, items.length, dash, c, dash, c)
        items.push(nested > n ? this.block(nested) : null)
      } else if (isSeqEntry(line, c)) {
        decline()
      } else {
        starts.push(this.i + 1)
        this.record(items, items.length, this.i, c, this.i, c)
        const key = this.keyAt(line, c)
        items.push(key !== undefined ? this.mapping(c, key) : this.inline(c, n))
      }
    }
    this.itemLines.set(items, starts)
    return items
  }

  // A block mapping whose keys stand at column `n`; the first one, `first`, on the current line.
  private mapping(n: number, first: Key): Record<string, unknown> {
    const { lines } = this
    const map: Record<string, unknown> = {}
    for (let known: Key | undefined = first; ; known = undefined) {
      if (known === undefined) {
        this.skip()
        if (this.i >= lines.length) break
        const indent = indentOf(lines[this.i]!)
        if (indent < n) break
        if (indent > n) decline()
      }
      const line = lines[this.i]!
      const key = known ?? this.keyAt(line, n) ?? decline()
      if (Object.hasOwn(map, key.key)) decline()
      const c = spacesFrom(line, key.end)
      if (c === line.length || line[c] === "#") {
        const keyLine = this.i
        this.i++
        this.skip()
        const next = this.i < lines.length ? lines[this.i]! : ""
        const indent = this.i < lines.length ? indentOf(next) : -1
        const isSeq = indent === n && isSeqEntry(next, n)
        // An empty value is placed where the key's line would go on after the `:`.
        if (indent > n || isSeq) this.record(map, key.key, keyLine, n, this.i, indent)
        else this.record(map, key.key, keyLine, n, keyLine, c)
        map[key.key] = indent > n ? this.block(indent) : isSeq ? this.sequence(n) : null
      } else {
        this.record(map, key.key, this.i, n, this.i, c)
        map[key.key] = this.inline(c, n)
      }
    }
    return map
  }

  // The key of a `key: value` entry at column `c` and the column after its `:`, if it is one.
  private keyAt(line: string, c: number): Key | undefined {
    const ch = line[c]!
    if (ch === '"' || ch === "'") {
      const [value, end] = this.quoted(line, c)
      if (line[end] !== ":" || (end + 1 < line.length && line[end + 1] !== " ")) return undefined
      return { key: asKey(value), end: end + 1 }
    }
    if (indicators.has(ch) || ch === "-") return undefined
    const stop = commentFrom(line, c)
    for (let k = line.indexOf(":", c); k !== -1 && k < stop; k = line.indexOf(":", k + 1)) {
      if (k + 1 === line.length || line[k + 1] === " ") {
        return { key: asKey(resolvePlain(line.slice(c, k).trimEnd())), end: k + 1 }
      }
    }
    return undefined
  }

  // A value that starts at column `c` of the current line, in a block whose indentation is `n`.
  private inline(c: number, n: number): unknown {
    const line = this.lines[this.i]!
    const ch = line[c]!
    if (ch === "|") return this.literal(c, n)
    let value: unknown
    let end: number
    if (ch === '"' || ch === "'") [value, end] = this.quoted(line, c)
    else if (ch === "[" || ch === "{") [value, end] = this.flow(line, c)
    else {
      if (indicators.has(ch) || (ch === "-" && !dashSafe.test(line[c + 1] ?? ""))) decline()
      end = commentFrom(line, c)
      const text = line.slice(c, end).trimEnd()
      if (text.endsWith(":") || text.includes(": ")) decline()
      value = resolvePlain(text)
    }
    if (!restIsBlank(line, end)) decline()
    this.i++
    return value
  }

  // A one-line quoted scalar at column `c`: its value and the column after its closing quote.
  private quoted(line: string, c: number): [string, number] {
    const quote = line[c]
    let out = ""
    let k = c + 1
    for (;;) {
      const next = quote === "'" ? line.indexOf("'", k) : line.slice(k).search(/["\\]/) + k
      if (next < k) return decline()
      out += line.slice(k, next)
      if (quote === "'") {
        if (line[next + 1] !== "'") return [out, next + 1]
        out += "'"
        k = next + 2
      } else if (line[next] === '"') {
        return [out, next + 1]
      } else {
        out += escapes[line[next + 1] ?? ""] ?? decline()
        k = next + 2
      }
    }
  }

  // A flow collection that opens and closes on this line: its value and the column after it.
  private flow(line: string, c: number): [unknown, number] {
    const isMap = line[c] === "{"
    const close = isMap ? "}" : "]"
    const map: Record<string, unknown> = {}
    const seq: Array<unknown> = []
    let k = spacesFrom(line, c + 1)
    while (line[k] !== close) {
      if (isMap) {
        const [key, afterKey] = this.flowScalar(line, k, true)
        const name = asKey(key)
        if (line[afterKey] !== ":" || line[afterKey + 1] !== " " || Object.hasOwn(map, name)) decline()
        const valueAt = spacesFrom(line, afterKey + 1)
        this.record(map, name, this.i, k, this.i, valueAt)
        const [value, end] = this.flowNode(line, valueAt)
        map[name] = value
        k = spacesFrom(line, end)
      } else {
        this.record(seq, seq.length, this.i, k, this.i, k)
        const [value, end] = this.flowNode(line, k)
        seq.push(value)
        k = spacesFrom(line, end)
      }
      if (line[k] === ",") k = spacesFrom(line, k + 1)
      else if (line[k] !== close) decline()
    }
    return [isMap ? map : seq, k + 1]
  }

  private flowNode(line: string, c: number): [unknown, number] {
    if (line[c] === "[" || line[c] === "{") return this.flow(line, c)
    const [value, end] = this.flowScalar(line, c, false)
    const after = spacesFrom(line, end)
    if (line[after] === ":") decline()
    return [value, end]
  }

  // A scalar inside a flow collection; a plain one ends at `,`, a bracket, or (a key) at `:`.
  private flowScalar(line: string, c: number, isKey: boolean): [unknown, number] {
    const ch = line[c]
    if (ch === '"' || ch === "'") return this.quoted(line, c)
    if (ch === undefined || indicators.has(ch) || (ch === "-" && !dashSafe.test(line[c + 1] ?? ""))) decline()
    let k = c
    while (k < line.length && !flowStops.has(line.charCodeAt(k))) k++
    if (line[k] === "#" || line[k] === "[" || line[k] === "{" || (line[k] === ":" && !isKey)) decline()
    const text = line.slice(c, k).trimEnd()
    if (text === "") decline()
    return [resolvePlain(text), c + text.length]
  }

  // A literal block scalar (`|` or `|-`) whose header is at column `c`, in a block indented `n`.
  private literal(c: number, n: number): string {
    const { lines } = this
    const header = lines[this.i]!
    let k = c + 1
    const strip = header[k] === "-"
    if (strip) k++
    if (!restIsBlank(header, k)) decline()
    let end = this.i + 1
    let indent = -1
    for (let j = end; j < lines.length && indent === -1; j++) {
      const l = lines[j]!
      if (indentOf(l) !== l.length) indent = indentOf(l)
    }
    const body: Array<string> = []
    if (indent > n) {
      for (; end < lines.length; end++) {
        const l = lines[end]!
        const spaces = indentOf(l)
        if (spaces === l.length) {
          if (spaces > indent) decline()
          body.push("")
        } else if (spaces >= indent) body.push(l.slice(indent))
        else break
      }
    }
    while (body.length > 0 && body[body.length - 1] === "") body.pop()
    // The last line of a file without a final newline: clipping would differ; leave it.
    if (end === lines.length && body.length > 0 && lines[lines.length - 1] !== "") decline()
    this.i = end
    const text = body.join("\n")
    return strip || text === "" ? text : text + "\n"
  }
}
