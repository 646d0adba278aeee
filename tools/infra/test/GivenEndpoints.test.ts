// `infra run` uses the servers the environment names instead of starting its own (README: "when
// PG_HOST is set they use that server"; KAFKA_SECURE_BROKERS likewise), and refuses a partial
// description by the variables' names. The given server here is the test run's own PostgreSQL.
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { describe, expect, inject, it } from "vitest"
import { infraCli } from "./support/infraCli.js"

// `infra run` in a folder of its own, with only the variables given (and PATH, HOME).
const infraRun = (args: ReadonlyArray<string>, env: Record<string, string>) =>
  infraCli(["run", ...args], {
    cwd: fs.mkdtempSync(path.join(os.tmpdir(), "infra-given-")),
    env: { PATH: process.env["PATH"] ?? "", HOME: process.env["HOME"] ?? "", ...env },
    timeout: 120_000
  })

describe("infra run with servers the environment names", () => {
  it("PG_HOST and its companions: that server is used, none started, and the command gets it", async () => {
    const given = inject("postgres")
    const r = await infraRun(
      [
        "--needs",
        "postgres",
        "--",
        "sh",
        "-c",
        'echo "$PG_URL|$PG_JDBC_URL"; PGPASSWORD="$PG_PASSWORD" psql -w "$PG_URL" -Atc "SELECT 7"'
      ],
      {
        PG_HOST: given.host,
        PG_PORT: String(given.port),
        PG_USER: given.user,
        PG_PASSWORD: given.password
      }
    )
    expect(r.code, r.stderr).toBe(0)
    expect(r.stderr).toContain(`postgres=${given.url} (environment)`)
    expect(r.stdout.trim().split("\n")).toEqual([`${given.url}|${given.jdbcUrl}`, "7"])
  })

  it("a partial description is refused by the variables' names, before anything starts", async () => {
    const pg = await infraRun(["--needs", "postgres", "--", "true"], { PG_HOST: "127.0.0.1" })
    expect(pg.code).not.toBe(0)
    expect(pg.stderr).toContain("PG_HOST is set, so PG_USER and PG_PASSWORD must be too")
    const badPort = await infraRun(["--needs", "postgres", "--", "true"], {
      PG_HOST: "127.0.0.1",
      PG_PORT: "http",
      PG_USER: "u",
      PG_PASSWORD: "p"
    })
    expect(badPort.stderr).toContain("PG_PORT is not a port: http")
    const kafka = await infraRun(["--needs", "kafka-secure", "--", "true"], {
      KAFKA_SECURE_BROKERS: "127.0.0.1:1"
    })
    expect(kafka.code).not.toBe(0)
    expect(kafka.stderr).toContain(
      "KAFKA_SECURE_BROKERS is set, so KAFKA_SECURE_CA_FILE, _USER, _PASSWORD_FILE, _MTLS_BROKERS, _CERT_FILE and _KEY_FILE must be too"
    )
    const missing = path.join(os.tmpdir(), `no-such-ca-${process.pid}.pem`)
    const files = await infraRun(["--needs", "kafka-secure", "--", "true"], {
      KAFKA_SECURE_BROKERS: "127.0.0.1:1",
      KAFKA_SECURE_MTLS_BROKERS: "127.0.0.1:2",
      KAFKA_SECURE_USER: "u",
      ...Object.fromEntries(
        ["CA_FILE", "PASSWORD_FILE", "CERT_FILE", "KEY_FILE"].map((k) => [`KAFKA_SECURE_${k}`, missing])
      )
    })
    expect(files.code).not.toBe(0)
    expect(files.stderr).toContain(`${missing} (from KAFKA_SECURE_*) does not exist`)
  })
})
