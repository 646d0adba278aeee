// The soak of issue #7 (item 6), extended by issue #11 (item 7): many runs of one batch, each
// with one fault injected at a random moment — Spark killed (-9), Kafka stopped, SIGINT, SIGTERM,
// SIGKILL of the CLI, Spark frozen (SIGSTOP of its JVM), Spark frozen then SIGINT/SIGTERM — then
// rerun until it succeeds; a run that ended unfenced must be fenced by that rerun. After every
// rerun the outputs must be exactly right; at the end every run must have exactly one terminal
// event on Kafka (outbox included): none lost, none doubled. The soak runs its own Spark and Kafka, since it kills them; the shared servers of
// the test run are never touched. SOAK_RUNS sets the number of runs (default 50), SOAK_SEED
// the seed of the fault sequence (printed, so a failing soak can be replayed);
// SOAK_FAULTS a subset of the fault kinds.
import { spawn } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { describe, expect, it } from "vitest"
import { cliMain } from "../e2e/harness.js"
import { sleep, waitFor } from "../support/Clients.js"
import * as Infra from "./Infra.js"
import { mulberry32 } from "./Prng.js"
import * as SoakBatch from "./SoakBatch.js"

const runs = Number(process.env["SOAK_RUNS"] ?? "50")
const seedText = process.env["SOAK_SEED"] ?? ""
const seed = seedText !== "" ? Number(seedText) >>> 0 : (Date.now() ^ (process.pid << 8)) >>> 0

// The deadline of each Spark call and the retry budget, in seconds (`--spark-timeout`).
const sparkTimeout = 5
// The CLI promises an exit within 4 s of a signal (it forces one after Signals.gracePeriodMs);
// the bound adds headroom for the process to be reaped on a loaded 2-core machine.
const signalBound = 4000 + 1500
// Spark killed: the retry budget, then reporting and closing the ledger (Faults.test.ts allows
// 10 s of reporting; under the soak's load a few more).
const sparkKillBound = sparkTimeout * 1000 + 15_000
// Spark frozen (SIGSTOP): nothing refuses a connection, nothing answers. Up to keepalive +
// keepalive timeout (5 + 5 s) before the stream counts as dead, a reconnect within the retry
// budget (5 s), the run's own fence (5 s, failing), reporting, then the release of the session
// on exit (5 s more): about 26 s at worst. Measured on an idle 2-core machine: exit 22.8-25.0 s
// after the freeze, the summary at 19.4-19.9 s (the network black hole of Faults.test.ts,
// without the self-fence, took 18.7 s). The rest is headroom for a loaded machine.
const sparkFreezeBound = 35_000
// A CLI still alive this long after its fault is hung: it is killed so the soak goes on.
const hangCap = 120_000

const faults = [
  "spark-kill",
  "kafka-stop",
  "SIGINT",
  "SIGTERM",
  "SIGKILL",
  "spark-freeze",
  "signal-frozen"
] as const
type Fault = (typeof faults)[number]
// SOAK_FAULTS=a,b narrows the draw to some kinds, to chase one of them; the default is all.
const drawn: ReadonlyArray<Fault> = (process.env["SOAK_FAULTS"] ?? "")
  .split(",")
  .filter((f): f is Fault => (faults as ReadonlyArray<string>).includes(f))
// Seen at 99112cc: about one spark-freeze in eighteen left the CLI waiting past the soak's 120 s
// cap (the freeze landed just after a short rule started; nothing more was logged). Not seen
// since: 40 of 40 handled at 01dd858 (SOAK_FAULTS=spark-freeze SOAK_RUNS=20, twice, the first
// with gRPC's keepalive and transport traces on). The cause was never identified, so it is still
// drawn only when SOAK_FAULTS names it; Spark frozen mid-rule stays covered by the e2e zombie
// test, and frozen with a signal by signal-frozen.
const byDefault: ReadonlyArray<Fault> = faults.filter((f) => f !== "spark-freeze")
const faultPool: ReadonlyArray<Fault> = drawn.length > 0 ? drawn : byDefault

