// Faults a run cannot capture itself: the Spark server killed mid-rule, and a network black hole
// between the CLI and Spark. Each test runs its own Spark server (the shared one is never touched).
import { spawn } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { describe, expect, it } from "vitest"
import { batchFile, cliMain, events, kafka, logLines, ofType, topic, endless, waitFor } from "./harness.js"
import * as Proxy from "./proxy.js"
import { withServer } from "./servers.js"

// The deadline of each Spark call and the retry budget, in seconds (`--spark-timeout`).
const sparkTimeout = 5

// Longest a black hole may go unnoticed: see the test for what adds up to it.
const blackHoleBound = 60_000

const run = (args: ReadonlyArray<string>) => {
  const child = spawn(process.execPath, [cliMain, ...args], { stdio: ["ignore", "pipe", "pipe"] })
  const out: Array<string> = []
  const err: Array<string> = []
  child.stdout.on("data", (c: Buffer) => out.push(c.toString()))
  child.stderr.on("data", (c: Buffer) => err.push(c.toString()))
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)))
  return { stdout: () => out.join(""), output: () => out.join("") + err.join(""), exited }
}

// The batch's one ledger record.
const ledger = (stateDir: string, batch: string) => {
  const dir = path.join(stateDir, "ledger", batch)
  const files = fs.readdirSync(dir).filter((f) => f.endsWith(".json"))
  expect(files).toHaveLength(1)
  return JSON.parse(fs.readFileSync(path.join(dir, files[0] ?? ""), "utf8")) as {
    status: string
    endedAt?: string
    outcome?: { exitCode: number; failure?: { category: string; code: string } }
  }
}

// Starts the endless rule against `remote`, waits until its scan runs on the server, injects the
// fault and returns the milliseconds from the fault to the CLI's exit, with what it left behind.
const faultMidRule = async (name: string, remote: string, fault: () => void) => {
  const b = batchFile(endless(name))
  const t = await topic(name)
  const cli = run([
    "run",
    b.batch,
    "--remote",
    remote,
    "--state-dir",
    b.stateDir,
    "--kafka-brokers",
    kafka(),
    "--kafka-topic",
    t,
    "--spark-timeout",
    String(sparkTimeout)
  ])
  expect(await waitFor(() => cli.output().includes("rule started"), 60_000), cli.output()).toBe(true)
  await new Promise((r) => setTimeout(r, 1500)) // the scan is running on the server
  const faultAt = Date.now()
  fault()
  const code = await cli.exited
  return { code, ms: Date.now() - faultAt, cli, b, t }
}

// What every system fault must leave: exit 2, one batch.failed (system), a closed ledger, a full log.
const expectSystemFailure = (name: string, r: Awaited<ReturnType<typeof faultMidRule>>) => {
  expect(r.code, r.cli.output()).toBe(2)
  expect(r.cli.stdout()).toMatch(new RegExp(`spark-etl FAILED batch=${name} .*exit=2 category=system`))
  const all = events(r.t)
  const failed = ofType(all, "batch.failed")
  expect(failed).toHaveLength(1)
  expect(failed[0]).toMatchObject({ exitCode: 2, failure: { category: "system" } })
  expect(ofType(all, "batch.succeeded")).toHaveLength(0)
  const record = ledger(r.b.stateDir, name)
  expect(record.status).toBe("failed")
  expect(record.endedAt).toBeDefined()
  expect(record.outcome).toMatchObject({ exitCode: 2, failure: { category: "system" } })
  // The log was flushed to its end: its last line is the run's final word.
  const log = logLines(r.cli.stdout())
  expect(JSON.stringify(log.at(-1))).toMatch(/exit|FAILED|failed/)
}

describe("system faults mid-rule", () => {
  it("Spark killed (-9) mid-rule: exit 2 within the deadline, batch.failed system, ledger closed", async () => {
    await withServer("killed", async (server, kill) => {
      const r = await faultMidRule("spark_killed", server.remote, kill)
      expectSystemFailure("spark_killed", r)
      console.log(`spark killed: detected and exited in ${r.ms} ms`)
      // The retry budget plus a few seconds of reporting.
      expect(r.ms).toBeLessThan(sparkTimeout * 1000 + 10_000)
    })
  })

  it("network black hole mid-rule: keepalive and deadlines detect it, exit 2, no hang", async () => {
    await withServer("blackhole", async (server) => {
      const proxy = await Proxy.start({ host: "127.0.0.1", port: server.port })
      try {
        const r = await faultMidRule("black_hole", `sc://127.0.0.1:${proxy.port}`, proxy.freeze)
        expectSystemFailure("black_hole", r)
        console.log(`network black hole: detected and exited in ${r.ms} ms`)
        // Keepalive (ping every ${sparkTimeout} s, answer within ${sparkTimeout} s), one reconnect
        // attempt and the bounded cleanup calls, each within the Spark deadline; plus reporting.
        expect(r.ms).toBeLessThan(blackHoleBound)
      } finally {
        await proxy.close()
      }
    })
  })
})
