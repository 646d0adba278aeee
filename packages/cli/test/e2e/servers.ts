/**
 * Servers of a test's own — Spark Connect and Kafka, each in its own data dir — for faults the
 * shared servers must never see: frozen (connections stay open, nothing answers), thawed, or
 * killed outright. On the process path they are local JVMs (SIGSTOP, SIGCONT, SIGKILL); on the
 * container path (`inject("infraPath")`), containers of our images (`docker pause`, `unpause`,
 * `kill`), with the same expectations. Everything started here stops when its scope closes; a
 * frozen server is thawed first.
 */
import { NodeServices } from "@effect/platform-node"
import { Containers, LocalKafka } from "@spark-etl/infra"
import { eventually } from "@spark-etl/testing"
import { LocalServer, type LocalServerError } from "@spark-etl/runner-spark-connect/local"
import { Effect, Exit, Schema, Scope } from "effect"
import type { ChildProcessSpawner } from "effect/process"
import { execFileSync, type ChildProcess } from "node:child_process"
import { inject } from "vitest"
import * as fs from "node:fs"
import * as path from "node:path"

/** The JVM(s) whose command line names `dataDir` — not the tether shell that launched them. */
export const jvmPids = (dataDir: string): ReadonlyArray<number> => {
  let out: string
  try {
    out = execFileSync("pgrep", ["-f", dataDir], { encoding: "utf8" })
  } catch {
    return [] // pgrep exits 1 when nothing matches
  }
  return out
    .split("\n")
    .filter((p) => p !== "")
    .map(Number)
    .filter((pid) => {
      try {
        return fs.readFileSync(`/proc/${pid}/comm`, "utf8").trim() === "java"
      } catch {
        return false
      }
    })
}

const signalAll = (dataDir: string, signal: NodeJS.Signals) => {
  const pids = jvmPids(dataDir)
  if (pids.length === 0) throw new Error(`no JVM found for ${dataDir}`)
  for (const pid of pids) process.kill(pid, signal)
}

/** A JVM of the test's own that can be frozen, thawed and killed. */
export interface Freezable {
  readonly dataDir: string
  /** SIGSTOP: the JVM keeps its sockets, the kernel keeps accepting, nothing answers. */
  readonly freeze: () => void
  /** SIGCONT (harmless when not frozen). */
  readonly thaw: () => void
  /** SIGKILL, as a crash would. */
  readonly kill: () => void
}

const freezable = (dataDir: string): Freezable => ({
  dataDir,
  freeze: () => signalAll(dataDir, "SIGSTOP"),
  thaw: () => {
    for (const pid of jvmPids(dataDir)) process.kill(pid, "SIGCONT")
  },
  kill: () => signalAll(dataDir, "SIGKILL")
})

/** A container of the test's own: the cgroup freezer stops every process in it, as SIGSTOP does. */
const containerFreezable = (dataDir: string, containerId: string): Freezable => ({
  dataDir,
  freeze: () => void execFileSync("docker", ["pause", containerId]),
  thaw: () => {
    try {
      execFileSync("docker", ["unpause", containerId], { stdio: "ignore" })
    } catch {
      // not paused, or already gone
    }
  },
  kill: () => void execFileSync("docker", ["kill", containerId])
})

const inContainers = (): boolean => inject("infraPath") === "containers"

/** Runs `use` with the JVM frozen, and thaws it whatever happens. */
export const whileFrozen = async <A>(jvm: Freezable, use: () => Promise<A>): Promise<A> => {
  jvm.freeze()
  try {
    return await use()
  } finally {
    jvm.thaw()
  }
}

const Apps = Schema.Array(Schema.Struct({ id: Schema.String }))
const Jobs = Schema.Array(
  Schema.Struct({
    jobId: Schema.Number,
    status: Schema.String,
    submissionTime: Schema.optional(Schema.String),
    completionTime: Schema.optional(Schema.String),
    /** Spark Connect's tags of the job: the operation's, and each of its user tags. */
    jobTags: Schema.optional(Schema.Array(Schema.String))
  })
)
export type Job = (typeof Jobs.Type)[number]

export interface OwnSpark extends Freezable {
  readonly server: { readonly port: number }
  readonly remote: string
  /**
   * The driver's own view of its jobs, through the Spark UI's REST API (only with `ui`; only
   * while the JVM is not frozen).
   */
  readonly jobs: () => Promise<ReadonlyArray<Job>>
  /** Stops the server (thawing it first). */
  readonly close: () => Promise<void>
}

