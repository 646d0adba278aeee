/**
 * Detection time per fault (issue #7): the built CLI run as a child process, exactly as AutoSys
 * starts it, with one fault injected while its rule scans on Spark; each fault repeated (10 by
 * default) in a fresh folder, each repetition checked for the right outcome.
 *
 *   SPARK_REMOTE=sc://127.0.0.1:15002 KAFKA_BROKERS=127.0.0.1:9092 node bench/faults.ts [reps] [fault...]
 *   npm run bench:faults        (starts Spark and Kafka unless SPARK_REMOTE / KAFKA_BROKERS are set)
 *
 * Faults: spark-killed, spark-frozen, black-hole, sigint, sigterm, frozen-signal, sigkill,
 * second-run, kafka. Spark is killed or frozen only on servers of the bench's own; the shared
 * one given by SPARK_REMOTE is never stopped.
 */
import { NodeServices } from "@effect/platform-node"
import * as Effect from "effect/Effect"
import { SparkSession } from "@spark-etl/runner-spark-connect"
import { spawn, type ChildProcess } from "node:child_process"
import * as fs from "node:fs"
import * as net from "node:net"
import * as os from "node:os"
import * as path from "node:path"

// The test proxy is TypeScript run as is (Node strips the types); its types come from the
// `.js` specifier tsc resolves, the module from the `.ts` file Node can load.
type ProxyModule = typeof import("../test/e2e/proxy.js")
const Proxy = (await import(new URL("../test/e2e/proxy.ts", import.meta.url).href)) as ProxyModule
type ServersModule = typeof import("../test/e2e/servers.js")
const { startSpark } = (await import(
  new URL("../test/e2e/servers.ts", import.meta.url).href
)) as ServersModule
type ClientsModule = typeof import("../test/support/Clients.js")
const { createTopic, readTopic, sleep, waitFor } = (await import(
  new URL("../test/support/Clients.ts", import.meta.url).href
)) as ClientsModule
// The endless batch, where every fault lands mid-rule, and the same batch made short (the rerun
// after a crash, and the Kafka runs).
type BatchesModule = typeof import("../test/support/Batches.js")
const { endless, short } = (await import(
  new URL("../test/support/Batches.ts", import.meta.url).href
)) as BatchesModule

const remote = process.env["SPARK_REMOTE"]
const brokers = process.env["KAFKA_BROKERS"]
if (!remote || !brokers) {
  console.error("set SPARK_REMOTE and KAFKA_BROKERS (npm run bench:faults starts both and sets them)")
  process.exit(1)
}
const reps = Number(process.argv[2] ?? "10")
const only = new Set(process.argv.slice(3))
const here = import.meta.dirname
const cliMain = path.resolve(here, "..", "dist", "main.js")
// Deadline of each Spark call and the retry budget, in seconds, for every run of the bench.
const sparkTimeout = 5

/** A fresh folder with the batch file, its `output` target root and its state dir. */
const folder = (yaml: string) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "spark-etl-faults-"))
  fs.mkdirSync(path.join(dir, "output"))
  const batch = path.join(dir, "batch.yaml")
  fs.writeFileSync(batch, yaml)
  return { dir, batch, stateDir: path.join(dir, "state") }
}

interface Cli {
  readonly child: ChildProcess
  readonly startedAt: number
  readonly output: () => string
  /** Exit code (or the signal that ended it) and when, as seen by the parent. */
  readonly exited: Promise<{
    readonly code: number | null
    readonly signal: string | null
    readonly at: number
  }>
  /** When a stderr chunk first contained `text` (undefined while it has not). */
  readonly seen: (text: string) => number | undefined
}

/** `spark-etl ARGS` as a child process, its output captured with arrival times. */
const cli = (args: ReadonlyArray<string>): Cli => {
  const startedAt = Date.now()
  const child = spawn(process.execPath, [cliMain, ...args], { stdio: ["ignore", "pipe", "pipe"] })
  const out: Array<string> = []
  const err: Array<string> = []
  const arrivals: Array<{ at: number; text: string }> = []
  child.stdout?.on("data", (c: Buffer) => out.push(c.toString()))
  child.stderr?.on("data", (c: Buffer) => {
    err.push(c.toString())
    // Joined so far, so a line split across chunks is found when its end arrives.
    arrivals.push({ at: Date.now(), text: err.join("") })
  })
  const exited = new Promise<{ code: number | null; signal: string | null; at: number }>((resolve) =>
    child.once("exit", (code, signal) => resolve({ code, signal, at: Date.now() }))
  )
  return {
    child,
    startedAt,
    output: () => `${out.join("")}${err.join("")}`,
    exited,
    seen: (text) => arrivals.find((a) => a.text.includes(text))?.at
  }
}

