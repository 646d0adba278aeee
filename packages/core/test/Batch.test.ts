import { assert, describe, expect, it } from "@effect/vitest"
import { Effect, Exit } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import * as Batch from "../src/Batch.js"
import * as Dag from "../src/Dag.js"
import * as Failure from "../src/Failure.js"
import * as FastYaml from "../src/internal/fastYaml.js"
import { layer, node } from "./support.js"

const corpus = path.join(import.meta.dirname, "corpus")
const malformed = path.join(corpus, "malformed")
const daily = path.join(corpus, "valid", "daily.yaml")

const rejection = (effect: Effect.Effect<Batch.Batch, Failure.ConfigRejected, Batch.Requirements>) =>
  Effect.gen(function* () {
    const exit = yield* Effect.exit(effect.pipe(Effect.provide(layer())))
    assert(Exit.isFailure(exit), "expected the batch to be rejected")
    const error = Exit.findErrorOption(exit)
    assert(error._tag === "Some" && error.value._tag === "ConfigRejected")
    return error.value
  })

describe("Batch.load: the malformed corpus", () => {
  const files = fs
    .readdirSync(malformed)
    .filter((f) => f.endsWith(".batch"))
    .sort()

  it("has at least 20 files, each with its expected messages", () => {
    expect(files.length).toBeGreaterThanOrEqual(20)
    for (const f of files)
      expect(fs.existsSync(path.join(malformed, f.replace(/\.batch$/, ".expected")))).toBe(true)
  })

  for (const f of files) {
    it.effect(f, () =>
      Effect.gen(function* () {
        const file = path.join(malformed, f)
        const expected = fs
          .readFileSync(file.replace(/\.batch$/, ".expected"), "utf8")
          .trim()
          .split("\n")
        const error = yield* rejection(Batch.load(file))
        expect(error.issues.map((i) => `${i.line}:${i.column} ${i.field}: ${i.message}`)).toEqual(expected)
        // Every issue names the file, and the error message lists them all as file:line:column.
        for (const issue of error.issues) {
          expect(issue.file).toBe(file)
          expect(error.message).toContain(Failure.formatIssue(issue))
        }
        expect(error.code).toBe("CONFIG_INVALID")
        expect(Failure.toExitCode(error)).toBe(3)
      })
    )
  }
})

// The fast reader takes most files; a tab in a final comment leaves a file to `yaml` alone.
const viaYaml = (text: string) => `${text}\n#\tread by yaml alone\n`

describe("Batch.parse: the fast reader and yaml alone", () => {
  // Files with syntax errors are never the fast reader's.
  const files = fs
    .readdirSync(malformed)
    .filter((f) => f.endsWith(".batch"))
    .filter((f) => FastYaml.read(fs.readFileSync(path.join(malformed, f), "utf8")) !== undefined)
    .sort()

  it("cover most of the corpus", () => expect(files.length).toBeGreaterThanOrEqual(20))

  for (const f of files) {
    it.effect(`report the same issues at the same positions: ${f}`, () =>
      Effect.gen(function* () {
        const file = path.join(malformed, f)
        const text = fs.readFileSync(file, "utf8")
        const fast = yield* rejection(Batch.parse(text, file))
        const slow = yield* rejection(Batch.parse(viaYaml(text), file))
        expect(fast.issues).toEqual(slow.issues)
      })
    )
  }

  it.effect("give each rule the same line", () =>
    Effect.gen(function* () {
      const text = fs.readFileSync(daily, "utf8")
      const lines = (batch: Batch.Batch) => batch.rules.map((r) => r.line)
      const params = { params: { run_date: "2026-11-26" } }
      const fast = yield* Batch.parse(text, daily, params).pipe(Effect.provide(layer()))
      const slow = yield* Batch.parse(viaYaml(text), daily, params).pipe(Effect.provide(layer()))
      expect(lines(fast)).toEqual([33, 38, 42])
      expect(lines(slow)).toEqual(lines(fast))
    })
  )
})

