// The container path on a real engine (run by `npm run test:containers`, which needs one: no
// engine fails this file loudly). Images are ours, cached by content and run as a non-root user;
// containers listen on loopback only; one that cannot start says why; and when the test runner
// dies, SIGKILL included, its containers go with it.
import { NodeServices } from "@effect/platform-node"
import { eventually } from "@spark-etl/testing"
import { LocalServer } from "@spark-etl/runner-spark-connect/local"
import { Effect, Exit, Scope } from "effect"
import { execFileSync, spawn } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import * as Containers from "../../src/Containers.js"
import * as Docker from "../../src/Docker.js"
import * as Images from "../../src/Images.js"

const docker = (...args: ReadonlyArray<string>): string =>
  execFileSync("docker", args, { encoding: "utf8" }).trim()
const lines = (text: string): ReadonlyArray<string> => text.split("\n").filter((l) => l !== "")
const labelled = (runId: string) =>
  lines(docker("ps", "--all", "--quiet", "--filter", `label=${Containers.runLabel}=${runId}`))

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "infra-containers-"))
const run = <A, E>(
  effect: Effect.Effect<A, E, Scope.Scope | import("effect/process").ChildProcessSpawner.ChildProcessSpawner>
) => Effect.runPromiseExit(effect.pipe(Effect.scoped, Effect.provide(NodeServices.layer)))

beforeAll(async () => {
  const engine = await Effect.runPromiseExit(Docker.ping())
  if (Exit.isFailure(engine)) throw new Error(`these tests need a Docker engine: ${String(engine.cause)}`)
})
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }))

