// SPARK_ETL_TEST_INFRA chooses containers or processes, and the choice is honest: an engine must
// answer a ping (a socket file is not an engine), an explicit `containers` never falls back, and
// the reason is given. No engine is needed here: these are the cases without one.
import { NodeServices } from "@effect/platform-node"
import { ConfigProvider, Effect, Exit } from "effect"
import * as fs from "node:fs"
import * as net from "node:net"
import * as os from "node:os"
import * as path from "node:path"
import { afterAll, describe, expect, it } from "vitest"
import * as Docker from "../src/Docker.js"
import * as Endpoints from "../src/Endpoints.js"
import { infraCli } from "./support/infraCli.js"

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "infra-path-"))
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }))

/** A socket path whose listener has gone: the file stays, nothing answers. */
const staleSocket = async (): Promise<string> => {
  const file = path.join(dir, `stale-${Date.now()}.sock`)
  fs.writeFileSync(file, "")
  return file
}

/** A listener that accepts and never speaks: an engine that hangs. */
const silentSocket = async (): Promise<{ readonly file: string; readonly close: () => void }> => {
  const file = path.join(dir, `silent-${Date.now()}.sock`)
  const sockets: Array<net.Socket> = []
  const server = net.createServer((s) => void sockets.push(s))
  await new Promise<void>((resolve) => server.listen(file, resolve))
  return {
    file,
    close: () => {
      for (const s of sockets) s.destroy()
      server.close()
    }
  }
}

const withDockerHost = async <A>(value: string, use: () => Promise<A>): Promise<A> => {
  const before = process.env["DOCKER_HOST"]
  process.env["DOCKER_HOST"] = value
  try {
    return await use()
  } finally {
    if (before === undefined) delete process.env["DOCKER_HOST"]
    else process.env["DOCKER_HOST"] = before
  }
}

const choose = (mode: string | undefined) =>
  Effect.runPromiseExit(
    Endpoints.choosePath.pipe(
      Effect.provideService(
        ConfigProvider.ConfigProvider,
        ConfigProvider.fromEnv({ env: mode === undefined ? {} : { SPARK_ETL_TEST_INFRA: mode } })
      )
    )
  )

const failureMessage = (exit: Exit.Exit<unknown, { readonly message: string }>): string =>
  Exit.isFailure(exit) ? String(exit.cause) : "(succeeded)"

describe("Docker.ping", () => {
  it("a socket file with no engine behind it is not an engine, and the error says where", async () => {
    const file = await staleSocket()
    const exit = await withDockerHost(`unix://${file}`, () => Effect.runPromiseExit(Docker.ping(2000)))
    expect(Exit.isFailure(exit)).toBe(true)
    expect(failureMessage(exit)).toContain(`no Docker engine answers at unix://${file}`)
  })

  it("an engine that accepts and never answers times out", async () => {
    const silent = await silentSocket()
    try {
      const exit = await withDockerHost(`unix://${silent.file}`, () =>
        Effect.runPromiseExit(Docker.ping(500))
      )
      expect(failureMessage(exit)).toContain("no answer within 500 ms")
    } finally {
      silent.close()
    }
  })

  it("a DOCKER_HOST of another scheme is named", async () => {
    const exit = await withDockerHost("ssh://somewhere", () => Effect.runPromiseExit(Docker.ping(500)))
    expect(failureMessage(exit)).toContain("DOCKER_HOST ssh://somewhere is neither unix:// nor tcp://")
  })
})

describe("SPARK_ETL_TEST_INFRA", () => {
  it("containers with no engine fails, says why and that it never falls back", async () => {
    const file = await staleSocket()
    const exit = await withDockerHost(`unix://${file}`, () => choose("containers"))
    expect(Exit.isFailure(exit)).toBe(true)
    expect(failureMessage(exit)).toContain(
      `SPARK_ETL_TEST_INFRA=containers, but no Docker engine answers at unix://${file}`
    )
    expect(failureMessage(exit)).toContain("never fall back to processes")
  })

  it("auto (the default) with no engine takes processes and says why", async () => {
    const file = await staleSocket()
    for (const mode of ["auto", undefined]) {
      const exit = await withDockerHost(`unix://${file}`, () => choose(mode))
      expect(Exit.isSuccess(exit) && exit.value).toEqual({
        path: "processes",
        reason: expect.stringContaining(
          `SPARK_ETL_TEST_INFRA=auto and no Docker engine answers at unix://${file}`
        )
      })
    }
  })

  it("processes never asks the engine", async () => {
    const exit = await withDockerHost("ssh://not-even-a-valid-host", () => choose("processes"))
    expect(Exit.isSuccess(exit) && exit.value).toEqual({
      path: "processes",
      reason: "SPARK_ETL_TEST_INFRA=processes"
    })
  })

  it("any other value is refused with the variable's name", async () => {
    const exit = await choose("docker")
    expect(failureMessage(exit)).toContain("SPARK_ETL_TEST_INFRA")
    expect(failureMessage(exit)).toContain("docker")
  })

  it("resolve with containers and no engine fails the run instead of starting processes", async () => {
    const file = await staleSocket()
    const { SPARK_REMOTE: _r, KAFKA_BROKERS: _k, ...rest } = process.env
    const saved = { ...process.env }
    try {
      process.env = { ...rest, DOCKER_HOST: `unix://${file}`, SPARK_ETL_TEST_INFRA: "containers" }
      const exit = await Effect.runPromiseExit(
        Endpoints.resolve({ needs: ["kafka"], workDir: path.join(dir, "resolve") }).pipe(
          Effect.scoped,
          Effect.provide(NodeServices.layer)
        )
      )
      expect(failureMessage(exit)).toContain("SPARK_ETL_TEST_INFRA=containers, but no Docker engine answers")
      expect(fs.existsSync(path.join(dir, "resolve", "kafka"))).toBe(false)
    } finally {
      process.env = saved
    }
  })
})

const infra = (args: ReadonlyArray<string>, env: Readonly<Record<string, string>>) =>
  infraCli(args, { env: { ...process.env, ...env } })

describe("infra images build", () => {
  it("checks --spark-version and its own usage before asking the engine", async () => {
    const badVersion = await infra(["images", "build", "--spark-version", "4.x"], {
      DOCKER_HOST: "ssh://nowhere"
    })
    expect(badVersion.code).toBe(64)
    expect(badVersion.stderr).toContain('--spark-version "4.x" is not a Spark version')
    const badVerb = await infra(["images", "push"], { DOCKER_HOST: "ssh://nowhere" })
    expect(badVerb.code).toBe(64)
    expect(badVerb.stderr).toContain("usage: infra images build [--spark-version X.Y.Z]")
  })

  it("with no engine, fails naming where it looked", async () => {
    const file = await staleSocket()
    const { code, stderr } = await infra(["images", "build"], { DOCKER_HOST: `unix://${file}` })
    expect(code).toBe(1)
    expect(stderr).toContain(
      `infra: images build needs a Docker engine: no Docker engine answers at unix://${file}`
    )
  })
})
