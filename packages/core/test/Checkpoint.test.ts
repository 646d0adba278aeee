import { afterAll, assert, describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import * as Batch from "../src/Batch.js"
import * as Checkpoint from "../src/Checkpoint.js"
import * as Plugin from "../src/Plugin.js"
import { layer, node, tempDirs } from "./support.js"

const dirs = tempDirs("core-checkpoint-")
afterAll(dirs.removeAll)

const checkpoint = (ruleId: string): Checkpoint.Checkpoint => ({
  ruleId,
  fingerprint: `f-${ruleId}`,
  parts: { definition: "d", parameters: "p", settings: "s" },
  writtenBy: "run-1",
  at: "2026-12-01T00:00:00.000Z"
})

const load = (text: string, params: Record<string, string> = {}, env: Record<string, string> = {}) =>
  Effect.gen(function* () {
    const dir = dirs.make()
    const file = path.join(dir, "b.yaml")
    fs.writeFileSync(file, text)
    const batch = yield* Batch.load(file, { params, env })
    const registry = yield* Plugin.Registry
    return yield* Checkpoint.ofBatch(batch, registry)
  }).pipe(Effect.provide(layer()))

const diamond = (extra = "", ms = 1) => `batch: b
parameters:
  day: { type: date }
  token: { type: string, env: TOKEN, secret: true }
engine: { settings: { spark.sql.shuffle.partitions: 4 } }
rules:
  - { id: a, kind: scripted, options: { ms: ${ms} } }
  - { id: b, kind: scripted, depends_on: [a] }
  - { id: c, kind: scripted, depends_on: [a] }
  - { id: d, kind: scripted, depends_on: [b, c]${extra} }
`

describe("Checkpoint journal", () => {
  it.effect("keeps every appended line, the last one per rule winning", () =>
    Effect.gen(function* () {
      const file = path.join(dirs.make(), "r.checkpoints.jsonl")
      yield* Checkpoint.append(file, [checkpoint("a"), checkpoint("b")])
      yield* Checkpoint.append(file, [{ ...checkpoint("a"), writtenBy: "run-2" }])
      const read = yield* Checkpoint.read(file)
      expect([...read.keys()]).toEqual(["a", "b"])
      expect(read.get("a")?.writtenBy).toBe("run-2")
      expect(fs.statSync(file).mode & 0o777).toBe(0o600)
    }).pipe(Effect.provide(node))
  )

  it.effect("reads no journal as no checkpoints, and ignores a last line torn by a crash", () =>
    Effect.gen(function* () {
      const dir = dirs.make()
      expect((yield* Checkpoint.read(path.join(dir, "none.jsonl"))).size).toBe(0)
      const file = path.join(dir, "torn.jsonl")
      fs.writeFileSync(
        file,
        `${JSON.stringify(checkpoint("a"))}\n${JSON.stringify(checkpoint("b")).slice(0, 30)}`
      )
      expect([...(yield* Checkpoint.read(file)).keys()]).toEqual(["a"])
    }).pipe(Effect.provide(node))
  )

  it.effect("refuses a journal with a damaged line before its end, naming the line", () =>
    Effect.gen(function* () {
      const file = path.join(dirs.make(), "bad.jsonl")
      fs.writeFileSync(file, `{"ruleId":"a"}\n${JSON.stringify(checkpoint("b"))}\n`)
      const error = yield* Effect.flip(Checkpoint.read(file))
      expect(error.path).toBe(file)
      expect(error.message).toMatch(/^line 1: /)
    }).pipe(Effect.provide(node))
  )
})

describe("Checkpoint fingerprints", () => {
  it.effect("chain through upstream rules: a change to a reaches d, a change to d reaches no one", () =>
    Effect.gen(function* () {
      const base = yield* load(diamond(), { day: "2026-12-01" }, { TOKEN: "one" })
      const changedA = yield* load(diamond("", 2), { day: "2026-12-01" }, { TOKEN: "one" })
      for (const id of ["a", "b", "c", "d"])
        expect(changedA.get(id)!.fingerprint).not.toBe(base.get(id)!.fingerprint)
      expect(changedA.get("a")!.parts.definition).not.toBe(base.get("a")!.parts.definition)
      expect(changedA.get("d")!.parts).toEqual(base.get("d")!.parts)
      const changedD = yield* load(diamond(", options: { ms: 3 }"), { day: "2026-12-01" }, { TOKEN: "one" })
      for (const id of ["a", "b", "c"]) expect(changedD.get(id)).toEqual(base.get(id))
      expect(changedD.get("d")!.fingerprint).not.toBe(base.get("d")!.fingerprint)
    })
  )

  it.effect("take parameter values and engine settings in, but never a secret's value", () =>
    Effect.gen(function* () {
      const base = yield* load(diamond(), { day: "2026-12-01" }, { TOKEN: "one" })
      const otherSecret = yield* load(diamond(), { day: "2026-12-01" }, { TOKEN: "two" })
      expect(otherSecret).toEqual(base)
      const otherDay = yield* load(diamond(), { day: "2026-12-02" }, { TOKEN: "one" })
      assert(otherDay.get("a")!.parts.parameters !== base.get("a")!.parts.parameters)
      const settings = yield* load(
        diamond().replace("partitions: 4", "partitions: 8"),
        { day: "2026-12-01" },
        { TOKEN: "one" }
      )
      expect(settings.get("a")!.parts.settings).not.toBe(base.get("a")!.parts.settings)
      expect(settings.get("a")!.parts.definition).toBe(base.get("a")!.parts.definition)
    })
  )

  it("hashes canonical JSON: key order does not matter", () => {
    expect(Checkpoint.canonical({ b: 1, a: { d: [2, { y: 1, x: 2 }], c: null } })).toBe(
      '{"a":{"c":null,"d":[2,{"x":2,"y":1}]},"b":1}'
    )
  })
})
