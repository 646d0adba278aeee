// The summary line says exactly where the events Kafka did not take are: in the outbox (named),
// or only on stderr, never a place they are not in. Checked on the line itself, and through the
// CLI's own event sink (the reporter behind the signal-grace wrapper) with Kafka down.
import { NodeFileSystem, NodePath } from "@effect/platform-node"
import { Plugin, Run, TargetStore } from "@spark-etl/core"
import * as Testing from "@spark-etl/core/testing"
import { Effect, Layer, Option } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { afterEach, describe, expect, it, vi } from "vitest"
import * as Layers from "../src/Layers.js"
import type * as Settings from "../src/Settings.js"
import { byDefault } from "./support/Settings.js"
import * as Summary from "../src/Summary.js"

const outcome: Run.Outcome = {
  runId: "r-1",
  batch: "nightly",
  status: "succeeded",
  exitCode: 0,
  targetsTouched: true,
  unfenced: false
}

describe("Summary.line", () => {
  it("says nothing of events when every one was delivered", () => {
    expect(Summary.line({ ...outcome, undelivered: { spooled: 0, onStderr: 0, logOnly: 0 } }, "/l")).toBe(
      "spark-etl SUCCEEDED batch=nightly run=r-1 exit=0 log=/l"
    )
    expect(Summary.line(outcome, "/l")).toBe("spark-etl SUCCEEDED batch=nightly run=r-1 exit=0 log=/l")
  })

  it("names the outbox holding events, and says which are only on stderr or in the log", () => {
    const line = (spooled: number, onStderr: number, logOnly = 0) =>
      Summary.line(
        { ...outcome, undelivered: { spooled, outbox: "/s/outbox.jsonl", onStderr, logOnly } },
        "/l"
      )
    expect(line(3, 0)).toBe(
      "spark-etl SUCCEEDED batch=nightly run=r-1 exit=0 events=3 in outbox /s/outbox.jsonl log=/l"
    )
    expect(line(0, 2)).toBe(
      "spark-etl SUCCEEDED batch=nightly run=r-1 exit=0 events=2 on stderr, not spooled log=/l"
    )
    expect(line(1, 2, 1)).toContain(
      "events=1 in outbox /s/outbox.jsonl, 2 on stderr, not spooled, 1 in the log only, not spooled log=/l"
    )
  })
})

describe("a resumed run", () => {
  const resumed: Run.Outcome = {
    ...outcome,
    resumed: { from: "r-0", skipped: ["load"] },
    report: {
      status: "succeeded",
      startedAt: 0,
      endedAt: 1500,
      durationMs: 1500,
      unsettled: [],
      rules: [
        { id: "load", state: "skipped", attempt: 0 },
        { id: "totals", state: "succeeded", attempt: 2, startedAt: 0, endedAt: 1200, durationMs: 1200 }
      ]
    }
  }

  it("the summary line names the run resumed and how many rules it skipped", () => {
    expect(Summary.line(resumed, "/l")).toBe(
      "spark-etl SUCCEEDED batch=nightly run=r-1 exit=0 resumed=r-0 skipped=1 duration=1.5s log=/l"
    )
  })

  it("the rule table says so first, shows skipped rules, and the attempts of a retried rule", () => {
    expect(Summary.table(resumed).split("\n")).toEqual([
      "resumed from r-0 (1 skipped)",
      "  rule    state           time",
      "  load    skipped             ",
      "  totals  succeeded       1.2s  after 2 attempts"
    ])
    const fresh: Run.Outcome = { ...outcome, ...(resumed.report ? { report: resumed.report } : {}) }
    expect(Summary.table(fresh).split("\n")[0]).toBe("  rule    state           time")
  })
})

describe("the run's sink with Kafka down", () => {
  afterEach(() => vi.restoreAllMocks())

  const runWith = async (outboxFile: string) => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "cli-summary-"))
    const file = path.join(dir, "nightly.yaml")
    fs.writeFileSync(
      file,
      `batch: nightly
targets:
  store: memory
  roots: [out]
rules:
  - { id: a, kind: scripted, options: { ms: 5 } }
`
    )
    const settings: Settings.Resolved = {
      remote: "local",
      stateDir: dir,
      ledgerDir: path.join(dir, "ledger"),
      logDir: path.join(dir, "logs"),
      outboxFile,
      // Nothing listens on port 1: the connection is refused at once.
      kafka: Option.some({ brokers: ["127.0.0.1:1"], topic: "spark-etl.events" }),
      pluginPath: [],
      ...byDefault
    }
    const node = Layer.mergeAll(NodeFileSystem.layer, NodePath.layer)
    return Effect.runPromise(
      Run.run({ batchFile: file, ledgerDir: settings.ledgerDir }).pipe(
        Effect.provide(
          Layer.mergeAll(
            Plugin.layer([Plugin.load(Testing.scripted().runner)]),
            TargetStore.memory().layer,
            Layers.eventSink(settings).pipe(Layer.provide(NodeFileSystem.layer)),
            node
          )
        )
      )
    )
  }

  it("events spooled: the summary names the outbox, and the outbox holds that many", async () => {
    const outboxFile = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "cli-outbox-")), "outbox.jsonl")
    const result = await runWith(outboxFile)
    const lines = fs.readFileSync(outboxFile, "utf8").trim().split("\n")
    expect(lines).toHaveLength(4)
    expect(Summary.line(result, "/l")).toContain(`events=4 in outbox ${outboxFile} log=/l`)
  })

  it("an outbox that cannot be written: each event on stderr as one line, and the summary says so", async () => {
    const written: Array<string> = []
    vi.spyOn(process.stderr, "write").mockImplementation((chunk: string | Uint8Array) => {
      written.push(String(chunk))
      return true
    })
    // The outbox path is a directory (replaced after the CLI's location check).
    const outboxFile = fs.mkdtempSync(path.join(os.tmpdir(), "cli-outbox-dir-"))
    const result = await runWith(outboxFile)
    vi.restoreAllMocks()
    const events = written.filter((w) => w.startsWith("spark-etl-event "))
    expect(events).toHaveLength(4)
    const summary = Summary.line(result, "/l")
    expect(summary).toContain("events=4 on stderr, not spooled log=/l")
    expect(summary).not.toContain("in outbox")
  })
})