/** Parses the UI's time stamps (`2026-12-01T09:57:38.856GMT`) to epoch ms. */
export const uiTime = (text: string): number => Date.parse(text.replace(/GMT$/, "Z"))

/** Starts a Spark Connect server of the test's own (one core, as small as it runs). */
export const startSpark = async (
  name: string,
  options: { readonly ui?: boolean; readonly token?: string; readonly master?: string } = {}
): Promise<OwnSpark> => {
  const scope = Effect.runSync(Scope.make())
  const dataDir = path.resolve(".spark-etl", `own-spark-${name}-${Date.now()}`)
  const uiPort = options.ui === true ? await Effect.runPromise(LocalServer.freePort) : undefined
  const serverOptions = {
    dataDir,
    master: options.master ?? "local[1]",
    heap: "1g",
    ...(uiPort !== undefined ? { ui: true, conf: { "spark.ui.port": String(uiPort) } } : { ui: false }),
    ...(options.token !== undefined ? { token: options.token } : {})
  }
  const start: Effect.Effect<
    { readonly remote: string; readonly port: number; readonly jvm: Freezable },
    Containers.ContainerError | LocalServerError,
    Scope.Scope | ChildProcessSpawner.ChildProcessSpawner
  > = inContainers()
    ? Effect.gen(function* () {
        const run = yield* Containers.run
        const spark = yield* Containers.startSpark({
          run,
          sparkVersion: LocalServer.defaultSparkVersion,
          ...serverOptions
        })
        return { ...spark, jvm: containerFreezable(dataDir, spark.containerId) }
      })
    : LocalServer.start(serverOptions).pipe(Effect.map((server) => ({ ...server, jvm: freezable(dataDir) })))
  const started = await Effect.runPromiseExit(
    start.pipe(Scope.provide(scope), Effect.provide(NodeServices.layer))
  )
  if (Exit.isFailure(started)) {
    await Effect.runPromise(Scope.close(scope, Exit.void))
    throw new Error(`own Spark server did not start: ${String(started.cause)}`)
  }
  const jvm = started.value.jvm
  const jobs = async (): Promise<ReadonlyArray<Job>> => {
    if (uiPort === undefined) throw new Error("this server was started without its UI")
    const base = `http://127.0.0.1:${uiPort}/api/v1/applications`
    const get = async (url: string) => (await fetch(url, { signal: AbortSignal.timeout(10_000) })).json()
    const apps = Schema.decodeUnknownSync(Apps)(await get(base))
    const app = apps[0]
    if (app === undefined) return []
    return Schema.decodeUnknownSync(Jobs)(await get(`${base}/${app.id}/jobs`))
  }
  return {
    ...jvm,
    server: { port: started.value.port },
    remote: started.value.remote,
    jobs,
    close: async () => {
      jvm.thaw()
      await Effect.runPromise(Scope.close(scope, Exit.void))
    }
  }
}

/**
 * Starts a CLI run with `launch` and waits until a job of its own (one the server did not have
 * before) runs on `own` (started with its UI): the server's word that the run's work is under
 * way there. `job` is undefined when the run exited first, or no job of its ran within `ms`.
 */
export const launchRunning = async <R extends { readonly child: ChildProcess }>(
  own: OwnSpark,
  launch: () => R,
  ms = 90_000
): Promise<{ readonly run: R; readonly job: Job | undefined }> => {
  const before = new Set((await own.jobs()).map((j) => j.jobId))
  const run = launch()
  let job: Job | undefined
  await eventually(async () => {
    if (run.child.exitCode !== null || run.child.signalCode !== null) return true
    job = (await own.jobs()).find((j) => j.status === "RUNNING" && !before.has(j.jobId))
    return job !== undefined
  }, ms)
  return { run, job }
}

/** One job as `own` sees it now (undefined when it has none of that id). */
export const jobOn = async (own: OwnSpark, jobId: number): Promise<Job | undefined> =>
  (await own.jobs()).find((j) => j.jobId === jobId)

export interface OwnKafka extends Freezable {
  readonly brokers: string
  readonly close: () => Promise<void>
}

