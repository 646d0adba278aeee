/**
 * Resume and retry through whole runs: the scripted runner, the filesystem target store (real
 * directories under the batch's `out`) and an in-memory event sink.
 */
import { afterAll, assert, describe, expect, it } from "@effect/vitest"
import { Effect, Layer } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import * as Checkpoint from "../src/Checkpoint.js"
import * as Event from "../src/Event.js"
import * as Ledger from "../src/Ledger.js"
import * as Plugin from "../src/Plugin.js"
import * as Resume from "../src/Resume.js"
import * as Run from "../src/Run.js"
import * as TargetStore from "../src/TargetStore.js"
import * as Testing from "../src/testing.js"
import { node, tempDirs } from "./support.js"

const dirs = tempDirs("core-resume-")
afterAll(dirs.removeAll)

// An 8-rule diamond: a → (b, c) → d → e → (f, g) → h; every rule writes a target.
const diamond = (failAt?: string, how = "sql", extra: Record<string, string> = {}) =>
  [
    ["a", []],
    ["b", ["a"]],
    ["c", ["a"]],
    ["d", ["b", "c"]],
    ["e", ["d"]],
    ["f", ["e"]],
    ["g", ["e"]],
    ["h", ["f", "g"]]
  ]
    .map(([id, deps]) => {
      const fail = id === failAt ? `, fail: ${how}` : ""
      return `  - { id: ${id as string}, kind: scripted, depends_on: [${(deps as Array<string>).join(", ")}], target: out/${id as string}, options: { ms: 1${fail} }${extra[id as string] ?? ""} }`
    })
    .join("\n")

const world = (rules: string, header = "", abandonDies = false) => {
  const dir = dirs.make()
  fs.mkdirSync(path.join(dir, "out"))
  const file = path.join(dir, "nightly.yaml")
  const write = (r: string, h = header) =>
    fs.writeFileSync(
      file,
      `batch: nightly\n${h}parameters:\n  run_date: { type: date }\ntargets:\n  roots: [out]\nrules:\n${r}\n`
    )
  write(rules)
  const ledgerDir = path.join(dir, "ledger")
  const run = (runId: string, extra: Partial<Run.Options> = {}) =>
    Effect.gen(function* () {
      const sink = Event.memory()
      const scripted = Testing.scripted()
      // A rule that runs leaves a file in its target, as a real one would.
      const abandoned: Array<string> = []
      const writing: Plugin.Runner<Testing.ScriptedOptions> = {
        ...scripted.runner,
        abandon: (ctx) =>
          Effect.andThen(
            Effect.sync(() => void abandoned.push(`${ctx.rule.id} before attempt ${ctx.attempt}`)),
            abandonDies ? Effect.die(new Error("abandon broke")) : Effect.void
          ),
        run: (ctx) =>
          Effect.andThen(
            scripted.runner.run(ctx),
            Effect.sync(() => {
              if (ctx.rule.target === undefined) return
              fs.mkdirSync(ctx.rule.target.location, { recursive: true })
              fs.writeFileSync(path.join(ctx.rule.target.location, `part-${runId}`), ctx.rule.id)
            })
          )
      }
      const layer = Layer.mergeAll(
        Plugin.layer([Plugin.load(writing)]),
        TargetStore.layerFileSystem.pipe(Layer.provide(node)),
        sink.layer,
        node
      )
      const outcome = yield* Run.run({
        batchFile: file,
        ledgerDir,
        params: { run_date: "2026-11-30" },
        runId,
        ...extra
      }).pipe(Effect.provide(layer))
      const started = scripted.log.events.filter((e) => e.event === "start").map((e) => e.rule)
      return { outcome, events: sink.events, started, abandoned }
    })
  return { dir, file, ledgerDir, run, write }
}

const types = (events: ReadonlyArray<Event.Event>) =>
  events.map((e) => (e.ruleId !== undefined ? `${e.type} ${e.ruleId}` : e.type))
const latest: Resume.Request = { _tag: "Latest" }

