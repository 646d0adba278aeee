// Spark's version as a parameter of the harness: the CLI checks it and keeps a non-default
// version in a folder of its own, tests are handed the version the server reports, and
// `infra run` tells its command which version it talks to.
import { Effect, Result } from "effect"
import { ConnectionString } from "@spark-etl/runner-spark-connect"
import { LocalServer } from "@spark-etl/runner-spark-connect/local"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { afterAll, describe, expect, inject, it } from "vitest"
import { infraCli } from "./support/infraCli.js"

// An empty state root, and none of the variables an outer `infra run` may have set.
const stateRoot = fs.mkdtempSync(path.join(os.tmpdir(), "infra-spark-version-"))
const { SPARK_REMOTE: _remote, SPARK_ETL_SPARK_VERSION: _version, ...outer } = process.env
afterAll(() => fs.rmSync(stateRoot, { recursive: true, force: true }))

const infra = (args: ReadonlyArray<string>, env: Readonly<Record<string, string>> = {}) =>
  infraCli(args, { env: { ...outer, SPARK_ETL_INFRA_DIR: stateRoot, ...env } })

const printVersion = ["node", "-e", "console.log(process.env.SPARK_ETL_SPARK_VERSION ?? 'unset')"]

describe("the CLI's --version", () => {
  it("must be digits.digits.digits, checked before anything is made", async () => {
    for (const bad of ["3.5", "4.x.1", "../4.0.1", ""]) {
      const { code, stderr } = await infra(["spark", "start", "--version", bad])
      expect(code).toBe(64)
      expect(stderr).toContain("is not a Spark version: expected digits.digits.digits")
    }
    expect(fs.readdirSync(stateRoot)).toEqual([])
  })

  it("is only valid for spark", async () => {
    const { code, stderr } = await infra(["kafka", "status", "--version", "3.5.7"])
    expect(code).toBe(64)
    expect(stderr).toContain("only valid for spark, not kafka")
  })

  it("names a folder of its own for a non-default version, the usual one for the default", async () => {
    expect(await infra(["spark", "status", "--version", "3.5.7"])).toMatchObject({
      code: 3,
      stderr: "infra: spark-3.5.7: not running\n"
    })
    expect(await infra(["spark", "stop", "--version", "3.5.7"])).toMatchObject({
      code: 0,
      stdout: "spark-3.5.7: not running\n"
    })
    for (const args of [[], ["--version", LocalServer.defaultSparkVersion]])
      expect(await infra(["spark", "status", ...args])).toMatchObject({
        code: 3,
        stderr: "infra: spark: not running\n"
      })
  })

  it("is checked by infra run too, from --spark-version or SPARK_ETL_SPARK_VERSION", async () => {
    expect((await infra(["run", "--spark-version", "4", "--", "true"])).code).toBe(64)
    expect((await infra(["run", "--", "true"], { SPARK_ETL_SPARK_VERSION: "latest" })).code).toBe(64)
  })
})

describe("the version tests talk to", () => {
  it("is handed to tests as the server reports it", async () => {
    const remote = ConnectionString.parse(inject("sparkRemote"))
    if (Result.isFailure(remote) || remote.success._tag !== "Endpoint")
      throw new Error("not an sc:// endpoint")
    const reported = await Effect.runPromise(
      LocalServer.probe(ConnectionString.address(remote.success), 5000)
    )
    expect(inject("sparkVersion")).toBe(reported)
  })

  it("is exported by infra run when a version is asked for, as the server at SPARK_REMOTE reports it", async () => {
    const env = { SPARK_REMOTE: inject("sparkRemote") }
    const asked = await infra(
      ["run", "--needs", "spark", "--spark-version", "1.2.3", "--", ...printVersion],
      env
    )
    expect(asked.code).toBe(0)
    expect(asked.stdout.trim()).toBe(inject("sparkVersion"))
    expect(asked.stderr).toContain(`Spark 1.2.3 was asked for, but the server at ${env.SPARK_REMOTE} reports`)
    // Nobody asked and nothing was started: the command is left to ask the server itself.
    const unasked = await infra(["run", "--needs", "spark", "--", ...printVersion], env)
    expect(unasked.stdout.trim()).toBe("unset")
  })
})

describe("infra compat --versions", () => {
  it("runs the command once, against a Spark of the one version named; a failed command is exit 1", async () => {
    const version = LocalServer.defaultSparkVersion
    const { code, stdout, stderr } = await infra(
      [
        "compat",
        "--versions",
        version,
        "--",
        "sh",
        "-c",
        'echo "$SPARK_ETL_SPARK_VERSION $SPARK_REMOTE"; exit 3'
      ],
      // A given broker: compat starts no Kafka, and the command never dials it.
      { KAFKA_BROKERS: "127.0.0.1:9" }
    )
    expect(stdout.trim()).toMatch(new RegExp(`^${version.replaceAll(".", "\\.")} sc://127\\.0\\.0\\.1:\\d+$`))
    expect(stderr.match(/compat: Spark \S+ at /g)).toEqual([`compat: Spark ${version} at `])
    expect(stderr).toContain(`[infra] compat: Spark ${version} FAILED (exit 3) in `)
    expect(code).toBe(1)
  }, 300_000)

  it("checks each version before any server starts", async () => {
    const { code, stderr } = await infra(["compat", "--versions", "4.0.1,4.x", "--", "true"])
    expect(code).toBe(64)
    expect(stderr).toContain('--versions "4.x" is not a Spark version')
    expect(stderr).not.toContain("compat: Spark")
  })
})