describe("Batch.load: a valid batch", () => {
  it.effect("resolves parameters from the command line, the environment and defaults", () =>
    Effect.gen(function* () {
      const batch = yield* Batch.load(daily, {
        params: { run_date: "2026-11-26", limit: "25" },
        env: { SALES_FULL: "true" }
      }).pipe(Effect.provide(layer()))
      expect(batch.name).toBe("daily_sales")
      expect(batch.file).toBe(daily)
      expect(batch.parameters).toEqual({
        run_date: { type: "date", value: "2026-11-26", text: "2026-11-26" },
        region: { type: "enum", value: "EU", text: "EU" },
        limit: { type: "int", value: 25, text: "25" },
        full: { type: "boolean", value: true, text: "true" }
      })
      expect(batch.engine).toEqual({
        parallelism: 2,
        ruleTimeoutSeconds: 3600,
        settings: { "spark.sql.shuffle.partitions": "8", "spark.sql.ansi.enabled": "true" }
      })
      expect(batch.escalation).toEqual({ topic: "etl-events", labels: { team: "sales" } })
      expect(batch.plan.order).toEqual(["load", "aggregate", "report"])
      expect(Dag.toText(batch.plan)).toBe(
        "1. load\n2. aggregate (after load)\n3. report (after aggregate, load)"
      )
      const out = path.join(corpus, "out")
      expect(batch.targets.roots).toEqual([out])
      expect(batch.rules.map((r) => [r.id, r.target?.location, r.line])).toEqual([
        ["load", path.join(out, "daily/load"), 33],
        ["aggregate", path.join(out, "daily/aggregate"), 38],
        ["report", undefined, 42]
      ])
      expect(batch.rules[0]!.options).toEqual({ file: "sql/load.sql" })
    })
  )

  it.effect("refuses parameters that are unknown or ill-typed, naming where they came from", () =>
    Effect.gen(function* () {
      const error = yield* rejection(
        Batch.load(daily, {
          params: { run_date: "26/11/2026", limit: "1e3", colour: "red" },
          env: { SALES_FULL: "yes" }
        })
      )
      expect(error.issues.map(Failure.formatIssue)).toEqual([
        'command line:1:1: --param colour: unknown parameter "colour" (declared: run_date, region, limit, full, since)',
        'command line:1:1: --param run_date: parameter "run_date": expected a date YYYY-MM-DD, got "26/11/2026"',
        'command line:1:1: --param limit: parameter "limit": expected an integer, got "1e3"',
        'environment:1:1: $SALES_FULL: parameter "full": expected true or false, got "yes"'
      ])
    })
  )

  it.effect("says so when the batch file cannot be read", () =>
    Effect.gen(function* () {
      const error = yield* rejection(Batch.load(path.join(corpus, "no-such-batch.yaml")))
      expect(error.issues).toHaveLength(1)
      expect(error.issues[0]!.field).toBe("(file)")
      expect(error.issues[0]!.message).toMatch(/^cannot read batch file/)
    })
  )
})

describe("Batch plugins", () => {
  const file = (text: string) => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "batch-plugins-"))
    const f = path.join(dir, "batch.yaml")
    fs.writeFileSync(f, text)
    return f
  }
  const text = `batch: b
plugins:
  - "@acme/spark-etl-runner-foo"
  - not a package
rules:
  - { id: a, kind: scripted }
`

  it.effect("peek names the plugin packages, loading nothing", () =>
    Effect.gen(function* () {
      const peeked = yield* Batch.peek(file(text))
      expect(peeked.plugins).toEqual(["@acme/spark-etl-runner-foo", "not a package"])
    }).pipe(Effect.provide(node))
  )

  it.effect("a name that is not an npm package name rejects the batch at its line", () =>
    Effect.gen(function* () {
      const f = file(text)
      const exit = yield* Effect.exit(Batch.load(f))
      assert.isTrue(Exit.isFailure(exit))
      const issues = Exit.isFailure(exit) ? JSON.stringify(exit.cause) : ""
      expect(issues).toContain("plugins[1]")
      expect(issues).toContain("an npm package name")
    }).pipe(Effect.provide(layer()))
  )

  it.effect("issueAt puts an outside finding at its place in the file", () =>
    Effect.gen(function* () {
      const f = file(text)
      const issue = yield* Batch.issueAt(f, ["plugins", 0], "cannot be found")
      expect(issue).toEqual({ file: f, line: 3, column: 5, field: "plugins[0]", message: "cannot be found" })
    }).pipe(Effect.provide(node))
  )
})