const runArgs = (
  b: { readonly batch: string; readonly stateDir: string },
  sparkRemote: string,
  kafkaBrokers: string,
  topic: string
): ReadonlyArray<string> => [
  "run",
  b.batch,
  "--remote",
  sparkRemote,
  "--state-dir",
  b.stateDir,
  "--kafka-brokers",
  kafkaBrokers,
  "--kafka-topic",
  topic,
  "--spark-timeout",
  String(sparkTimeout)
]

/** A topic per fault on the shared broker. */
const topicFor = async (name: string): Promise<string> => {
  const t = `bench-faults-${name}-${Date.now()}`
  await createTopic(brokers, t)
  return t
}

/** Every event value on a topic, read by kcat (an independent client). */
const events = (topic: string): ReadonlyArray<Record<string, unknown>> =>
  readTopic(brokers, topic).map((r) => JSON.parse(r.value) as Record<string, unknown>)

interface LedgerRecord {
  readonly runId: string
  readonly status: string
  readonly engineSessionId?: string
}
const ledger = (stateDir: string, batch: string): ReadonlyArray<LedgerRecord> => {
  const dir = path.join(stateDir, "ledger", batch)
  if (!fs.existsSync(dir)) return []
  return fs
    .readdirSync(dir)
    .filter((f) => f.endsWith(".json"))
    .map((f) => JSON.parse(fs.readFileSync(path.join(dir, f), "utf8")) as LedgerRecord)
}

/** Host and port of an `sc://host:port[/;…]` remote. */
const endpoint = (sc: string) => {
  const m = /^sc:\/\/([^:/]+):(\d+)/.exec(sc)
  if (m === null) throw new Error(`not an sc://host:port remote: ${sc}`)
  return { host: m[1] ?? "", port: Number(m[2]) }
}

/**
 * Attaches to a session by id directly (not through any proxy) and interrupts all its
 * operations: the scan a black-holed run left running would otherwise load the server forever.
 */
const interruptSession = (sc: string, sessionId: string): Promise<number> => {
  const { host, port } = endpoint(sc)
  return Effect.runPromise(
    Effect.gen(function* () {
      const session = yield* SparkSession.make({ remote: `sc://${host}:${port}/;session_id=${sessionId}` })
      return (yield* session.interrupt("all")).length
    }).pipe(Effect.scoped, Effect.provide(NodeServices.layer))
  )
}

/**
 * A Spark server of the bench's own (local[1], 1 GB heap; the e2e tests' own server): killed
 * with -9, or frozen with SIGSTOP (a driver that hangs: a stop-the-world pause, a stuck host).
 * Its data dir goes with it.
 */
const ownServer = async (name: string) => {
  const own = await startSpark(`bench-faults-${name}`)
  return {
    ...own,
    close: async () => {
      await own.close()
      fs.rmSync(own.dataDir, { recursive: true, force: true })
    }
  }
}

// ---- the record ----------------------------------------------------------------------------

interface Row {
  readonly fault: string
  readonly detected: string
  readonly samples: Array<number>
  readonly failures: Array<string>
  readonly notes: Array<string>
  /** For the Kafka rows: the baseline row whose median is subtracted. */
  readonly extraOver?: Row
}
const rows: Array<Row> = []
const row = (fault: string, detected: string, extraOver?: Row): Row => {
  const r: Row = {
    fault,
    detected,
    samples: [],
    failures: [],
    notes: [],
    ...(extraOver ? { extraOver } : {})
  }
  rows.push(r)
  return r
}
const tail = (text: string) => text.trim().split("\n").slice(-6).join(" | ")
// One repetition's verdict: its sample when the outcome was right, else the reason (reported).
const record = (r: Row, i: number, ms: number, wrong: string | undefined) => {
  if (wrong === undefined) r.samples.push(ms)
  else r.failures.push(`#${i + 1} (${ms} ms): ${wrong}`)
  process.stderr.write(`${r.fault} #${i + 1}: ${ms} ms${wrong === undefined ? "" : ` WRONG: ${wrong}`}\n`)
}
const exitWrong = (got: { code: number | null; signal: string | null }, want: number, output: string) =>
  got.code === want ? undefined : `exit ${got.code ?? `by ${got.signal}`}, expected ${want}: ${tail(output)}`

