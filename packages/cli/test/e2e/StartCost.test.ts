// What a process that never talks to Spark or Kafka loads: `validate`, `plan`, `--help` and
// `--version` must not load the Spark client's gRPC, protobuf or Arrow, nor kafkajs. Each is
// tens of MiB and tens of ms of every such process (#17); one stray value import of a barrel
// brings them back, which is how `validate` came to load apache-arrow unnoticed.
import { spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { describe, expect, it } from "vitest"
import { twoRules } from "../support/Batches.js"
import { cliMain } from "./harness.js"

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "spark-etl-start-cost-"))
// Records every module the process resolves, for the test to read once it has exited.
const hook = path.join(dir, "hook.mjs")
fs.writeFileSync(
  hook,
  `import { registerHooks } from "node:module"
import { writeFileSync } from "node:fs"
const urls = []
registerHooks({ resolve(specifier, context, next) { const r = next(specifier, context); urls.push(r.url); return r } })
process.on("exit", () => writeFileSync(process.env.MODULES_OUT, urls.join("\\n")))
`
)
const batch = path.join(dir, "batch.yaml")
fs.writeFileSync(batch, twoRules("start_cost"))

const heavy = /node_modules\/(apache-arrow|@bufbuild\/protobuf|kafkajs)\//

const modulesOf = (nodeArgs: ReadonlyArray<string>, name: string, status = 0): ReadonlyArray<string> => {
  const out = path.join(dir, `modules-${name}.txt`)
  const r = spawnSync(process.execPath, ["--import", hook, ...nodeArgs], {
    cwd: import.meta.dirname,
    env: { PATH: process.env["PATH"] ?? "", HOME: process.env["HOME"] ?? "", MODULES_OUT: out },
    encoding: "utf8"
  })
  expect(r.status, r.stderr).toBe(status)
  return fs.readFileSync(out, "utf8").split("\n")
}

describe("commands that need neither Spark nor Kafka", () => {
  it.each([["validate", batch], ["plan", batch], ["--help"], ["--version"]])(
    "%s loads no gRPC, protobuf, Arrow or kafkajs",
    (...args) => {
      const modules = modulesOf([cliMain, ...args], args[0]!)
      // The hook saw the CLI's own modules: an empty list would pass for nothing.
      expect(modules.some((u) => u.includes("/packages/cli/dist/"))).toBe(true)
      expect(modules.filter((u) => heavy.test(u))).toEqual([])
    }
  )

  it("the check sees them where they are loaded: the client's first entry loads Arrow", () => {
    const modules = modulesOf(
      ["--input-type=module", "-e", 'await import("@spark-etl/runner-spark-connect")'],
      "barrel"
    )
    expect(modules.filter((u) => heavy.test(u)).length).toBeGreaterThan(0)
  })
})

// A run loads kafkajs (some 20 ms of its start) only when Kafka is configured: a run whose events
// go to the log needs none of it. Spark is unreachable here: the run fails in preflight, exit 2,
// after trying to connect.
describe("a run", () => {
  const run = (name: string, ...kafka: ReadonlyArray<string>) =>
    modulesOf(
      [
        cliMain,
        "run",
        batch,
        "--remote",
        "sc://127.0.0.1:1",
        "--spark-timeout",
        "1",
        "--state-dir",
        path.join(dir, `state-${name}`),
        ...kafka
      ],
      `run-${name}`,
      2
    )
  const kafkajs = /node_modules\/kafkajs\//
  const sparkClient = /runner-spark-connect\/(dist|src)\/internal\/Connection\.(js|ts)$/

  it("without Kafka loads no kafkajs (it did load the Spark client's connection, to reach Spark)", () => {
    const modules = run("log")
    expect(modules.filter((u) => sparkClient.test(u)).length).toBeGreaterThan(0)
    expect(modules.filter((u) => kafkajs.test(u))).toEqual([])
  })

  it("the reporter's configuration module alone loads no kafkajs", () => {
    const modules = modulesOf(
      ["--input-type=module", "-e", 'await import("@spark-etl/kafka-reporter/ReporterConfig")'],
      "reporter-config"
    )
    expect(modules.some((u) => u.includes("/packages/kafka-reporter/dist/ReporterConfig.js"))).toBe(true)
    expect(modules.filter((u) => kafkajs.test(u))).toEqual([])
  })

  it("with Kafka configured loads kafkajs", () => {
    const modules = run("kafka", "--kafka-brokers", "127.0.0.1:1", "--kafka-topic", "start-cost")
    expect(modules.filter((u) => kafkajs.test(u)).length).toBeGreaterThan(0)
  })
})