const terminalTypes = new Set(["batch.succeeded", "batch.failed", "batch.aborted", "batch.crashed"])
// The terminal event a closed ledger record corresponds to.
const terminalOfStatus: Readonly<Record<string, string>> = {
  succeeded: "spark-etl.batch.succeeded",
  failed: "spark-etl.batch.failed",
  aborted: "spark-etl.batch.aborted",
  crashed: "spark-etl.batch.crashed"
}

interface Exited {
  readonly code: number | null
  readonly signal: NodeJS.Signals | null
  readonly at: number
}

/** The CLI's one-line summary on stdout ("spark-etl SUCCEEDED|FAILED|ABORTED|REJECTED …"). */
const summaryLine = (stdout: string): string =>
  stdout.split("\n").find((l) => l.startsWith("spark-etl ")) ?? ""

/** The exit of `p`, or undefined when it is still running `ms` after now. */
const exitWithin = async (p: Proc, ms: number): Promise<Exited | undefined> => {
  let timer: NodeJS.Timeout | undefined
  try {
    return await Promise.race([
      p.exited,
      new Promise<undefined>((resolve) => (timer = setTimeout(() => resolve(undefined), ms)))
    ])
  } finally {
    clearTimeout(timer)
  }
}

interface Proc {
  readonly startedAt: number
  readonly stdout: () => string
  readonly stderr: () => string
  readonly done: () => boolean
  /** When the summary line came on stdout (undefined until it did). */
  readonly summaryAt: () => number | undefined
  readonly exited: Promise<Exited>
  /** Sends a signal; returns when it was sent. */
  readonly send: (signal: NodeJS.Signals) => number
}

const startCli = (args: ReadonlyArray<string>): Proc => {
  const startedAt = Date.now()
  const child = spawn(process.execPath, [cliMain, ...args], {
    stdio: ["ignore", "pipe", "pipe"],
    env: { PATH: process.env["PATH"] ?? "", HOME: process.env["HOME"] ?? "" }
  })
  const out: Array<string> = []
  const err: Array<string> = []
  let summaryAt: number | undefined
  child.stdout.on("data", (c: Buffer) => {
    out.push(c.toString())
    if (summaryAt === undefined && summaryLine(out.join("")) !== "") summaryAt = Date.now()
  })
  child.stderr.on("data", (c: Buffer) => err.push(c.toString()))
  let ended = false
  // "close", not "exit": the output streams are complete by then.
  const exited = new Promise<Exited>((resolve) =>
    child.once("close", (code, signal) => {
      ended = true
      resolve({ code, signal, at: Date.now() })
    })
  )
  return {
    startedAt,
    stdout: () => out.join(""),
    stderr: () => err.join(""),
    done: () => ended,
    summaryAt: () => summaryAt,
    exited,
    send: (signal) => {
      child.kill(signal)
      return Date.now()
    }
  }
}

interface LedgerRecord {
  readonly runId: string
  readonly status: string
  readonly outcome?: { readonly exitCode: number; readonly failure?: { readonly category: string } }
  /** The run ended without its engine work seen to stop (issue #11); its successor fences it. */
  readonly unfenced?: boolean
  readonly fencedBy?: string
  readonly terminalEventSent?: boolean
}

interface Envelope {
  readonly id: string
  readonly type: string
  readonly data: { readonly runId: string }
}

interface Iteration {
  readonly n: number
  readonly fault: Fault
  detail: string
  /** The fault reached a live CLI (a signal or a stop scheduled after the run ended did not). */
  injected: boolean
  handled: boolean
  readonly problems: Array<string>
  /** Run ids of the faulted run and its reruns. */
  readonly runIds: Array<string>
  wrongOutputs: boolean
}