/** Starts a Kafka broker of the test's own. */
export const startKafka = async (name: string): Promise<OwnKafka> => {
  const scope = Effect.runSync(Scope.make())
  const dataDir = path.resolve(".spark-etl", `own-kafka-${name}-${Date.now()}`)
  const start: Effect.Effect<
    { readonly brokers: string; readonly jvm: Freezable },
    Containers.ContainerError | LocalKafka.LocalKafkaError,
    Scope.Scope | ChildProcessSpawner.ChildProcessSpawner
  > = inContainers()
    ? Effect.gen(function* () {
        const run = yield* Containers.run
        const kafka = yield* Containers.startKafka({ run, dataDir })
        return { ...kafka, jvm: containerFreezable(dataDir, kafka.containerId) }
      })
    : LocalKafka.start({ dataDir }).pipe(Effect.map((kafka) => ({ ...kafka, jvm: freezable(dataDir) })))
  const started = await Effect.runPromiseExit(
    start.pipe(Scope.provide(scope), Effect.provide(NodeServices.layer))
  )
  if (Exit.isFailure(started)) {
    await Effect.runPromise(Scope.close(scope, Exit.void))
    throw new Error(`own Kafka broker did not start: ${String(started.cause)}`)
  }
  const jvm = started.value.jvm
  return {
    ...jvm,
    brokers: started.value.brokers,
    close: async () => {
      jvm.thaw()
      await Effect.runPromise(Scope.close(scope, Exit.void))
    }
  }
}

export interface TlsFront {
  /** The port it listens on (127.0.0.1). */
  readonly port: number
  /** The self-signed certificate (PEM) of 127.0.0.1, for GRPC_DEFAULT_SSL_ROOTS_FILE_PATH. */
  readonly caFile: string
  /** A black hole: bytes of every connection are dropped both ways, sockets stay open. */
  readonly freeze: () => void
  /** Ends the black hole: its connections are closed, new ones are forwarded again. */
  readonly thaw: () => void
  readonly close: () => Promise<void>
}

/**
 * TLS in front of a plaintext port: the CLI sends a token only over TLS (it has no way to allow
 * a token over loopback plaintext), and a local Spark server with a token speaks plaintext.
 * Terminates TLS (ALPN h2) with a self-signed certificate for 127.0.0.1 and forwards the bytes.
 */
export const startTlsFront = async (targetPort: number): Promise<TlsFront> => {
  const tls = await import("node:tls")
  const net = await import("node:net")
  const os = await import("node:os")
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "spark-etl-tls-"))
  const key = path.join(dir, "key.pem")
  const cert = path.join(dir, "cert.pem")
  execFileSync(
    "openssl",
    [
      "req",
      "-x509",
      "-newkey",
      "rsa:2048",
      "-nodes",
      "-days",
      "1",
      "-keyout",
      key,
      "-out",
      cert,
      "-subj",
      "/CN=127.0.0.1",
      "-addext",
      "subjectAltName=IP:127.0.0.1"
    ],
    { stdio: "ignore" }
  )
  let frozen = false
  const sockets = new Set<import("node:net").Socket>()
  const track = (s: import("node:net").Socket) => {
    sockets.add(s)
    s.on("close", () => sockets.delete(s))
    s.on("error", () => s.destroy())
  }
  // Bytes are still read (no back-pressure reaches the peers) but dropped while frozen.
  const forward = (from: import("node:net").Socket, to: import("node:net").Socket) => {
    from.on("data", (chunk: Buffer) => {
      if (!frozen) to.write(chunk)
    })
    from.on("close", () => {
      if (!frozen) to.destroy()
    })
  }
  const server = tls.createServer(
    { key: fs.readFileSync(key), cert: fs.readFileSync(cert), ALPNProtocols: ["h2"] },
    (client) => {
      track(client)
      const upstream = net.connect(targetPort, "127.0.0.1")
      track(upstream)
      forward(client, upstream)
      forward(upstream, client)
    }
  )
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject)
    server.listen(0, "127.0.0.1", () => resolve())
  })
  const address = server.address()
  if (address === null || typeof address === "string") throw new Error("TLS front has no TCP address")
  return {
    port: address.port,
    caFile: cert,
    freeze: () => {
      frozen = true
    },
    thaw: () => {
      for (const s of sockets) s.destroy()
      frozen = false
    },
    close: () =>
      new Promise<void>((done) => {
        for (const s of sockets) s.destroy()
        server.close(() => done())
      })
  }
}
