// Kafka's TLS and SASL settings, from the site config or the environment, reach the reporter's
// configuration as the events and outbox commands and a run build it (Layers.reporterConfig);
// the password stays Redacted, read from its variable or its file.
import * as NodeServices from "@effect/platform-node/NodeServices"
import { ConfigProvider, Effect, Option, Redacted, Result } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { describe, expect, it } from "vitest"
import * as Layers from "../src/Layers.js"
import * as Origin from "../src/Origin.js"
import * as Settings from "../src/Settings.js"
import * as SiteConfig from "../src/SiteConfig.js"

const none: Settings.Flags = {
  remote: Option.none(),
  stateDir: Option.some("/srv/etl"),
  logDir: Option.none(),
  kafkaBrokers: Option.none(),
  kafkaTopic: Option.none()
}

/** A folder with `config.yaml` (`text`) and the files named in `files`. */
const siteDir = (text: string, files: Record<string, string> = {}) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "cli-kafka-security-"))
  for (const [name, content] of Object.entries(files)) fs.writeFileSync(path.join(dir, name), content)
  const file = path.join(dir, "config.yaml")
  fs.writeFileSync(file, text)
  return { dir, site: Result.getOrThrow(SiteConfig.decode(text, file, Origin.flag("--config"))) }
}

/** The reporter's configuration built from the site config and `env`, as the commands build it. */
const reporterOf = (site: Option.Option<SiteConfig.Loaded>, env: Record<string, string> = {}) =>
  Effect.gen(function* () {
    const settings = yield* Settings.resolve(none, site).parse(ConfigProvider.fromEnv({ env }))
    return yield* Layers.reporterConfig(settings, Option.getOrThrow(settings.kafka))
  }).pipe(Effect.provide(NodeServices.layer))

const secured = `kafka:
  brokers: [kafka-1:9093, kafka-2:9093]
  topic: etl.events
  tls:
    ca_file: ca.pem
    cert_file: client.pem
    key_file: client.key
    servername: kafka.example.com
  sasl:
    mechanism: scram-sha-512
    username: spark-etl
    password_file: kafka.password
`

describe("Layers.reporterConfig with Kafka security", () => {
  it("TLS and SASL from the site config, the password read from its file and Redacted", async () => {
    const { dir, site } = siteDir(secured, { "kafka.password": "s3cret-pw\n" })
    const config = await Effect.runPromise(reporterOf(Option.some(site)))
    expect(config.brokers).toEqual(["kafka-1:9093", "kafka-2:9093"])
    expect(config.topic).toBe("etl.events")
    expect(config.outboxFile).toBe("/srv/etl/outbox.jsonl")
    expect(config.tls).toEqual({
      caFile: path.join(dir, "ca.pem"),
      certFile: path.join(dir, "client.pem"),
      keyFile: path.join(dir, "client.key"),
      servername: "kafka.example.com",
      rejectUnauthorized: true
    })
    expect(config.sasl?.mechanism).toBe("scram-sha-512")
    expect(config.sasl?.username).toBe("spark-etl")
    const password = config.sasl!.password
    expect(Redacted.isRedacted(password)).toBe(true)
    // The file's final newline is not part of the password.
    expect(Redacted.value(password)).toBe("s3cret-pw")
    expect(JSON.stringify(config)).not.toContain("s3cret-pw")
    expect(String(password)).not.toContain("s3cret-pw")
  })

  it("from the environment alone: the password from SPARK_ETL_KAFKA_PASSWORD", async () => {
    const config = await Effect.runPromise(
      reporterOf(Option.none(), {
        KAFKA_BROKERS: "k:9093",
        SPARK_ETL_KAFKA_TLS: "true",
        SPARK_ETL_KAFKA_SASL_MECHANISM: "plain",
        SPARK_ETL_KAFKA_USERNAME: "u",
        SPARK_ETL_KAFKA_PASSWORD: "env-pw"
      })
    )
    expect(config.tls).toEqual({ rejectUnauthorized: true })
    expect(config.sasl?.mechanism).toBe("plain")
    expect(Redacted.value(config.sasl!.password)).toBe("env-pw")
  })

  it("without TLS or SASL settings: neither", async () => {
    const config = await Effect.runPromise(reporterOf(Option.none(), { KAFKA_BROKERS: "k:9092" }))
    expect(config.tls).toBeUndefined()
    expect(config.sasl).toBeUndefined()
  })

  it("SASL without a password: refused, saying where to give it", async () => {
    const { site } = siteDir("kafka:\n  brokers: [k:9092]\n  sasl:\n    mechanism: plain\n    username: u\n")
    const error = await Effect.runPromise(Effect.flip(reporterOf(Option.some(site))))
    expect(error.message).toContain(
      "Kafka SASL needs a mechanism, a username and a password; missing a password"
    )
    expect(error.message).toContain("SPARK_ETL_KAFKA_PASSWORD")
  })

  it("a password file that is missing or empty: refused, naming it and where it was set", async () => {
    const { dir, site } = siteDir(secured, { "kafka.password": "" })
    const empty = await Effect.runPromise(Effect.flip(reporterOf(Option.some(site))))
    expect(empty.message).toContain(`the Kafka password file ${path.join(dir, "kafka.password")}`)
    expect(empty.message).toContain("is empty")
    const missing = await Effect.runPromise(
      Effect.flip(reporterOf(Option.some(site), { SPARK_ETL_KAFKA_PASSWORD_FILE: "/no/such/pw" }))
    )
    expect(missing.message).toContain(
      "cannot read the Kafka password file /no/such/pw (env SPARK_ETL_KAFKA_PASSWORD_FILE)"
    )
  })

  it("a client certificate without its key: refused", async () => {
    const error = await Effect.runPromise(
      Effect.flip(reporterOf(Option.none(), { KAFKA_BROKERS: "k:9092", SPARK_ETL_KAFKA_CERT_FILE: "/c.pem" }))
    )
    expect(error.message).toContain("a client certificate and its key go together")
  })
})
