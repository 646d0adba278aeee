/**
 * The release as an AutoSys host gets it: built, installed by its install.sh, and run with a
 * PATH that holds only the system's folders (whose `node`, if any, is the system's — 20 here).
 * Its commands must answer as the source tree's do.
 */
import { Effect } from "effect"
import { execFileSync, spawn, spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { waitFor, within } from "@spark-etl/testing"
import { createTopic, readTopic } from "@spark-etl/testing/kafka"
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest"
import * as Release from "../src/Release.js"

const repo = Release.repoRoot
const sourceCli = path.join(repo, "packages", "cli", "dist", "main.js")
const systemPath = "/usr/local/bin:/usr/bin:/bin"
const work = fs.mkdtempSync(path.join(os.tmpdir(), "spark-etl-release-test-"))
const prefix = path.join(work, "opt", "spark-etl")
const installed = path.join(prefix, "bin", "spark-etl")
// A copy of the sample batch with its generated input and an empty output root.
const sample = path.join(work, "sample")

interface Result {
  readonly code: number | null
  readonly stdout: string
  readonly stderr: string
}

const hostEnv = (): NodeJS.ProcessEnv => ({ PATH: systemPath, HOME: os.homedir(), LANG: "C.UTF-8" })

/** The installed release, as a job runs it. */
const release = (args: ReadonlyArray<string>, env: NodeJS.ProcessEnv = {}): Result => {
  const out = spawnSync(installed, args, { encoding: "utf8", env: { ...hostEnv(), ...env }, cwd: work })
  return { code: out.status, stdout: out.stdout, stderr: out.stderr }
}

/** The CLI of the source tree, on the workspace's Node. */
const source = (args: ReadonlyArray<string>): Result => {
  const out = spawnSync(process.execPath, [sourceCli, ...args], { encoding: "utf8", cwd: work })
  return { code: out.status, stdout: out.stdout, stderr: out.stderr }
}

let artifact: Release.Artifact

beforeAll(async () => {
  const example = path.join(repo, "examples", "orders")
  fs.cpSync(example, sample, {
    recursive: true,
    filter: (f) => !/\/(data|output)(\/|$)/.test(path.relative(repo, f))
  })
  execFileSync(process.execPath, [path.join(sample, "generate-data.ts"), "--out", path.join(sample, "data")])
  fs.mkdirSync(path.join(sample, "output"))
  artifact = await Effect.runPromise(Release.build({ outDir: path.join(work, "dist") }))
  const unpacked = path.join(work, "unpacked")
  fs.mkdirSync(unpacked)
  execFileSync("tar", ["-xzf", artifact.tarball, "-C", unpacked])
  execFileSync("sh", [path.join(unpacked, artifact.name, "install.sh"), prefix], { env: hostEnv() })
})

afterAll(() => fs.rmSync(work, { recursive: true, force: true }))

describe("the release tarball", () => {
  it("is refused for an architecture the pinned Node is not published for, saying so", async () => {
    const refused = await Effect.runPromise(
      Effect.flip(Release.build({ arch: "arm64", outDir: path.join(work, "arm64") }))
    )
    expect(refused.step).toBe("node runtime")
    expect(refused.message).toContain(
      `the pinned Node ${artifact.nodeVersion} is not offered for linux-arm64`
    )
    expect(fs.existsSync(path.join(work, "arm64"))).toBe(false)
  })

  it("installs as a release beside others, behind an atomically switched `current`", () => {
    expect(fs.readlinkSync(path.join(prefix, "current"))).toBe(`releases/${artifact.name}`)
    expect(fs.readlinkSync(installed)).toBe("../current/bin/spark-etl")
    const version = fs.readFileSync(path.join(prefix, "current", "VERSION"), "utf8")
    expect(version).toContain(`spark-etl ${artifact.version}`)
    expect(version).toContain(`commit ${artifact.commit}`)
    expect(version).toContain(`node ${artifact.nodeVersion}`)
    for (const file of ["LICENSE", "THIRD-PARTY-NOTICES.txt", "schema/batch.failed.json", "docs/autosys.md"])
      expect(fs.existsSync(path.join(prefix, "current", file)), file).toBe(true)
    // Every bundled npm package is named with its licence.
    const notices = fs.readFileSync(path.join(prefix, "current", "THIRD-PARTY-NOTICES.txt"), "utf8")
    for (const name of ["effect", "@bufbuild/protobuf", "apache-arrow", "kafkajs", "pino", "yaml"])
      expect(notices).toMatch(new RegExp(`^${name.replace("/", "\\/")} \\S+ — `, "m"))
    // The Spark client speaks gRPC over node:http2 itself: no gRPC library is shipped.
    expect(notices).not.toMatch(/^@grpc\//m)
    // Installing the same release again only moves `current` (what a rollback does).
    execFileSync("sh", [path.join(prefix, "current", "install.sh"), prefix], { env: hostEnv() })
    expect(fs.readdirSync(path.join(prefix, "releases"))).toEqual([artifact.name])
  })

  it("runs on its own Node whatever node the PATH has", () => {
    const systemNode = spawnSync("node", ["--version"], { encoding: "utf8", env: hostEnv() })
    // Tells the reader what this host offers; the release must not care.
    console.info(`system node on ${systemPath}: ${systemNode.stdout.trim() || "none"}`)
    const version = release(["--version"])
    expect(version).toMatchObject({ code: 0, stderr: "" })
    expect(version.stdout.trim()).toBe(`spark-etl v${artifact.version}`)
  })

  it("validates and plans the sample exactly as the source tree does", () => {
    for (const command of ["validate", "plan"]) {
      const args = [command, path.join(sample, "batch.yaml"), "--param", "run_date=2026-11-26"]
      const ours = release(args)
      expect(ours.code, ours.stderr).toBe(0)
      expect(ours).toEqual(source(args))
    }
  })

  it("refuses a bad batch with the same exit code and words", () => {
    const bad = path.join(work, "cyclic.yaml")
    fs.writeFileSync(
      bad,
      "batch: cyclic\nrules:\n  - id: a\n    kind: sql\n    depends_on: [b]\n    options: { sql: SELECT 1 }\n" +
        "  - id: b\n    kind: sql\n    depends_on: [a]\n    options: { sql: SELECT 2 }\n"
    )
    const ours = release(["validate", bad])
    expect(ours.code).toBe(3)
    expect(ours).toEqual(source(["validate", bad]))
  })

  it("runs the sample batch on Spark and reports to Kafka", async () => {
    const dir = sample
    const topic = `release-${process.pid}-${Date.now()}`
    await createTopic(inject("kafkaBrokers"), topic)
    const run = release([
      "run",
      path.join(dir, "batch.yaml"),
      "--param",
      "run_date=2026-11-26",
      "--remote",
      inject("sparkRemote"),
      "--kafka-brokers",
      inject("kafkaBrokers"),
      "--kafka-topic",
      topic,
      "--state-dir",
      path.join(dir, "state")
    ])
    expect(run.code, run.stderr).toBe(0)
    expect(run.stdout.trim().split("\n").at(-1)).toMatch(/^spark-etl SUCCEEDED batch=orders_daily .*exit=0/)
    for (const target of fs.readdirSync(path.join(dir, "output")))
      expect(fs.existsSync(path.join(dir, "output", target, "_SUCCESS")), target).toBe(true)
    expect(fs.readdirSync(path.join(dir, "output")).length).toBeGreaterThan(0)
    const types = readTopic(inject("kafkaBrokers"), topic).map(
      (e) => (JSON.parse(e.value) as { type: string }).type
    )
    expect(types.at(0)).toBe("spark-etl.batch.started")
    expect(types.at(-1)).toBe("spark-etl.batch.succeeded")
  })

  it("runs a batch on the embedded local engine (libexec/ and maven/ found beside the bundle)", () => {
    const dir = path.join(work, "local")
    fs.mkdirSync(dir)
    fs.writeFileSync(
      path.join(dir, "batch.yaml"),
      "batch: local_engine\nrules:\n  - id: one\n    kind: sql\n    options:\n      sql: SELECT 1 AS one\n" +
        "      expect:\n        row_count: { min: 1, max: 1 }\n"
    )
    // The jars come from the cache the test servers were started from (SPARK_ETL_CACHE or ~/.cache).
    const cache = process.env["SPARK_ETL_CACHE"]
    const run = release(
      ["run", path.join(dir, "batch.yaml"), "--remote", "local[1]", "--state-dir", path.join(dir, "state")],
      cache === undefined ? {} : { SPARK_ETL_CACHE: cache }
    )
    expect(run.code, run.stderr).toBe(0)
    expect(run.stdout.trim().split("\n").at(-1)).toMatch(/^spark-etl SUCCEEDED batch=local_engine /)
  })

  it("passes SIGINT through its launcher (exec'd: its Node, its V8 flag): the run ends 130 within 4 s", async () => {
    const dir = path.join(work, "endless")
    fs.mkdirSync(path.join(dir, "output"), { recursive: true })
    fs.writeFileSync(
      path.join(dir, "batch.yaml"),
      "batch: endless\ntargets:\n  roots: [output]\nrules:\n  - id: endless\n    kind: sql\n    options:\n" +
        "      sql: SELECT id FROM range(0, 100000000000, 1, 1) WHERE id % 7 = 13\n" +
        "      expect:\n        row_count: { min: 1 }\n"
    )
    const log = path.join(dir, "run.jsonl")
    const child = spawn(
      installed,
      [
        "run",
        path.join(dir, "batch.yaml"),
        "--remote",
        inject("sparkRemote"),
        "--state-dir",
        path.join(dir, "state"),
        "--log-file",
        log
      ],
      { env: hostEnv(), stdio: "ignore" }
    )
    const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)))
    const started = await waitFor(
      () => fs.existsSync(log) && fs.readFileSync(log, "utf8").includes("rule started"),
      120_000
    )
    expect(started, "the rule started").toBe(true)
    // The launcher's shell is gone: its pid is Node's, started with the young generation capped.
    const commandLine = fs
      .readFileSync(`/proc/${child.pid}/cmdline`, "utf8")
      .split("\0")
      .filter((a) => a !== "")
    expect(commandLine.slice(0, 3)).toEqual([
      path.join(prefix, "releases", artifact.name, "node", "bin", "node"),
      "--max-semi-space-size=16",
      path.join(prefix, "releases", artifact.name, "lib", "cli", "main.js")
    ])
    child.kill("SIGINT")
    const code = await within(exited, 4_000, "the run's exit after SIGINT")
    expect(code).toBe(130)
  })
})
