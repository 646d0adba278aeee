/**
 * `npm run bench:containers`: the container path's figures on this machine. It starts a Docker
 * engine of its own under a temporary folder (libexec/docker-engine.sh: root and Debian's
 * docker.io needed), times the engine's start and the making of the Debian root filesystem (kept
 * in the cache after its first making), builds the images on the empty engine (cold) and again
 * (cached), reports their sizes, then starts Spark Connect and Kafka three times each as
 * containers and as local processes: ready means a real request answered, as in the harness.
 * Prints one table with medians and the load average; the engine and its data are removed.
 */
import { NodeServices } from "@effect/platform-node"
import * as Effect from "effect/Effect"
import type * as ChildProcessSpawner from "effect/process/ChildProcessSpawner"
import { LocalServer } from "@spark-etl/runner-spark-connect/local"
import { execFileSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import * as Containers from "./Containers.js"
import * as Images from "./Images.js"
import * as LocalKafka from "./LocalKafka.js"

const engineScript = path.resolve(
  path.dirname(fileURLToPath(import.meta.url)),
  "..",
  "libexec",
  "docker-engine.sh"
)
const loadAverage = () => fs.readFileSync("/proc/loadavg", "utf8").split(" ").slice(0, 3).join(" ")
const median = (xs: ReadonlyArray<number>) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN
const seconds = (since: number) => (Date.now() - since) / 1000

/** Seconds from asking to a server that answers, its scope closed after. */
const readyTime = <E>(
  start: (
    dataDir: string
  ) => Effect.Effect<unknown, E, import("effect/Scope").Scope | ChildProcessSpawner.ChildProcessSpawner>,
  work: string
) =>
  Effect.gen(function* () {
    const times: Array<number> = []
    for (let i = 0; i < 3; i++) {
      const dataDir = path.join(work, `${Date.now()}-${i}`)
      times.push(
        yield* Effect.scoped(
          Effect.gen(function* () {
            const t = Date.now()
            yield* start(dataDir)
            return seconds(t)
          })
        )
      )
    }
    return times
  })

const main = Effect.gen(function* () {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), "spark-etl-bench-docker-"))
  const work = fs.mkdtempSync(path.join(os.tmpdir(), "spark-etl-bench-containers-"))
  const loadBefore = loadAverage()
  const engineTimes: Array<number> = []
  // Two throwaway starts and stops for the engine's start time, then the one the bench uses.
  for (let i = 0; i < 2; i++) {
    const t = Date.now()
    execFileSync(engineScript, ["start", `${root}-${i}`], { stdio: ["ignore", "pipe", "inherit"] })
    engineTimes.push(seconds(t))
    execFileSync(engineScript, ["stop", `${root}-${i}`])
  }
  // The bench's engine, stopped and removed whatever happens.
  yield* Effect.acquireRelease(
    Effect.sync(() => {
      const t = Date.now()
      const exported = execFileSync(engineScript, ["start", root], {
        encoding: "utf8",
        stdio: ["ignore", "pipe", "inherit"]
      })
      engineTimes.push(seconds(t))
      process.env["DOCKER_HOST"] = exported.trim().replace(/^export DOCKER_HOST=/, "")
    }),
    () =>
      Effect.sync(() => {
        execFileSync(engineScript, ["stop", root])
        fs.rmSync(work, { recursive: true, force: true })
      })
  )
  const sparkVersion = LocalServer.defaultSparkVersion
  {
    const rootfsStarted = Date.now()
    yield* Images.makeRootfs(path.join(work, "rootfs.tar"))
    const rootfsSeconds = seconds(rootfsStarted)
    const cold = yield* Images.buildAll({ sparkVersion })
    const cached = yield* Images.buildAll({ sparkVersion })
    const run = yield* Containers.run
    const sparkContainer = yield* readyTime(
      (dataDir) => Containers.startSpark({ run, sparkVersion, dataDir }),
      work
    )
    const sparkProcess = yield* readyTime(
      (dataDir) => LocalServer.start({ dataDir, master: "local[2]", ui: true }),
      work
    )
    const kafkaContainer = yield* readyTime((dataDir) => Containers.startKafka({ run, dataDir }), work)
    const kafkaProcess = yield* readyTime((dataDir) => LocalKafka.start({ dataDir }), work)
    const rows: ReadonlyArray<readonly [string, string, string]> = [
      ["Docker engine start (median of 3)", `${median(engineTimes).toFixed(2)} s`, ""],
      ["Debian root filesystem by mmdebstrap (once, then cached)", `${rootfsSeconds.toFixed(1)} s`, ""],
      ...cold.map((b) => [`image ${b.image}: cold build`, `${b.seconds.toFixed(1)} s`, ""] as const),
      ...cached.map((b) => [`image ${b.image}: cached build`, `${b.seconds.toFixed(2)} s`, ""] as const),
      ...cached.map((b) => [`image ${b.image}: size`, `${(b.bytes / 2 ** 20).toFixed(0)} MiB`, ""] as const),
      [
        "Spark Connect ready (median of 3)",
        `${median(sparkContainer).toFixed(1)} s`,
        `${median(sparkProcess).toFixed(1)} s`
      ],
      [
        "Kafka ready (median of 3)",
        `${median(kafkaContainer).toFixed(1)} s`,
        `${median(kafkaProcess).toFixed(1)} s`
      ]
    ]
    const header = ["figure", "containers", "processes"] as const
    const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)))
    const line = (cells: ReadonlyArray<string>) =>
      `| ${cells.map((c, i) => c.padEnd(widths[i]!)).join(" | ")} |`
    console.log(`\nspark-etl container path, ${new Date().toISOString()}, ${os.cpus().length} cores`)
    console.log(`load average before: ${loadBefore}; after: ${loadAverage()}\n`)
    console.log([line(header), line(widths.map((w) => "-".repeat(w))), ...rows.map(line)].join("\n"))
  }
}).pipe(Effect.scoped)

Effect.runPromise(main.pipe(Effect.provide(NodeServices.layer))).catch((e: unknown) => {
  console.error(`bench:containers: ${e instanceof Error ? e.message : String(e)}`)
  process.exitCode = 1
})