// ---- the faults ----------------------------------------------------------------------------

/**
 * Starts the endless batch for repetition `i` of `r` and waits until its scan runs on the server:
 * the CLI's "rule started" plus 1.5 s (planning and the first tasks). Undefined, the repetition
 * recorded as wrong, if the rule never started.
 */
const midRule = async (r: Row, i: number, name: string, sparkRemote: string, topic: string) => {
  const b = folder(endless(name))
  const run = cli(runArgs(b, sparkRemote, brokers, topic))
  const open = await waitFor(() => run.output().includes("rule started"), 60_000)
  if (!open) {
    run.child.kill("SIGKILL")
    await run.exited
    record(r, i, 0, `no rule started within 60 s: ${tail(run.output())}`)
    return undefined
  }
  await sleep(1500)
  return { b, run }
}

// One repetition of a fault the run must notice by itself or obey: the endless batch started on
// `sparkRemote`, `fault` injected mid-rule, the time from it to the CLI's exit recorded (`want`
// the right exit code). The run once it exited; undefined when its rule never started.
const faultMidRule = async (
  r: Row,
  i: number,
  name: string,
  sparkRemote: string,
  topic: string,
  fault: (run: Cli) => void,
  want: number
) => {
  const m = await midRule(r, i, name, sparkRemote, topic)
  if (m === undefined) return undefined
  const at = Date.now()
  fault(m.run)
  const got = await m.run.exited
  record(r, i, got.at - at, exitWrong(got, want, m.run.output()))
  return m
}

const sparkKilled = async () => {
  const r = row("Spark server killed -9", "kill → CLI exit 2")
  const topic = await topicFor("spark-killed")
  for (let i = 0; i < reps; i++) {
    const server = await ownServer(`killed-${i}`)
    try {
      await faultMidRule(r, i, "spark_killed", server.remote, topic, () => server.kill(), 2)
    } finally {
      await server.close()
    }
  }
}

const blackHole = async () => {
  const r = row("network black hole", "proxy frozen → CLI exit 2")
  const topic = await topicFor("black-hole")
  for (let i = 0; i < reps; i++) {
    const proxy = await Proxy.start(endpoint(remote))
    try {
      const holed = `sc://127.0.0.1:${proxy.port}`
      const m = await faultMidRule(r, i, "black_hole", holed, topic, () => proxy.freeze(), 2)
      if (m === undefined) continue
      // The frozen run could not stop its own scan: stop it on the server, directly.
      const sessionId = ledger(m.b.stateDir, "black_hole")[0]?.engineSessionId
      if (sessionId === undefined)
        r.notes.push(`#${i + 1}: no engineSessionId in the ledger, zombie scan not stopped`)
      else {
        const stopped = await interruptSession(remote, sessionId).catch((e: unknown) => {
          r.notes.push(`#${i + 1}: interrupting session ${sessionId} failed: ${String(e)}`)
          return -1
        })
        if (stopped === 0)
          r.notes.push(`#${i + 1}: the dead run's session had no operation left to interrupt`)
      }
    } finally {
      await proxy.close()
    }
  }
}

const signal = async (sig: "SIGINT" | "SIGTERM", want: number) => {
  const r = row(sig, `signal → exit ${want}`)
  const topic = await topicFor(sig.toLowerCase())
  for (let i = 0; i < reps; i++) {
    await faultMidRule(r, i, sig.toLowerCase(), remote, topic, (run) => run.child.kill(sig), want)
  }
}

// The record a run left, for the unfenced check.
const unfencedOf = (stateDir: string, batch: string) =>
  (ledger(stateDir, batch)[0] as { unfenced?: boolean } | undefined)?.unfenced === true

/**
 * Spark frozen mid-rule (SIGSTOP of its JVM): the run must end by itself, exit 2 (`signal`
 * undefined), or on the signal within its promise (exit 130/143). Either way it cannot stop its
 * scan on a frozen server, so its record must say unfenced; after the thaw the zombie is
 * stopped directly so the next repetition starts clean. One server for every repetition.
 */
