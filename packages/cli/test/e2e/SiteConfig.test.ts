// The site config as an AutoSys job uses it: the built CLI, a command line naming only the batch,
// Spark and a broker that requires SASL_SSL with SCRAM-SHA-512 (CA, user and password file made by
// the infra harness) all from the file; and the same broker's mutual-TLS port, a client
// certificate as the login.
import { NodeServices } from "@effect/platform-node"
import { KafkaSecurity } from "@spark-etl/infra"
import { Effect } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import { describe, expect, inject, it } from "vitest"
import { batchFile, cli, spark, summary } from "./harness.js"

/** A site config for the secured broker, beside the batch; the password only as a file's path. */
const siteConfig = (dir: string, topic: string, passwordFile: string): string => {
  const endpoint = inject("kafkaSecure")
  const file = path.join(dir, "config.yaml")
  fs.writeFileSync(
    file,
    `spark:
  remote: ${spark()}
  timeout_seconds: 30
state_dir: state
kafka:
  brokers: [${endpoint.brokers}]
  topic: ${topic}
  tls:
    ca_file: ${endpoint.caFile}
  sasl:
    mechanism: scram-sha-512
    username: ${endpoint.username}
    password_file: ${passwordFile}
`
  )
  return file
}

const simple = `batch: secured
rules:
  - id: one
    kind: sql
    options: { sql: SELECT 1 AS x }
`

/** `events create-topic` (one broker: one replica) then `events check`, both with `config` alone. */
const createdAndChecked = async (config: string): Promise<void> => {
  const created = await cli([
    ...["events", "create-topic", "--config", config],
    ...["--replication-factor", "1", "--min-insync-replicas", "1"]
  ])
  expect(created.code, created.stderr).toBe(0)
  const checked = await cli(["events", "check", "--config", config])
  expect(checked.code, checked.stderr).toBe(0)
}

describe("site config with Kafka over SASL_SSL", () => {
  it("events create-topic, events check and a run reach the secured broker with the file's settings alone", async () => {
    const b = batchFile(simple)
    const topic = `e2e-site-config-${Date.now()}`
    const config = siteConfig(b.dir, topic, inject("kafkaSecure").passwordFile)
    await createdAndChecked(config)
    const run = await cli(["run", b.batch], { SPARK_ETL_CONFIG: config })
    expect(run.code, run.stderr).toBe(0)
    // Delivered: nothing waits in the outbox.
    expect(summary(run.stdout)).toMatch(/^spark-etl SUCCEEDED batch=secured /)
    expect(summary(run.stdout)).not.toContain("events=")
    expect(fs.existsSync(path.join(b.dir, "state", "ledger", "secured"))).toBe(true)
  })

  it("a wrong password: Kafka refuses the login, named without the password; a run keeps its exit code and spools", async () => {
    const b = batchFile(simple)
    const wrong = path.join(b.dir, "wrong.password")
    fs.writeFileSync(wrong, "not-the-password\n", { mode: 0o600 })
    const config = siteConfig(b.dir, `e2e-site-config-wrong-${Date.now()}`, wrong)
    const checked = await cli(["events", "check", "--config", config])
    expect(checked.code).toBe(2)
    expect(checked.stderr).toContain("AUTHENTICATION_FAILED")
    expect(checked.stderr + checked.stdout).not.toContain("not-the-password")
    // A run: the batch's own outcome and exit code; its events wait in the outbox; the
    // password in no artefact the run leaves (summary, log, ledger, outbox).
    const run = await cli(["run", b.batch, "--config", config])
    expect(run.code, run.stderr).toBe(0)
    expect(summary(run.stdout)).toMatch(/^spark-etl SUCCEEDED batch=secured .* events=\d+ in outbox /)
    const artefacts = fs
      .readdirSync(path.join(b.dir, "state"), { recursive: true, withFileTypes: true })
      .filter((e) => e.isFile())
      .map((e) => fs.readFileSync(path.join(e.parentPath, e.name), "utf8"))
    expect(artefacts.some((text) => text.includes("spark-etl.batch.succeeded"))).toBe(true)
    for (const text of [run.stdout, run.stderr, ...artefacts]) expect(text).not.toContain("not-the-password")
  })
})

/** A site config for the broker's mutual-TLS port: the client certificate is the login. */
const mtlsConfig = (dir: string, topic: string, certFile: string, keyFile: string): string => {
  const endpoint = inject("kafkaSecure")
  const file = path.join(dir, "mtls.yaml")
  fs.writeFileSync(
    file,
    `kafka:
  brokers: [${endpoint.mtlsBrokers}]
  topic: ${topic}
  tls:
    ca_file: ${endpoint.caFile}
    cert_file: ${certFile}
    key_file: ${keyFile}
`
  )
  return file
}

describe("site config with Kafka over mutual TLS", () => {
  it("kafka.tls.cert_file and key_file are the login: the CA's certificate gets in, a stranger's is refused by name", async () => {
    const b = batchFile(simple)
    const endpoint = inject("kafkaSecure")
    const topic = `e2e-site-config-mtls-${Date.now()}`
    const config = mtlsConfig(b.dir, topic, endpoint.certFile, endpoint.keyFile)
    await createdAndChecked(config)

    const stranger = await Effect.runPromise(
      KafkaSecurity.strangerCertificate(b.dir).pipe(Effect.provide(NodeServices.layer))
    )
    const refused = await cli([
      "events",
      "check",
      "--config",
      mtlsConfig(b.dir, topic, stranger.certFile, stranger.keyFile)
    ])
    expect(refused.code).toBe(2)
    expect(refused.stderr).toMatch(/BROKER_UNREACHABLE.*alert certificate unknown/)
  })
})