describe("soak: random faults, then rerun", () => {
  it(
    `${runs} runs with random faults: outputs exact after each rerun, exactly one terminal event per run`,
    async () => {
      const began = Date.now()
      console.log(
        `soak: ${runs} runs, seed ${seed} (replay with SOAK_SEED=${seed}), faults ${faultPool.join(", ")}`
      )
      const rng = mulberry32(seed)
      const [spark, kafka] = await Promise.all([Infra.spark(), Infra.kafka()])
      try {
        const topic = `soak-${seed}-${Date.now()}`
        await kafka.createTopic(topic)
        const b = SoakBatch.create()
        const ledgerDir = path.join(b.stateDir, "ledger", SoakBatch.batchName)
        const outboxFile = path.join(b.stateDir, "outbox.jsonl")
        const args = () => [
          "run",
          b.batch,
          "--remote",
          spark.remote(),
          "--state-dir",
          b.stateDir,
          "--kafka-brokers",
          kafka.brokers,
          "--kafka-topic",
          topic,
          "--spark-timeout",
          String(sparkTimeout)
        ]
        const ledgerIds = (): ReadonlySet<string> =>
          new Set(
            fs.existsSync(ledgerDir)
              ? fs
                  .readdirSync(ledgerDir)
                  .filter((f) => f.endsWith(".json"))
                  .map((f) => f.replace(/\.json$/, ""))
              : []
          )
        const record = (id: string) =>
          JSON.parse(fs.readFileSync(path.join(ledgerDir, `${id}.json`), "utf8")) as LedgerRecord
        const newIds = (before: ReadonlySet<string>) => [...ledgerIds()].filter((id) => !before.has(id))
        const outbox = (): ReadonlyArray<Envelope> =>
          fs.existsSync(outboxFile)
            ? fs
                .readFileSync(outboxFile, "utf8")
                .split("\n")
                .filter((l) => l.trim() !== "")
                .map((l) => JSON.parse(l) as Envelope)
            : []

        // One run to its end; its run id from the ledger (a run that never opened one has none).
        const runToEnd = async () => {
          const before = ledgerIds()
          const p = startCli(args())
          const e = await p.exited
          return { p, e, ids: newIds(before), ms: e.at - p.startedAt }
        }

        // Durations of undisturbed runs on a warm server: the span in which signals land.
        const durations: Array<number> = []
        const natural = () => {
          const recent = durations.slice(-5).sort((x, y) => x - y)
          return recent[Math.floor(recent.length / 2)] ?? 8000
        }

        const checkOutputs = async (): Promise<ReadonlyArray<string>> => {
          const problems: Array<string> = []
          const out = path.join(b.dir, "output")
          const entries = fs.readdirSync(out).sort()
          if (entries.join(",") !== [...SoakBatch.ruleIds].sort().join(",")) {
            problems.push(`output/ holds [${entries.join(", ")}]`)
          }
          for (const id of SoakBatch.ruleIds) {
            const dir = path.join(out, id)
            if (!fs.existsSync(dir)) continue
            // Only committed files: no `_temporary` or stray attempt left by a killed write.
            const stray = fs
              .readdirSync(dir)
              .filter((f) => !/^(\.?part-[^/]+\.parquet(\.crc)?|_SUCCESS|\._SUCCESS\.crc)$/.test(f))
            if (stray.length > 0) problems.push(`output/${id} holds ${stray.join(", ")}`)
            if (!fs.existsSync(path.join(dir, "_SUCCESS"))) problems.push(`output/${id} has no _SUCCESS`)
          }
          if (problems.length > 0) return problems
          const views = Object.fromEntries(SoakBatch.ruleIds.map((id) => [`out_${id}`, path.join(out, id)]))
          const results = await spark.readBack(
            views,
            SoakBatch.ruleIds.map((id) => `SELECT * FROM out_${id}`)
          )
          SoakBatch.ruleIds.forEach((id, i) => {
            const got = (results[i] ?? []).map(SoakBatch.canonical).sort()
            const want = SoakBatch.expected[id].map(SoakBatch.canonical).sort()
            if (got.join("\n") !== want.join("\n")) {
              problems.push(
                `output/${id}: ${got.length} rows, expected ${want.length}; first differences: ${JSON.stringify(
                  got.filter((r) => !want.includes(r)).slice(0, 3)
                )} vs ${JSON.stringify(want.filter((r) => !got.includes(r)).slice(0, 3))}`
              )
            }
          })
          return problems
        }

        // Warm-up: two undisturbed runs (the first on a cold server is slow), outputs checked.
        const warmIds: Array<string> = []
        for (let i = 0; i < 2; i++) {
          const w = await runToEnd()
          expect(w.e.code, `warm-up run: ${w.p.stdout()}${w.p.stderr()}`).toBe(0)
          warmIds.push(...w.ids)
          if (i === 1) durations.push(w.ms)
        }
        expect(await checkOutputs()).toEqual([])
        console.log(`soak: warm-up done, an undisturbed run takes ${natural()} ms`)

        const iterations: Array<Iteration> = []
        for (let n = 1; n <= runs; n++) {
          const fault = rng.pick(faultPool)
          const iterationStart = Date.now()
          const it: Iteration = {
            n,
            fault,
            detail: "",
            injected: true,
            handled: false,
            problems: [],
            runIds: [],
            wrongOutputs: false
          }
          iterations.push(it)
          const fail = (why: string) => it.problems.push(why)
          const before = ledgerIds()
          // The run the rerun must fence first: a crashed one (still `running`), or one that
          // ended `unfenced` (failed or aborted).
          let expectFence:
            { readonly runId: string; readonly as: "crashed" | "failed" | "aborted" } | undefined
          // Spark was restarted or frozen: the rerun's time says nothing of a normal run.
          let sparkDisturbed = false
          const lockHeld = () => fs.existsSync(path.join(ledgerDir, "lock"))
          // Starts a run and returns it once `rule` started in it; undefined (the fault not
          // injected, a problem noted) when the run ended before.
          const runUntilStarted = async (rule: SoakBatch.RuleId): Promise<Proc | undefined> => {
            const p = startCli(args())
            const started = await waitFor(
              () => p.stderr().includes(`[${rule}] rule started`) || p.done(),
              120_000
            )
            if (started && !p.done()) return p
            it.injected = false
            await p.exited
            it.runIds.push(...newIds(before))
            fail(`run ended before [${rule}] started: ${p.stdout()}`)
            return undefined
          }

          if (fault === "spark-kill") {
            // Mid-rule: after one of the rules started, a moment into it.
            const rule = rng.pick(SoakBatch.ruleIds)
            const delay = rng.int(0, 300)
            it.detail = `after [${rule}] started +${delay} ms`
            const p = await runUntilStarted(rule)
            if (p !== undefined) {
              await sleep(delay)
              if (p.done()) it.injected = false
              const at = Date.now()
              spark.kill()
              const e = await p.exited
              const ids = newIds(before)
              it.runIds.push(...ids)
              const rec = ids[0] === undefined ? undefined : record(ids[0])
              if (it.injected && e.code === 0 && rec?.status === "succeeded") {
                // Its last rule had its answer from Spark before the kill (the rerun checks the
                // outputs all the same): the fault came too late to test anything.
                it.injected = false
                it.detail += `, exit 0 ${e.at - at} ms after the kill (the run had finished its Spark work)`
              } else if (it.injected) {
                if (e.code !== 2) fail(`exit ${String(e.code)} (signal ${String(e.signal)}), expected 2`)
                if (!/exit=2 category=system/.test(p.stdout())) fail(`summary: ${p.stdout().trim()}`)
                if (e.at - at > sparkKillBound) fail(`exited ${e.at - at} ms after the kill`)
                if (rec?.status !== "failed" || rec.outcome?.failure?.category !== "system") {
                  fail(`ledger: ${JSON.stringify(rec?.status)} ${JSON.stringify(rec?.outcome)}`)
                }
                it.detail += `, exit ${String(e.code)} in ${e.at - at} ms`
              }
            }
            await spark.restart()
            sparkDisturbed = true
          } else if (fault === "kafka-stop") {
            const early = rng.next() < 0.5
            const delay = Math.floor(rng.next() * natural() * 0.8)
            it.detail = early ? "stopped before the run" : `stopped ${delay} ms into the run`
            let p: Proc
            if (early) {
              await kafka.stop()
              p = startCli(args())
            } else {
              p = startCli(args())
              await sleep(delay)
              if (p.done()) it.injected = false
              await kafka.stop()
            }
            const e = await p.exited
            const ids = newIds(before)
            it.runIds.push(...ids)
            // Escalation never changes the outcome: the run succeeds as it would with Kafka up.
            if (e.code !== 0)
              fail(`exit ${String(e.code)} (signal ${String(e.signal)}), expected 0: ${p.stdout()}`)
            const id = ids[0]
            if (id === undefined) fail("no ledger record")
            else {
              if (record(id).status !== "succeeded") fail(`ledger status ${record(id).status}`)
              // Kafka was down for the whole run: its terminal event must be waiting in the outbox.
              const spooled = outbox().filter(
                (ev) => ev.data.runId === id && ev.type === "spark-etl.batch.succeeded"
              )
              if (early && spooled.length !== 1)
                fail(`${spooled.length} batch.succeeded of ${id} in the outbox`)
              it.detail += `, exit ${String(e.code)}, ${outbox().length} event(s) spooled`
            }
            await kafka.start()
          } else if (fault === "spark-freeze" || fault === "signal-frozen") {
            // Spark's JVM stopped mid-rule (as spark-kill picks its moment): alone, the CLI must
            // notice within its deadlines; with a signal after it, the run must close within
            // the signal's promise. Either way its own fence cannot reach the frozen server, so
            // its record says unfenced, and the rerun (after the thaw) must fence it.
            const rule = rng.pick(SoakBatch.ruleIds)
            const delay = rng.int(0, 300)
            const signal = fault === "signal-frozen" ? (rng.next() < 0.5 ? "SIGINT" : "SIGTERM") : undefined
            // Well before the CLI could notice the freeze itself (keepalive: 5 s).
            const gap = rng.int(0, 1000)
            it.detail = `after [${rule}] started +${delay} ms${signal === undefined ? "" : `, ${signal} ${gap} ms after the freeze`}`
            const p = await runUntilStarted(rule)
            if (p !== undefined) {
              await sleep(delay)
              const frozenAt = Date.now()
              spark.freeze()
              sparkDisturbed = true
              try {
                let sentAt = frozenAt
                if (signal !== undefined) {
                  await sleep(gap)
                  sentAt = p.send(signal)
                }
                const e = await exitWithin(p, hangCap)
                if (e === undefined) {
                  fail(`still running ${hangCap} ms after the freeze: ${p.stdout().trim()}`)
                  p.send("SIGKILL")
                  await p.exited
                }
                const ids = newIds(before)
                it.runIds.push(...ids)
                const id = ids[0]
                const rec = id === undefined ? undefined : record(id)
                if (e === undefined) {
                  if (rec?.status === "running") expectFence = { runId: rec.runId, as: "crashed" }
                } else if (e.code === 0 && rec?.status === "succeeded") {
                  // It had written its last target before the freeze (only its session's
                  // release met the frozen server): nothing was tested.
                  it.injected = false
                  it.detail += ", exit 0 (the run had finished)"
                } else {
                  const code = signal === undefined ? 2 : signal === "SIGINT" ? 130 : 143
                  const from = signal === undefined ? "the freeze" : signal
                  const ms = e.at - sentAt
                  const bound = signal === undefined ? sparkFreezeBound : signalBound
                  const summary = signal === undefined ? "spark-etl FAILED" : "spark-etl ABORTED"
                  const status = signal === undefined ? "failed" : "aborted"
                  const category = signal === undefined ? "system" : "interrupted"
                  if (e.code !== code)
                    fail(`exit ${String(e.code)} (signal ${String(e.signal)}), expected ${code}`)
                  if (ms > bound) fail(`exited ${ms} ms after ${from}, bound ${bound} ms`)
                  const line = summaryLine(p.stdout())
                  if (!line.startsWith(summary) || !line.includes(` exit=${code} category=${category}`)) {
                    fail(`summary: ${p.stdout().trim()}`)
                  }
                  if (!line.includes(" unfenced=true")) fail(`summary without unfenced=true: ${line}`)
                  if (rec === undefined) fail("no ledger record")
                  else {
                    if (rec.status !== status || rec.outcome?.failure?.category !== category) {
                      fail(
                        `ledger: ${rec.status} ${JSON.stringify(rec.outcome)}, expected ${status} (${category})`
                      )
                    }
                    if (rec.unfenced !== true) fail(`ledger: unfenced ${String(rec.unfenced)}, expected true`)
                  }
                  if (lockHeld()) fail(`the batch's lock is still there after exit ${String(e.code)}`)
                  // What follows the summary (the session's release on a frozen server) is cut by the
                  // exit; how long it took shows how much of the bound the close itself needs.
                  const summaryAt = p.summaryAt()
                  it.detail += `, exit ${String(e.code)} in ${ms} ms${summaryAt === undefined ? "" : ` (summary at ${summaryAt - sentAt} ms)`}`
                }
              } finally {
                spark.thaw()
              }
            }
          } else {
            const delay = Math.floor(rng.next() * natural() * 0.9)
            it.detail = `${delay} ms after start`
            const p = startCli(args())
            await sleep(delay)
            if (p.done()) {
              it.injected = false
              it.detail += " (the run had ended)"
              await p.exited
              it.runIds.push(...newIds(before))
            } else {
              const sentAt = p.send(fault)
              const e = await p.exited
              const ids = newIds(before)
              it.runIds.push(...ids)
              const id = ids[0]
              const rec = id === undefined ? undefined : record(id)
              if (fault === "SIGKILL" && e.code === 0 && rec?.status === "succeeded") {
                // The process had already exited when the kill was sent (its streams not yet
                // closed): nothing was tested.
                it.injected = false
                it.detail += ", exit 0 (the run had finished)"
              } else if (fault === "SIGKILL") {
                if (e.signal !== "SIGKILL") fail(`ended with ${String(e.code)}/${String(e.signal)}`)
                // A run killed while it held the batch must be reported crashed by the next run.
                if (rec?.status === "running") expectFence = { runId: rec.runId, as: "crashed" }
                it.detail += rec === undefined ? ", before the ledger" : `, ledger ${rec.status}`
              } else {
                const code = fault === "SIGINT" ? 130 : 143
                const ms = e.at - sentAt
                if (e.code === code) {
                  if (ms > signalBound) fail(`exit ${code} ${ms} ms after the signal`)
                  if (!new RegExp(`spark-etl ABORTED .*exit=${code}`).test(p.stdout()))
                    fail(`no ABORTED summary line: ${p.stdout().trim()}`)
                  // Issue #11: running rules get 1.5 s, then the run closes anyway, record
                  // aborted. A record left running means the forced exit (3.5 s) cut the close
                  // short: a broken promise, though the next run still reports it crashed.
                  if (rec !== undefined && rec.status !== "aborted") {
                    if (rec.status === "running") {
                      expectFence = { runId: rec.runId, as: "crashed" }
                      fail(`exit ${code} ${ms} ms after ${fault} with the record left running (forced exit)`)
                    } else fail(`ledger status ${rec.status} after exit ${code}`)
                  }
                  if (lockHeld()) fail(`the batch's lock is still there after exit ${code}`)
                  it.detail += `, exit ${code} in ${ms} ms${rec?.unfenced === true ? ", unfenced" : ""}`
                } else if (e.code === null && e.signal === fault) {
                  // Before the CLI installed its handlers the signal ends the process itself; only
                  // acceptable if the run had not yet touched anything.
                  if (rec !== undefined)
                    fail(`ended by ${fault} itself, but ledger record ${rec.runId} exists`)
                  it.detail += ", ended by the signal (before the handlers)"
                } else if (e.code === 0 && rec?.status === "succeeded") {
                  // The signal arrived after the run had finished its work.
                  it.detail += ", exit 0 (the run had finished)"
                } else {
                  fail(
                    `exit ${String(e.code)}/${String(e.signal)} ${ms} ms after ${fault}, ledger ${rec?.status}`
                  )
                }
              }
            }
          }

          // Whatever the fault, a closed run recorded unfenced (Spark did not confirm its own
          // fence: killed, frozen, or too slow within a signal's grace) is the rerun's to fence.
          const faulted = it.runIds[0]
          if (expectFence === undefined && faulted !== undefined) {
            const rec = record(faulted)
            if (rec.unfenced === true && (rec.status === "failed" || rec.status === "aborted")) {
              expectFence = { runId: faulted, as: rec.status }
            }
          }

          const faultMs = Date.now() - iterationStart
          // Rerun, undisturbed, until it succeeds (a rerun is always safe: delete-and-load).
          let rerunOk = false
          for (let attempt = 1; attempt <= 3 && !rerunOk; attempt++) {
            const r = await runToEnd()
            it.runIds.push(...r.ids)
            rerunOk = r.e.code === 0
            if (!rerunOk) fail(`rerun ${attempt}: exit ${String(r.e.code)}: ${r.p.stdout().trim()}`)
            else if (!sparkDisturbed) durations.push(r.ms)
            if (expectFence !== undefined && attempt === 1) {
              const { runId, as } = expectFence
              const old = record(runId)
              if (as === "crashed") {
                if (!r.p.stderr().includes(`previous run ${runId}`)) {
                  fail(`the rerun did not report crashed run ${runId}`)
                }
                if (old.status !== "crashed") fail(`ledger of ${runId}: ${old.status}, expected crashed`)
              } else if (old.unfenced !== false || old.fencedBy !== r.ids[0]) {
                fail(
                  `ledger of ${runId}: unfenced ${String(old.unfenced)}, fencedBy ${String(old.fencedBy)}; expected false, ${String(r.ids[0])}`
                )
              }
              const fenced = new RegExp(`fenced ${as} run ${runId}: session \\S+, (\\d+) operation`).exec(
                r.p.stderr()
              )
              // A crashed run's fence is reported as before (issue #7); an unfenced one must be.
              if (fenced === null && as !== "crashed") fail(`the rerun did not fence ${as} run ${runId}`)
              it.detail += fenced === null ? ", not fenced" : `, fenced by the rerun (${fenced[1]} op)`
            }
          }
          const outputProblems = rerunOk ? await checkOutputs() : ["no successful rerun"]
          // A spare for the next kill, started now rather than beside this rerun: on a fresh
          // server with a JVM starting next to it, the rerun took 16 s instead of 10.
          spark.replenish()
          it.wrongOutputs = outputProblems.length > 0
          for (const p of outputProblems) fail(p)
          // Kafka is up again: the rerun delivered whatever earlier runs spooled.
          if (outbox().length > 0) fail(`${outbox().length} event(s) still in the outbox after the rerun`)
          it.handled = it.injected && it.problems.length === 0
          console.log(
            `soak ${String(n).padStart(3)}/${runs} ${fault.padEnd(13)} ${it.handled ? "ok  " : it.injected ? "FAIL" : "miss"} ${it.detail} [fault+restore ${faultMs} ms, total ${Date.now() - iterationStart} ms]${
              it.problems.length > 0 ? `\n    ${it.problems.join("\n    ")}` : ""
            }`
          )
        }

        // Everything waiting is delivered by the operator's command; then Kafka holds it all.
        const flush = await new Promise<Exited & { out: string }>((resolve) => {
          const p = startCli([
            "outbox",
            "flush",
            "--state-dir",
            b.stateDir,
            "--kafka-brokers",
            kafka.brokers,
            "--kafka-topic",
            topic
          ])
          void p.exited.then((e) => resolve({ ...e, out: p.stdout() + p.stderr() }))
        })
        expect(flush.code, flush.out).toBe(0)
        expect(outbox()).toEqual([])
        expect(
          fs.existsSync(`${outboxFile}.quarantine`) ? fs.readFileSync(`${outboxFile}.quarantine`, "utf8") : ""
        ).toBe("")

        const all = kafka.records(topic).map((r) => JSON.parse(r.value) as Envelope)
        // Delivery is at least once; consumers deduplicate by the event id (docs/architecture.md).
        const byId = new Map(all.map((ev) => [ev.id, ev]))
        const redelivered = all.length - byId.size
        const terminals = new Map<string, Array<Envelope>>()
        for (const ev of byId.values()) {
          if (!terminalTypes.has(ev.type.replace(/^spark-etl\./, ""))) continue
          terminals.set(ev.data.runId, [...(terminals.get(ev.data.runId) ?? []), ev])
        }
        const owner = new Map<string, Fault | "warm-up">(warmIds.map((id) => [id, "warm-up"]))
        for (const it of iterations) for (const id of it.runIds) owner.set(id, it.fault)
        const everyRun = new Set([
          ...ledgerIds(),
          ...terminals.keys(),
          ...[...byId.values()].map((e) => e.data.runId)
        ])
        const lost = new Map<string, Array<string>>()
        const doubled = new Map<string, Array<string>>()
        const mismatched: Array<string> = []
        for (const id of everyRun) {
          const kind = owner.get(id) ?? "unknown"
          const t = terminals.get(id) ?? []
          if (t.length === 0) lost.set(kind, [...(lost.get(kind) ?? []), id])
          if (t.length > 1)
            doubled.set(kind, [...(doubled.get(kind) ?? []), `${id}: ${t.map((e) => e.type).join(", ")}`])
          if (owner.get(id) === undefined) mismatched.push(`run ${id} belongs to no run of the soak`)
          if (ledgerIds().has(id)) {
            const rec = record(id)
            if (t.length === 1 && terminalOfStatus[rec.status] !== t[0]?.type) {
              mismatched.push(`run ${id}: ledger ${rec.status}, event ${t[0]?.type}`)
            }
          }
        }

        // The fault table.
        const rows = [...faults, "warm-up" as const].map((kind) => {
          const of = iterations.filter((i) => i.fault === kind)
          return {
            kind,
            injected: of.filter((i) => i.injected).length,
            missed: of.filter((i) => !i.injected).length,
            handled: of.filter((i) => i.handled).length,
            lost: lost.get(kind)?.length ?? 0,
            doubled: doubled.get(kind)?.length ?? 0,
            wrong: of.filter((i) => i.wrongOutputs).length
          }
        })
        const total = rows.reduce(
          (s, r) => ({
            kind: "total",
            injected: s.injected + r.injected,
            missed: s.missed + r.missed,
            handled: s.handled + r.handled,
            lost: s.lost + r.lost,
            doubled: s.doubled + r.doubled,
            wrong: s.wrong + r.wrong
          }),
          { kind: "total", injected: 0, missed: 0, handled: 0, lost: 0, doubled: 0, wrong: 0 }
        )
        const line = (cells: ReadonlyArray<string | number>) =>
          cells.map((c, i) => (i === 0 ? String(c).padEnd(14) : String(c).padStart(9))).join(" ")
        const wall = Math.round((Date.now() - began) / 1000)
        console.log(
          [
            "",
            `soak fault table — ${runs} runs, seed ${seed}, wall time ${Math.floor(wall / 60)}m${String(wall % 60).padStart(2, "0")}s`,
            line(["fault", "injected", "handled", "missed", "ev. lost", "ev. dbl", "wrong out"]),
            ...[...rows, total].map((r) =>
              line([r.kind, r.injected, r.handled, r.missed, r.lost, r.doubled, r.wrong])
            ),
            `events on the topic: ${all.length} (${byId.size} distinct, ${redelivered} redelivered duplicates, deduplicated by id); runs: ${everyRun.size}`,
            "missed = the run had ended before the fault's moment (not injected); warm-up = the two undisturbed runs",
            ""
          ].join("\n")
        )

        const failed = iterations.filter((i) => i.injected && !i.handled)
        expect(
          failed.map((i) => `#${i.n} ${i.fault} (${i.detail}): ${i.problems.join("; ")}`),
          "every injected fault is handled"
        ).toEqual([])
        expect(Object.fromEntries(lost), "runs without a terminal event").toEqual({})
        expect(Object.fromEntries(doubled), "runs with more than one terminal event").toEqual({})
        expect(mismatched, "terminal events that contradict the ledger").toEqual([])
        expect(total.wrong, "iterations with wrong outputs after the rerun").toBe(0)
        // Most faults must really land; a soak that misses them proves nothing.
        expect(total.injected).toBeGreaterThanOrEqual(Math.ceil(runs * 0.8))
      } finally {
        await Promise.all([spark.close(), kafka.close()])
      }
    },
    // About 15 min on an idle 2-core machine; twice that when other JVMs share it.
    50 * 60_000
  )
})
