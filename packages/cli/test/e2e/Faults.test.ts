// Faults a run cannot capture itself: a network black hole between the CLI and Spark, and the
// Spark server killed mid-rule. Both on one Spark server of the file's own (the shared one is
// never touched), in that order: the kill ends it.
import * as fs from "node:fs"
import * as path from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import {
  batchFile,
  cli,
  endless,
  eventually,
  events,
  logLines,
  ofType,
  runArgs,
  start,
  topic
} from "./harness.js"
import * as Proxy from "./proxy.js"
import { launchRunning, startSpark, type OwnSpark } from "./servers.js"

// The deadline of each Spark call and the retry budget, in seconds (`--spark-timeout`).
const sparkTimeout = 5

// Longest a black hole may go unnoticed: see the test for what adds up to it.
const blackHoleBound = 60_000

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

// Starts the endless rule on `own` through `remote`, waits until its scan runs there (the
// server's own view), injects the fault and returns the milliseconds from the fault to the CLI's
// exit, with what it left behind.
const faultMidRule = async (name: string, own: OwnSpark, remote: string, fault: () => void) => {
  const b = batchFile(endless(name))
  const t = await topic(name)
  const { run: cli, job } = await launchRunning(own, () =>
    start(runArgs(b, t, { remote, extra: ["--spark-timeout", String(sparkTimeout)] }))
  )
  if (job === undefined) cli.child.kill("SIGKILL")
  expect(job, cli.output()).toBeDefined()
  const faultAt = Date.now()
  fault()
  const { code, at } = await cli.exited
  return { code, ms: at - faultAt, cli, b, t }
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

let own: OwnSpark
beforeAll(async () => {
  own = await startSpark("faults", { ui: true })
}, 180_000)
afterAll(async () => {
  await own?.close()
})

describe("system faults mid-rule", () => {
  it("network black hole mid-rule: keepalive and deadlines detect it, exit 2, no hang", async () => {
    const proxy = await Proxy.start({ host: "127.0.0.1", port: own.server.port })
    try {
      const r = await faultMidRule("black_hole", own, `sc://127.0.0.1:${proxy.port}`, proxy.freeze)
      expectSystemFailure("black_hole", r)
      console.log(`network black hole: detected and exited in ${r.ms} ms`)
      // Keepalive (ping every ${sparkTimeout} s, answer within ${sparkTimeout} s), one reconnect
      // attempt and the bounded cleanup calls, each within the Spark deadline; plus reporting.
      expect(r.ms).toBeLessThan(blackHoleBound)
      // Its own fence went into the black hole too: its scan runs on, until `status` (as L2
      // would run it) fences it over a working network. That also frees the server's one task
      // slot for the next test.
      const looked = await cli(["status", "black_hole", "--remote", own.remote, "--state-dir", r.b.stateDir])
      expect(looked.code, looked.stderr).toBe(0)
      expect(looked.stdout).toMatch(/had ended unfenced: its Spark session is fenced now/)
      expect(
        await eventually(async () => (await own.jobs()).every((j) => j.status !== "RUNNING"), 30_000)
      ).toBe(true)
    } finally {
      await proxy.close()
    }
  })

  it("Spark killed (-9) mid-rule: exit 2 within the deadline, batch.failed system, ledger closed", async () => {
    const r = await faultMidRule("spark_killed", own, own.remote, own.kill)
    expectSystemFailure("spark_killed", r)
    console.log(`spark killed: detected and exited in ${r.ms} ms`)
    // The retry budget plus a few seconds of reporting.
    expect(r.ms).toBeLessThan(sparkTimeout * 1000 + 10_000)
  })
})