describe("Run: resume", () => {
  it.live("fails at e, then resumes after the fix: a–d skipped (not run, outputs kept), e–h run", () =>
    Effect.gen(function* () {
      const w = world(diamond("e"))
      const first = yield* w.run("first")
      expect(first.outcome).toMatchObject({ status: "failed", exitCode: 1 })
      w.write(diamond())
      const second = yield* w.run("second", { resume: latest })
      expect(second.outcome).toMatchObject({
        status: "succeeded",
        resumed: { from: "first", skipped: ["a", "b", "c", "d"] }
      })
      expect(second.started.sort()).toEqual(["e", "f", "g", "h"])
      const started = second.events.find((e) => e.type === "batch.started")!
      expect(started).toMatchObject({ resumedFrom: "first", skipped: ["a", "b", "c", "d"] })
      expect(types(second.events).filter((t) => t.startsWith("rule.skipped"))).toEqual(
        ["a", "b", "c", "d"].map((id) => `rule.skipped ${id}`)
      )
      for (const e of second.events.filter((e) => e.type === "rule.skipped"))
        expect(e).toMatchObject({ resumedFrom: "first", checkpointOf: "first" })
      // Skipped outputs are the first run's; what ran was cleaned and rewritten.
      expect(fs.readdirSync(path.join(w.dir, "out", "a"))).toEqual(["part-first"])
      expect(fs.readdirSync(path.join(w.dir, "out", "e"))).toEqual(["part-second"])
      const record = yield* Ledger.read(path.join(w.ledgerDir, "nightly", "second.json")).pipe(
        Effect.provide(node)
      )
      expect(record.resumedFrom).toBe("first")
      expect(record.rules["a"]).toMatchObject({ state: "skipped", reason: "checkpoint of run first valid" })
      expect(record.rules["e"]).toMatchObject({
        state: "succeeded",
        reason: "no checkpoint (it did not succeed in the resumed run)"
      })
      expect(record.rules["f"]).toMatchObject({ state: "succeeded", reason: "upstream rule e runs" })
      // The journal carries a–d over, so a resume of this run could skip all eight.
      const journal = yield* Checkpoint.read(
        path.join(w.ledgerDir, "nightly", "second.checkpoints.jsonl")
      ).pipe(Effect.provide(node))
      expect([...journal.keys()].sort()).toEqual(["a", "b", "c", "d", "e", "f", "g", "h"])
      expect(journal.get("a")!.writtenBy).toBe("first")
      expect(journal.get("h")!.writtenBy).toBe("second")
    })
  )

  it.live("re-runs a changed rule and everything downstream of it, and a rule whose output is gone", () =>
    Effect.gen(function* () {
      const w = world(diamond("h"))
      yield* w.run("first")
      // b's options change; c's output is deleted; h is fixed.
      w.write(diamond().replace("target: out/b, options: { ms: 1 }", "target: out/b, options: { ms: 2 }"))
      fs.rmSync(path.join(w.dir, "out", "c"), { recursive: true })
      const second = yield* w.run("second", { resume: latest })
      expect(second.outcome.status).toBe("succeeded")
      expect(second.outcome.resumed?.skipped).toEqual(["a"])
      expect(second.started.sort()).toEqual(["b", "c", "d", "e", "f", "g", "h"])
    })
  )

  it.live("refuses an explicit resume with nothing to trust, exit 3 and the reason, touching nothing", () =>
    Effect.gen(function* () {
      const w = world(diamond())
      const none = yield* w.run("first", { resume: latest })
      expect(none.outcome).toMatchObject({ status: "rejected", exitCode: 3 })
      assert(none.outcome.failure?._tag === "ConfigRejected")
      expect(none.outcome.failure.code).toBe("RESUME_REFUSED")
      expect(none.outcome.failure.message).toContain(
        "--resume: no earlier run of this batch with run_date=2026-11-30; run without --resume for a fresh delete-and-load"
      )
      expect(none.started).toEqual([])
      expect(types(none.events)).toEqual(["batch.failed"])
      yield* w.run("ok")
      const succeeded = yield* w.run("again", { resume: latest })
      expect(succeeded.outcome.failure?.message).toContain(
        "the latest run with these parameters, ok, succeeded: there is nothing to resume"
      )
      const unknown = yield* w.run("again2", { resume: { _tag: "Run", runId: "nope" } })
      expect(unknown.outcome.failure?.message).toContain("no readable run nope of this batch in the ledger")
      // A damaged journal is not trusted.
      w.write(diamond("b"))
      yield* w.run("broken")
      fs.writeFileSync(path.join(w.ledgerDir, "nightly", "broken.checkpoints.jsonl"), "garbage\n")
      const damaged = yield* w.run("again3", { resume: latest })
      expect(damaged.outcome.failure?.message).toMatch(
        /the checkpoints of run broken cannot be read: line 1: /
      )
      // Other parameters: named explicitly, it is refused with both sets.
      const other = yield* w.run("other", {
        resume: { _tag: "Run", runId: "broken" },
        params: { run_date: "2026-12-01" }
      })
      expect(other.outcome.failure?.message).toContain(
        "run broken ran with other parameters (run_date=2026-11-30; now run_date=2026-12-01)"
      )
    })
  )

  it.live(
    "reads the ledger only as far as it must: an older unreadable record does not stop a resume, a newer one does",
    () =>
      Effect.gen(function* () {
        const w = world(diamond("c"))
        const dir = path.join(w.ledgerDir, "nightly")
        fs.mkdirSync(dir, { recursive: true })
        const old = path.join(dir, "ancient.json")
        fs.writeFileSync(old, "{ torn")
        fs.utimesSync(old, new Date(2020, 0, 1), new Date(2020, 0, 1))
        yield* w.run("first")
        w.write(diamond())
        const resumed = yield* w.run("second", { resume: latest })
        expect(resumed.outcome.resumed?.from).toBe("first")
        // A record written after the named run that cannot be read might be a later run of it.
        w.write(diamond("c"))
        yield* w.run("third")
        fs.writeFileSync(path.join(dir, "newer.json"), "{ torn")
        fs.utimesSync(
          path.join(dir, "newer.json"),
          new Date(Date.now() + 60_000),
          new Date(Date.now() + 60_000)
        )
        const named = yield* w.run("fourth", { resume: { _tag: "Run", runId: "third" } })
        expect(named.outcome.failure?.message).toContain(
          `a later run might have rewritten the outputs of run third; a record of the batch cannot be read (${path.join(dir, "newer.json")})`
        )
        const newest = yield* w.run("fifth", { resume: latest })
        expect(newest.outcome.failure?.message).toContain("the latest run cannot be told")
      })
  )

  it.live("refuses a named run that a later run of the same parameters may have overwritten", () =>
    Effect.gen(function* () {
      const w = world(diamond("c"))
      yield* w.run("first")
      yield* w.run("second")
      const named = yield* w.run("third", { resume: { _tag: "Run", runId: "first" } })
      expect(named.outcome.failure?.message).toContain(
        "run second, started after run first with the same parameters, may have rewritten its outputs (resume second instead)"
      )
    })
  )

  it.live(
    "resume: never refuses --resume; resume: auto resumes by itself, and runs fresh (saying so) when it cannot",
    () =>
      Effect.gen(function* () {
        const never = world(diamond("c"), "resume: never\n")
        yield* never.run("first")
        const refused = yield* never.run("second", { resume: latest })
        expect(refused.outcome.failure?.message).toContain("the batch file says resume: never")

        const auto = world(diamond("c"), "resume: auto\n")
        const first = yield* auto.run("first")
        expect(first.outcome.resumed).toBeUndefined()
        auto.write(diamond(), "resume: auto\n")
        const second = yield* auto.run("second")
        expect(second.outcome.resumed).toEqual({ from: "first", skipped: ["a", "b"] })
        // The latest run succeeded: the next daily run is a fresh delete-and-load.
        const third = yield* auto.run("third")
        expect(third.outcome).toMatchObject({ status: "succeeded" })
        expect(third.outcome.resumed).toBeUndefined()
        expect(third.started.length).toBe(8)
      })
  )
})