describe("images", () => {
  it("an unchanged build is a no-op, and the images run Java 17 as a non-root user with a health check", async () => {
    const built = await run(Images.buildAll({ sparkVersion: LocalServer.defaultSparkVersion }))
    if (Exit.isFailure(built)) throw new Error(String(built.cause))
    const again = await run(Images.buildAll({ sparkVersion: LocalServer.defaultSparkVersion }))
    if (Exit.isFailure(again)) throw new Error(String(again.cause))
    expect(again.value.map((b) => [b.image, b.built])).toEqual(built.value.map((b) => [b.image, false]))
    for (const image of [Images.sparkImage(LocalServer.defaultSparkVersion), Images.kafkaImage("4.4.0")]) {
      expect(docker("image", "inspect", "--format", "{{.Config.User}}", image)).toBe(Images.layout.user)
      expect(docker("image", "inspect", "--format", "{{json .Config.Healthcheck.Test}}", image)).toContain(
        "nc -z 127.0.0.1"
      )
      const java = execFileSync(
        "docker",
        ["run", "--rm", "--entrypoint", "sh", image, "-c", "id -u; java -version 2>&1"],
        {
          encoding: "utf8"
        }
      )
      expect(lines(java)[0]).toBe(String(Images.layout.uid))
      expect(java).toMatch(/version "17\./)
    }
  })
})

describe("images build --spark-version", () => {
  it("builds that version's image from that version's jars, with 3.x's loopback launcher", async () => {
    const cli = path.resolve(import.meta.dirname, "../..", "dist", "cli.js")
    const out = execFileSync(process.execPath, [cli, "images", "build", "--spark-version", "3.5.7"], {
      encoding: "utf8"
    })
    expect(out).toMatch(/^spark-etl\/spark-connect:3\.5\.7 (built|unchanged) in /m)
    const command = docker("image", "inspect", "--format", "{{json .Config.Cmd}}", Images.sparkImage("3.5.7"))
    expect(command).toContain(`${Images.layout.root}/LoopbackConnectServer.java`)
    const jars = docker(
      "run",
      "--rm",
      "--entrypoint",
      "sh",
      Images.sparkImage("3.5.7"),
      "-c",
      `ls ${Images.layout.sparkJars}`
    )
    expect(jars).toContain("spark-connect_2.12-3.5.7.jar")
  })
})

describe("libexec/docker-engine.sh", () => {
  it("SPARK_ETL_DOCKER_STORAGE_DRIVER chooses the engine's storage driver; stop removes its root", async () => {
    const script = path.resolve(import.meta.dirname, "../..", "libexec", "docker-engine.sh")
    const root = path.join(dir, "engine")
    const started = execFileSync(script, ["start", root], {
      encoding: "utf8",
      env: { ...process.env, SPARK_ETL_DOCKER_STORAGE_DRIVER: "vfs" }
    })
    try {
      expect(started.trim()).toBe(`export DOCKER_HOST=unix://${root}/docker.sock`)
      const driver = execFileSync("docker", ["info", "--format", "{{.Driver}}"], {
        encoding: "utf8",
        env: { ...process.env, DOCKER_HOST: `unix://${root}/docker.sock` }
      })
      expect(driver.trim()).toBe("vfs")
    } finally {
      execFileSync(script, ["stop", root])
    }
    expect(fs.existsSync(root)).toBe(false)
  })
})

describe("containers", () => {
  it("Kafka in a container answers on 127.0.0.1 only, and is gone when its scope closes", async () => {
    let runId = ""
    const exit = await run(
      Effect.gen(function* () {
        const reaper = yield* Containers.run
        runId = reaper.runId
        const kafka = yield* Containers.startKafka({ run: reaper, dataDir: path.join(dir, "kafka") })
        const port = kafka.brokers.split(":")[1] ?? ""
        const listening = lines(execFileSync("ss", ["-ltnH", `sport = :${port}`], { encoding: "utf8" }))
        return { listening, running: labelled(reaper.runId) }
      })
    )
    if (Exit.isFailure(exit)) throw new Error(String(exit.cause))
    expect(exit.value.running).toHaveLength(1)
    expect(exit.value.listening.length).toBeGreaterThan(0)
    for (const l of exit.value.listening) expect(l).toMatch(/(^|\s)(\[::ffff:)?127\.0\.0\.1\]?:\d+\s/)
    expect(labelled(runId)).toEqual([])
  })

  it("a container that cannot start fails with its reason and its last log lines", async () => {
    // Kafka's log dir is a file: formatting the storage fails inside the container.
    const dataDir = path.join(dir, "broken-kafka")
    fs.mkdirSync(dataDir, { recursive: true })
    fs.writeFileSync(path.join(dataDir, "kraft-logs"), "not a folder")
    let runId = ""
    const exit = await run(
      Effect.gen(function* () {
        const reaper = yield* Containers.run
        runId = reaper.runId
        return yield* Containers.startKafka({ run: reaper, dataDir })
      })
    )
    expect(Exit.isFailure(exit)).toBe(true)
    const message = Exit.isFailure(exit) ? String(exit.cause) : ""
    expect(message).toContain(`${Images.kafkaImage("4.4.0")} did not start`)
    expect(message).toContain("kraft-logs")
    expect(labelled(runId)).toEqual([])
  })

  it("the test runner SIGKILLed: its containers are removed, and nothing of them is left", async () => {
    const networks = docker("network", "ls", "--quiet")
    const volumes = docker("volume", "ls", "--quiet")
    // The runner: starts Kafka in a container, prints its run id, and waits to be killed.
    // Under this package, so that its imports resolve; the built module, as a plain node run.
    const script = path.resolve(import.meta.dirname, "../../.spark-etl", `runner-${process.pid}.mjs`)
    fs.mkdirSync(path.dirname(script), { recursive: true })
    fs.writeFileSync(
      script,
      `import { NodeServices } from "@effect/platform-node"
       import { Effect } from "effect"
       import { Containers } from ${JSON.stringify(path.resolve(import.meta.dirname, "../../dist/index.js"))}
       import { quietKafkajsTimerWarning } from "@spark-etl/testing/warnings"
       quietKafkajsTimerWarning() // its stderr is the test run's: no kafkajs timer warning there
       await Effect.runPromise(Effect.scoped(Effect.gen(function* () {
         const reaper = yield* Containers.run
         yield* Containers.startKafka({ run: reaper, dataDir: ${JSON.stringify(path.join(dir, "killed-kafka"))} })
         console.log(reaper.runId)
         yield* Effect.never
       })).pipe(Effect.provide(NodeServices.layer)))`
    )
    const runner = spawn(process.execPath, [script], { stdio: ["ignore", "pipe", "inherit"] })
    let out = ""
    runner.stdout.on("data", (chunk: Buffer) => (out += chunk.toString()))
    expect(await eventually(async () => out.includes("\n") || runner.exitCode !== null, 180_000)).toBe(true)
    const runId = out.trim()
    expect(labelled(runId)).toHaveLength(1)
    runner.kill("SIGKILL")
    expect(await eventually(async () => labelled(runId).length === 0, 60_000)).toBe(true)
    expect(docker("network", "ls", "--quiet")).toBe(networks)
    expect(docker("volume", "ls", "--quiet")).toBe(volumes)
    fs.rmSync(script, { force: true })
  })
})
