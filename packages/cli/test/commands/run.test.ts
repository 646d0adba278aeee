// What `run` decides before it touches anything: the log file, the places it checks, the summary
// of a refusal, a dry run. The handler runs in-process; none of these paths reaches Spark.
import { Failure } from "@spark-etl/core"
import { Option } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import { describe, expect, it, vi } from "vitest"
import type * as Settings from "../../src/Settings.js"
import * as Run from "../../src/commands/run.js"
import { byDefault } from "../support/Settings.js"
import { batchDir, cyclic, handle, twoRules } from "./support.js"

const settings = (kafka: boolean): Settings.Resolved => ({
  remote: "local",
  stateDir: "/s",
  ledgerDir: "/s/ledger",
  logDir: "/s/logs",
  outboxFile: "/s/outbox.jsonl",
  kafka: kafka ? Option.some({ brokers: ["k:9092"], topic: "t" }) : Option.none(),
  pluginPath: [],
  ...byDefault
})

type Flags = Parameters<typeof Run.handler>[0]
const flags = (batchFile: string, overrides: Partial<Flags> = {}): Flags => ({
  batchFile,
  params: Option.none(),
  remote: Option.some("local"),
  parallelism: Option.none(),
  dryRun: false,
  resume: Option.none(),
  stateDir: Option.none(),
  logDir: Option.none(),
  logFile: Option.none(),
  kafkaBrokers: Option.none(),
  kafkaTopic: Option.none(),
  sparkTimeout: Option.some(5),
  localSparkVersion: Option.none(),
  siteConfig: Option.none(),
  ...overrides
})

describe("run's decisions", () => {
  it("names the log after the batch, a UTC stamp and the run id; --log-file wins", () => {
    const runId = "0b6c1d2e-aaaa-bbbb-cccc-dddddddddddd"
    const at = new Date("2026-11-26T01:02:03.456Z")
    expect(Run.logFileOf(settings(false), Option.none(), "orders daily/v2", runId, at)).toBe(
      "/s/logs/orders_daily_v2-20261126T010203-0b6c1d2e.jsonl"
    )
    expect(Run.logFileOf(settings(false), Option.some("/x/run.jsonl"), "orders", runId, at)).toBe(
      "/x/run.jsonl"
    )
  })

  it("takes the batch's own name, else its file's", () => {
    expect(Run.batchNameOf(Option.some("orders_daily"), "/b/file.yaml")).toBe("orders_daily")
    expect(Run.batchNameOf(Option.none(), "/b/nightly.yml")).toBe("nightly")
  })

  it("checks the ledger and the log's folder, and the outbox only with Kafka, each with its setting", () => {
    expect(Run.locationsOf(settings(false), "/l/run.jsonl")).toEqual([
      { path: "/s/ledger", setting: "--state-dir / SPARK_ETL_STATE_DIR", kind: "directory" },
      { path: "/l", setting: "--log-dir / --log-file / SPARK_ETL_LOG_DIR", kind: "directory" }
    ])
    expect(Run.locationsOf(settings(true), "/l/run.jsonl")[2]).toEqual({
      path: "/s/outbox.jsonl",
      setting: "--state-dir / SPARK_ETL_STATE_DIR (outbox)",
      kind: "file"
    })
  })

  it("a refusal's summary says rejected, exit 3, its code, and that no log was opened", () => {
    const failure = Failure.rejected(
      [{ file: "/s", line: 1, column: 1, field: "--state-dir", message: "no" }],
      "LOCATION_UNWRITABLE"
    )
    expect(Run.refusedSummary("r-1", "orders", failure)).toBe(
      "spark-etl REJECTED batch=orders run=r-1 exit=3 category=rejected code=LOCATION_UNWRITABLE log=(none: refused before the log was opened)"
    )
  })
})

describe("run's handler, before any side effect", () => {
  it("a malformed SPARK_REMOTE: exit 3 naming the variable, nothing written", async () => {
    const b = batchDir(twoRules)
    const state = path.join(b.dir, "state")
    const r = await handle(
      Run.handler(flags(b.file, { remote: Option.none(), stateDir: Option.some(state) })),
      {
        SPARK_REMOTE: "sc://spark:15002/;token=s3cr3t;use_ssl=false"
      }
    )
    expect(r.code).toBe(3)
    expect(r.stderr.join("\n")).toContain("environment:1:1: SPARK_REMOTE (token)")
    expect(r.stdout.at(-1)).toMatch(
      /^spark-etl REJECTED batch=two_rules run=\S+ exit=3 category=rejected code=REMOTE_INVALID log=\(none/
    )
    expect(r.stderr.join("\n") + r.stdout.join("\n")).not.toContain("s3cr3t")
    expect(fs.existsSync(state)).toBe(false)
  })

  // The embedded server reads it from the process environment, and so does the check.
  it("SPARK_ETL_CLASS_ARCHIVE neither on nor off with a local remote: exit 3 naming it, nothing started or written", async () => {
    const b = batchDir(twoRules)
    const state = path.join(b.dir, "state")
    vi.stubEnv("SPARK_ETL_CLASS_ARCHIVE", "false")
    try {
      const r = await handle(Run.handler(flags(b.file, { stateDir: Option.some(state) })))
      expect(r.code).toBe(3)
      expect(r.stderr.join("\n")).toBe(
        'engine setting rejected (ENGINE_SETTING_INVALID):\n  environment:1:1: SPARK_ETL_CLASS_ARCHIVE: "false" is neither on nor off'
      )
      expect(r.stdout.at(-1)).toMatch(
        /^spark-etl REJECTED batch=two_rules run=\S+ exit=3 category=rejected code=ENGINE_SETTING_INVALID log=\(none/
      )
      expect(fs.existsSync(state)).toBe(false)
    } finally {
      vi.unstubAllEnvs()
    }
  })

  it("a state dir that takes no write: exit 3, LOCATION_UNWRITABLE naming the setting", async () => {
    const b = batchDir(twoRules)
    const r = await handle(Run.handler(flags(b.file, { stateDir: Option.some("/dev/null/state") })))
    expect(r.code).toBe(3)
    expect(r.stderr.join("\n")).toContain("batch rejected (LOCATION_UNWRITABLE)")
    expect(r.stderr.join("\n")).toContain("--state-dir / SPARK_ETL_STATE_DIR")
    expect(r.stdout.at(-1)).toContain("code=LOCATION_UNWRITABLE")
  })

  it("--dry-run shows the plan and the cleanup it would do: exit 0, nothing touched", async () => {
    const b = batchDir(twoRules)
    fs.writeFileSync(path.join(b.dir, "output", "keep"), "")
    const r = await handle(Run.handler(flags(b.file, { dryRun: true })), {
      SPARK_REMOTE: "sc://spark.example:15002"
    })
    expect(r.code).toBe(0)
    expect(r.stdout).toEqual([
      "batch two_rules: 2 rules, valid (dry run: nothing was touched)",
      "plan:\n1. load\n2. report (after load)",
      `cleanup (delete-and-load) would empty:\n  load: ${path.join(b.dir, "output", "load")}`,
      // The flag given here wins over SPARK_REMOTE.
      "spark: local (not contacted)"
    ])
    expect(fs.readdirSync(path.join(b.dir, "output"))).toEqual(["keep"])
  })

  it("--dry-run of a rejected batch: exit 3 with its issues", async () => {
    const b = batchDir(cyclic)
    const r = await handle(Run.handler(flags(b.file, { dryRun: true })))
    expect(r.code).toBe(3)
    expect(r.stderr.join("\n")).toMatch(/batch rejected[\s\S]*cycle/i)
  })
})
