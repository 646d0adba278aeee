// FileLock across real processes: 8 racers (fixtures/lockRacer.ts, each its own Node process)
// race for one lock file round after round. Whatever held it before the round — nobody, a
// live process, a process killed while holding it, another host's fresh or stale lock — exactly
// one racer takes a free or stale lock, none takes a live one, and a stale one is broken once.
import * as fc from "fast-check"
import { type ChildProcess, fork, spawn } from "node:child_process"
import { once } from "node:events"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { describe, expect, it } from "vitest"
import type { Command, Report } from "./fixtures/lockRacer.js"

const racerScript = fileURLToPath(new URL("./fixtures/lockRacer.ts", import.meta.url))
const racerCount = 8
const rounds = 6
// How long a racer waits for the lock: a live holder must outlast it.
const waitMs = 1_000

/** What held the lock when a round began, and what must come of it. */
const kinds = {
  /** Nobody. */
  free: { acquired: 1, breaks: 0 },
  /** The last round's winner, killed (SIGKILL) while holding it: same host, pid gone. */
  crashed: { acquired: 1, breaks: 1 },
  /** This test's own (live) process, on this host. */
  liveHere: { acquired: 0, breaks: 0 },
  /** A dead pid — on another host, where this one's pids mean nothing — refreshed just now. */
  foreignFresh: { acquired: 0, breaks: 0 },
  /** Another host's lock not refreshed for longer than staleAfter (30 s). */
  foreignAged: { acquired: 1, breaks: 1 }
} as const
type Kind = keyof typeof kinds

// Six rounds; two to four crashes, so 4 to 6 racers remain for the last round.
const plans = fc
  .array(fc.constantFrom(...(Object.keys(kinds) as Array<Kind>)), { minLength: rounds, maxLength: rounds })
  .filter((plan) => {
    const crashes = plan.filter((k) => k === "crashed").length
    return crashes >= 2 && crashes <= 4
  })

interface Racer {
  readonly child: ChildProcess
  readonly send: (command: Command) => void
  readonly next: <T extends Report["type"]>(type: T, round: number) => Promise<Extract<Report, { type: T }>>
}

const startRacer = async (lockPath: string): Promise<Racer> => {
  const child = fork(racerScript, [lockPath], {
    execArgv: ["--disable-warning=ExperimentalWarning"],
    stdio: ["ignore", "pipe", "pipe", "ipc"]
  })
  let output = ""
  child.stdout?.on("data", (chunk: Buffer) => void (output += chunk.toString()))
  child.stderr?.on("data", (chunk: Buffer) => void (output += chunk.toString()))
  const inbox: Array<Report> = []
  let wake = () => {}
  child.on("message", (report: Report) => {
    inbox.push(report)
    wake()
  })
  child.on("exit", () => wake())
  const next = async <T extends Report["type"]>(type: T, round: number) => {
    for (;;) {
      const at = inbox.findIndex((r) => r.type === type && r.round === round)
      if (at >= 0) return inbox.splice(at, 1)[0] as Extract<Report, { type: T }>
      if (child.exitCode !== null || child.signalCode !== null) {
        throw new Error(`racer ${child.pid} exited before its "${type}" of round ${round}:\n${output}`)
      }
      await new Promise<void>((resolve) => (wake = resolve))
    }
  }
  const racer = { child, send: (command: Command) => void child.send(command), next }
  await racer.next("released", -1)
  return racer
}

const deadPid = async (): Promise<number> => {
  const child = spawn(process.execPath, ["-e", ""])
  await once(child, "exit")
  return child.pid!
}

// A lock as FileLock writes it.
const writeLock = (lockPath: string, pid: number, host: string) =>
  fs.writeFileSync(
    lockPath,
    JSON.stringify({ pid, host, token: crypto.randomUUID(), createdAt: new Date().toISOString() })
  )

const play = async (plan: ReadonlyArray<Kind>) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "core-filelock-"))
  const lockPath = path.join(dir, "race.lock")
  const racers = await Promise.all(Array.from({ length: racerCount }, () => startRacer(lockPath)))
  try {
    let winner: Racer | undefined
    for (const [round, kind] of plan.entries()) {
      if (winner !== undefined && kind === "crashed") {
        winner.child.kill("SIGKILL")
        await once(winner.child, "exit")
        racers.splice(racers.indexOf(winner), 1)
      } else if (winner !== undefined) {
        winner.send({ type: "release", round })
        await winner.next("released", round)
        expect(fs.existsSync(lockPath)).toBe(false)
      }
      if (kind === "free") fs.rmSync(lockPath, { force: true })
      if (kind === "crashed" && winner === undefined) writeLock(lockPath, await deadPid(), os.hostname())
      if (kind === "liveHere") writeLock(lockPath, process.pid, os.hostname())
      if (kind === "foreignFresh") writeLock(lockPath, await deadPid(), "elsewhere.example")
      if (kind === "foreignAged") {
        writeLock(lockPath, process.pid, "elsewhere.example")
        const old = new Date(Date.now() - 60_000)
        fs.utimesSync(lockPath, old, old)
      }

      for (const racer of racers) racer.send({ type: "race", round, waitMs })
      const reports = await Promise.all(racers.map((r) => r.next("raced", round)))
      expect(reports.flatMap((r) => (r.error === undefined ? [] : [r.error]))).toEqual([])
      const winners = reports.filter((r) => r.acquired)
      const breaks = reports.reduce((n, r) => n + r.breaks, 0)
      expect({ round, kind, racers: racers.length, acquired: winners.length, breaks }).toEqual({
        round,
        kind,
        racers: racers.length,
        ...kinds[kind]
      })
      winner = undefined
      if (winners.length === 1) {
        const won = winners[0]!
        // The lock on disk is the winner's, from this acquisition.
        expect(JSON.parse(fs.readFileSync(lockPath, "utf8"))).toMatchObject({
          pid: won.pid,
          host: os.hostname(),
          token: won.token
        })
        winner = racers.find((r) => r.child.pid === won.pid)
      }
      // No temporary file, claim or tombstone left behind by anyone.
      expect(fs.readdirSync(dir)).toEqual(["race.lock"])
    }
  } finally {
    for (const racer of racers) racer.child.kill("SIGKILL")
    fs.rmSync(dir, { recursive: true, force: true })
  }
}

describe("FileLock across processes", () => {
  it("gives a free or stale lock to exactly one racer and a live one to none; a stale one is broken once", async () => {
    // One plan per run (each costs seconds); fast-check prints its seed to replay a failure.
    await fc.assert(fc.asyncProperty(plans, play), { numRuns: 1, endOnFailure: true })
  }, 30_000)
})