const sparkFrozen = async (sig: "SIGINT" | "SIGTERM" | undefined) => {
  const want = sig === undefined ? 2 : sig === "SIGINT" ? 130 : 143
  const r = row(
    sig === undefined ? "Spark frozen (SIGSTOP)" : `${sig}, Spark frozen`,
    sig === undefined ? "freeze → CLI exit 2" : `signal → exit ${want}`
  )
  const name = sig === undefined ? "spark_frozen" : `frozen_${sig.toLowerCase()}`
  const topic = await topicFor(name.replace("_", "-"))
  const server = await ownServer(name)
  try {
    for (let i = 0; i < reps; i++) {
      const m = await midRule(r, i, name, server.remote, topic)
      if (m === undefined) continue
      server.freeze()
      const at = Date.now()
      if (sig !== undefined) m.run.child.kill(sig)
      const got = await m.run.exited
      server.thaw()
      const wrong =
        exitWrong(got, want, m.run.output()) ??
        (unfencedOf(m.b.stateDir, name) ? undefined : "the record does not say unfenced")
      record(r, i, got.at - at, wrong)
      const sessionId = ledger(m.b.stateDir, name)[0]?.engineSessionId
      if (sessionId !== undefined) await interruptSession(server.remote, sessionId).catch(() => 0)
    }
  } finally {
    await server.close()
  }
}

const sigkill = async () => {
  const r = row("SIGKILL of the CLI", 'next run start → "fenced crashed run"')
  const total = row("  (that next run, total)", "next run start → exit 0")
  const topic = await topicFor("sigkill")
  for (let i = 0; i < reps; i++) {
    const m = await midRule(r, i, "sigkill", remote, topic)
    if (m === undefined) continue
    m.run.child.kill("SIGKILL")
    await m.run.exited
    const crashed = ledger(m.b.stateDir, "sigkill")[0]?.runId ?? "?"
    // The rerun of the same batch in the same state dir, made short so that it ends.
    fs.writeFileSync(m.b.batch, short("sigkill"))
    const next = cli(runArgs(m.b, remote, brokers, topic))
    const got = await next.exited
    const fencedAt = next.seen("fenced crashed run")
    const interrupted = /fenced crashed run \S+: session \S+, (\d+) operation/.exec(next.output())?.[1]
    const wrong =
      fencedAt === undefined
        ? `no "fenced crashed run" line: ${tail(next.output())}`
        : !events(topic).some(
              (e) => e["type"] === "spark-etl.batch.crashed" && JSON.stringify(e["data"]).includes(crashed)
            )
          ? `no batch.crashed event for ${crashed}`
          : exitWrong(got, 0, next.output())
    if (interrupted === "0")
      r.notes.push(`#${i + 1}: fencing interrupted 0 operations (zombie already gone?)`)
    record(r, i, (fencedAt ?? got.at) - next.startedAt, wrong)
    record(total, i, got.at - next.startedAt, exitWrong(got, 0, next.output()))
  }
}

const secondRun = async () => {
  const r = row("second run while one runs", "second's start → its exit 3")
  const topic = await topicFor("second-run")
  for (let i = 0; i < reps; i++) {
    const m = await midRule(r, i, "second_run", remote, topic)
    if (m === undefined) continue
    const second = cli(runArgs(m.b, remote, brokers, topic))
    const got = await second.exited
    record(r, i, got.at - second.startedAt, exitWrong(got, 3, second.output()))
    // The first run is stopped as an operator would, and must still end as interrupted.
    m.run.child.kill("SIGINT")
    const first = await m.run.exited
    if (first.code !== 130)
      r.notes.push(`#${i + 1}: the first run ended ${first.code ?? first.signal}, not 130`)
  }
}

/** A TCP listener that accepts connections and never answers: a black-holed broker. */
const silentBroker = (): Promise<{ port: number; close: () => Promise<void> }> =>
  new Promise((resolve, reject) => {
    const sockets = new Set<net.Socket>()
    const server = net.createServer((s) => {
      sockets.add(s)
      s.on("error", () => s.destroy())
      s.on("close", () => sockets.delete(s))
    })
    server.once("error", reject)
    server.listen(0, "127.0.0.1", () => {
      const a = server.address()
      if (a === null || typeof a === "string") return reject(new Error("no TCP address"))
      resolve({
        port: a.port,
        close: () =>
          new Promise<void>((done) => {
            for (const s of sockets) s.destroy()
            server.close(() => done())
          })
      })
    })
  })

/** A port where nothing listens: bound by us, then released. */
const closedPort = async (): Promise<number> => {
  const s = await silentBroker()
  await s.close()
  return s.port
}