describe("Run: retry", () => {
  it.live(
    "retries a transient failure that retry.on names: one rule.retrying, target cleaned first, batch succeeds",
    () =>
      Effect.gen(function* () {
        const w = world(
          `  - { id: a, kind: scripted, target: out/a, options: { ms: 1, fail: session, fail_attempts: 1 }, retry: { attempts: 3, delay: 5ms, on: [system] } }
  - { id: b, kind: scripted, depends_on: [a], options: { ms: 1 } }`
        )
        fs.mkdirSync(path.join(w.dir, "out", "a"))
        const result = yield* w.run("r1")
        expect(result.outcome).toMatchObject({ status: "succeeded", exitCode: 0 })
        expect(types(result.events)).toEqual([
          "batch.started",
          "rule.started a",
          "rule.retrying a",
          "rule.succeeded a",
          "rule.started b",
          "rule.succeeded b",
          "batch.succeeded"
        ])
        const retrying = result.events.find((e) => e.type === "rule.retrying")!
        expect(retrying).toMatchObject({
          attempt: 2,
          retryInMs: 5,
          failure: { code: "SESSION_LOST", category: "system" }
        })
        expect(result.events.find((e) => e.type === "rule.succeeded" && e.ruleId === "a")?.attempt).toBe(2)
        expect(result.started).toEqual(["a", "a", "b"])
        // The failed attempt's engine work was abandoned before the retry (and its target cleaned).
        expect(result.abandoned).toEqual(["a before attempt 2"])
        const record = yield* Ledger.read(path.join(w.ledgerDir, "nightly", "r1.json")).pipe(
          Effect.provide(node)
        )
        expect(record.rules["a"]).toMatchObject({ state: "succeeded", attempt: 2 })
      })
  )

  it.live("retries even when the runner's abandon dies (logged, best effort)", () =>
    Effect.gen(function* () {
      const w = world(
        `  - { id: a, kind: scripted, options: { ms: 1, fail: session, fail_attempts: 1 }, retry: { attempts: 2, delay: 1ms, on: [system] } }`,
        "",
        true
      )
      const result = yield* w.run("r1")
      expect(result.outcome.status).toBe("succeeded")
      expect(result.abandoned).toEqual(["a before attempt 2"])
    })
  )

  it.live("never retries a SQL analysis error, whatever retry.on says", () =>
    Effect.gen(function* () {
      const w = world(
        `  - { id: a, kind: scripted, options: { ms: 1, fail: sql }, retry: { attempts: 3, delay: 1ms, on: [system, capturable, UNRESOLVED_COLUMN] } }`
      )
      const result = yield* w.run("r1")
      expect(result.outcome).toMatchObject({ status: "failed", exitCode: 1 })
      expect(types(result.events)).not.toContain("rule.retrying a")
      expect(result.started).toEqual(["a"])
    })
  )

  it.live("fails the batch with the last attempt's failure once the attempts are spent", () =>
    Effect.gen(function* () {
      const w = world(
        `  - { id: a, kind: scripted, options: { ms: 1, fail: unreachable }, retry: { attempts: 3, delay: 1ms, backoff: exponential, on: [ENGINE_UNREACHABLE] } }`
      )
      const result = yield* w.run("r1")
      expect(result.outcome).toMatchObject({ status: "failed", exitCode: 2 })
      expect(
        result.events.filter((e) => e.type === "rule.retrying").map((e) => [e.attempt, e.retryInMs])
      ).toEqual([
        [2, 1],
        [3, 2]
      ])
      expect(result.events.find((e) => e.type === "rule.failed")).toMatchObject({ attempt: 3 })
    })
  )

  it.live("keeps retries within the rule's deadline", () =>
    Effect.gen(function* () {
      const w = world(
        `  - { id: a, kind: scripted, options: { ms: 1, fail: session }, retry: { attempts: 5, delay: 30s, on: [system] } }`
      )
      w.write(
        `  - { id: a, kind: scripted, options: { ms: 1, fail: session }, retry: { attempts: 5, delay: 30s, on: [system] } }`,
        "engine: { rule_timeout_seconds: 1 }\n"
      )
      const result = yield* w.run("r1")
      expect(result.outcome).toMatchObject({ status: "failed", exitCode: 2 })
      expect(result.outcome.failure?.code).toBe("DEADLINE_EXCEEDED")
      expect(result.events.filter((e) => e.type === "rule.retrying")).toHaveLength(1)
    })
  )

  it.live("lets siblings run while a rule waits for its retry", () =>
    Effect.gen(function* () {
      const w = world(
        `  - { id: a, kind: scripted, options: { ms: 1, fail: session, fail_attempts: 1 }, retry: { attempts: 2, delay: 300ms, on: [system] } }
  - { id: b, kind: scripted, options: { ms: 1 } }`,
        "engine: { parallelism: 2 }\n"
      )
      w.write(
        `  - { id: a, kind: scripted, options: { ms: 1, fail: session, fail_attempts: 1 }, retry: { attempts: 2, delay: 300ms, on: [system] } }
  - { id: b, kind: scripted, options: { ms: 50 } }`,
        "engine: { parallelism: 2 }\n"
      )
      const result = yield* w.run("r1")
      expect(result.outcome.status).toBe("succeeded")
      const order = types(result.events)
      expect(order.indexOf("rule.succeeded b")).toBeLessThan(order.indexOf("rule.succeeded a"))
    })
  )
})