const kafka = async () => {
  const up = row("Kafka up (baseline)", "short batch, start → exit 0")
  const refused = row("Kafka port closed", "same, events → outbox", up)
  const silent = row("Kafka black-holed", "same, events → outbox", up)
  const topic = await topicFor("kafka")
  const once = async (r: Row, i: number, kafkaBrokers: string, spooled: boolean) => {
    const b = folder(short("kafka"))
    const run = cli(runArgs(b, remote, kafkaBrokers, topic))
    const got = await run.exited
    const outbox = path.join(b.stateDir, "outbox.jsonl")
    const size = fs.existsSync(outbox) ? fs.statSync(outbox).size : 0
    const wrong =
      exitWrong(got, 0, run.output()) ??
      (spooled && size === 0
        ? "outbox empty: events lost"
        : !spooled && size > 0
          ? "events spooled with Kafka up"
          : undefined)
    record(r, i, got.at - run.startedAt, wrong)
  }
  // Alternated, so a change of load on the machine touches the three alike.
  for (let i = 0; i < reps; i++) {
    await once(up, i, brokers, false)
    await once(refused, i, `127.0.0.1:${await closedPort()}`, true)
    const broker = await silentBroker()
    try {
      await once(silent, i, `127.0.0.1:${broker.port}`, true)
    } finally {
      await broker.close()
    }
  }
}

// ---- run and print -------------------------------------------------------------------------

const faults: ReadonlyArray<readonly [string, () => Promise<void>]> = [
  ["spark-killed", sparkKilled],
  ["spark-frozen", () => sparkFrozen(undefined)],
  ["black-hole", blackHole],
  ["sigint", () => signal("SIGINT", 130)],
  ["sigterm", () => signal("SIGTERM", 143)],
  [
    "frozen-signal",
    async () => {
      await sparkFrozen("SIGINT")
      await sparkFrozen("SIGTERM")
    }
  ],
  ["sigkill", sigkill],
  ["second-run", secondRun],
  ["kafka", kafka]
]

const median = (xs: ReadonlyArray<number>) => {
  const s = [...xs].sort((a, b) => a - b)
  const m = Math.floor(s.length / 2)
  return s.length === 0 ? NaN : s.length % 2 === 1 ? (s[m] ?? NaN) : ((s[m - 1] ?? NaN) + (s[m] ?? NaN)) / 2
}
// Nearest rank: of 10 samples, the 9th smallest.
const p90 = (xs: ReadonlyArray<number>) =>
  [...xs].sort((a, b) => a - b)[Math.ceil(xs.length * 0.9) - 1] ?? NaN

const started = new Date()
const loadBefore = os.loadavg()
for (const [name, f] of faults) if (only.size === 0 || only.has(name)) await f()
const loadAfter = os.loadavg()

const fmt = (n: number) => (Number.isFinite(n) ? n.toFixed(0) : "—")
const signed = (n: number) => (n >= 0 ? `+${fmt(n)}` : `−${fmt(-n)}`)
const header = ["fault", "detected = time from … to …", "n", "median", "p90", "max", "min", "extra", "wrong"]
const table = rows.map((r) => [
  r.fault,
  r.detected,
  String(r.samples.length),
  fmt(median(r.samples)),
  fmt(p90(r.samples)),
  fmt(Math.max(...r.samples)),
  fmt(Math.min(...r.samples)),
  r.extraOver ? signed(median(r.samples) - median(r.extraOver.samples)) : "",
  String(r.failures.length)
])
const widths = header.map((h, c) => Math.max(h.length, ...table.map((t) => (t[c] ?? "").length)))
const line = (cells: ReadonlyArray<string>) =>
  cells.map((c, i) => (i < 2 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0))).join("  ")
console.log(
  `fault detection, ${reps} repetitions each, --spark-timeout ${sparkTimeout}, times in ms (median of the samples with the right outcome; p90 nearest rank; extra = median over Kafka up)`
)
console.log(
  `started ${started.toISOString()}, ${os.cpus().length} cores, load average ${loadBefore.map((l) => l.toFixed(2)).join(" ")} at start, ${loadAfter.map((l) => l.toFixed(2)).join(" ")} at end`
)
console.log(line(header))
for (const t of table) console.log(line(t))
for (const r of rows) {
  for (const f of r.failures) console.log(`WRONG ${r.fault} ${f}`)
  for (const n of r.notes) console.log(`note ${r.fault} ${n}`)
}
console.log(
  JSON.stringify({
    bench: "faults",
    started: started.toISOString(),
    sparkTimeout,
    loadavg: { start: loadBefore, end: loadAfter },
    samples: Object.fromEntries(rows.map((r) => [r.fault.trim(), r.samples])),
    failures: Object.fromEntries(rows.map((r) => [r.fault.trim(), r.failures]))
  })
)
process.exitCode = rows.some((r) => r.failures.length > 0) ? 1 : 0
