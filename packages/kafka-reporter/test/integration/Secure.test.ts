// The reporter against a broker that requires SASL_SSL with SCRAM-SHA-512 (CA, certificate and
// users made by the harness): delivery with the right password and CA, a wrong password spooled
// and named without leaking it, no way in for a client without TLS and a SCRAM login, and a
// client certificate presented (the CA's accepted, a stranger's refused).
import { NodeFileSystem, NodeServices } from "@effect/platform-node"
import { Event } from "@spark-etl/core"
import { KafkaSecurity } from "@spark-etl/infra"
import { Effect, Layer, Option } from "effect"
import { Kafka, type KafkaConfig, logLevel } from "kafkajs"
import { execFile } from "node:child_process"
import { randomUUID } from "node:crypto"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { describe, expect, inject, it } from "vitest"
import * as KafkaReporter from "../../src/KafkaReporter.js"
import * as Outbox from "../../src/internal/outbox.js"
import * as ReporterConfig from "../../src/ReporterConfig.js"
import { classify } from "../../src/internal/classify.js"
import { ProducerError } from "../../src/ReporterError.js"
import { batchEvent, problems } from "../support/fixtures.js"
import { captureLogs, consume, createTopic, type Received, reporterConfig, unique } from "./support/kafka.js"

const endpoint = () => inject("kafkaSecure")
const password = () => fs.readFileSync(endpoint().passwordFile, "utf8").trim()
const idOf = (r: Received) => (JSON.parse(r.value) as { id: string }).id

// The reporter's TLS and SASL settings for the secured broker, logging in with `secret`.
const secured = (secret: string): Partial<ReporterConfig.ReporterConfigInput> => ({
  tls: { caFile: endpoint().caFile },
  sasl: { mechanism: "scram-sha-512", username: endpoint().username, password: secret }
})

// A fresh topic, created over SASL_SSL with the right password; the reporter's config for it.
const secureTopic = async (prefix: string, overrides: Partial<ReporterConfig.ReporterConfigInput> = {}) => {
  const config = await Effect.runPromise(
    reporterConfig(endpoint().brokers, unique(prefix), { ...secured(password()), ...overrides })
  )
  await Effect.runPromise(createTopic(config).pipe(Effect.provide(NodeFileSystem.layer)))
  return config
}

// One event published, then the outbox flushed, as a batch does at its end.
const publish = (config: ReporterConfig.ReporterConfig, event: Event.Event, logs: Layer.Layer<never>) =>
  Effect.runPromise(
    Effect.gen(function* () {
      const sink = yield* Event.EventSink
      yield* sink.publish(event)
      yield* sink.flush
    }).pipe(
      Effect.provide(KafkaReporter.layer(config).pipe(Layer.provide(NodeFileSystem.layer))),
      Effect.provide(logs),
      Effect.orDie
    )
  )

const spooledIds = (config: ReporterConfig.ReporterConfig) =>
  Effect.runPromise(
    Outbox.make(config.outboxFile).pipe(
      Effect.flatMap((o) => o.read),
      Effect.map((contents) => contents.entries.map((e) => e.envelope.id)),
      Effect.provide(NodeFileSystem.layer)
    )
  )

// Reads the topic over SASL_SSL until `done` says so (the test's timeout is the deadline).
const readSecurely = (topic: string, done: (received: ReadonlyArray<Received>) => boolean) =>
  consume(endpoint().brokers, topic, done, 60_000, KafkaSecurity.kafkajsOptions(endpoint()))

describe("KafkaReporter on a broker requiring SASL_SSL with SCRAM-SHA-512", () => {
  it("delivers an event with the right password and CA; a SASL_SSL consumer reads it back", async () => {
    const config = await secureTopic("secure")
    const event = batchEvent({ batch: unique("daily_sales") })
    const logs = captureLogs()
    await publish(config, event, logs.layer)
    expect(await spooledIds(config)).toEqual([])
    const received = await readSecurely(config.topic, (r) => r.length >= 1)
    expect(received.map(idOf)).toEqual([event.id])
    expect(received[0]!.key).toBe(event.batch)
    expect(problems(received[0]!.value)).toEqual([])
    for (const line of logs.lines) expect(line).not.toContain(password())
  })

  it("a wrong password: the event is spooled, the failure is AUTHENTICATION_FAILED, and no log or outbox line holds a password", async () => {
    const wrong = `wrong-${randomUUID()}`
    const topic = (await secureTopic("auth")).topic
    const config = await Effect.runPromise(
      reporterConfig(endpoint().brokers, topic, { ...secured(wrong), publishTimeoutMs: 5000 })
    )
    const logs = captureLogs()
    const event = batchEvent({ batch: unique("daily_sales") })
    await publish(config, event, logs.layer)
    expect(await spooledIds(config)).toEqual([event.id])
    const warning = logs.lines.find((l) => l.includes(`event ${event.id}`))
    expect(warning).toMatch(/AUTHENTICATION_FAILED on connect: .*appended to outbox/)

    // The flush command names the failure as the typed error operators and scripts see.
    const result = await Effect.runPromise(
      KafkaReporter.flushOutbox(config).pipe(Effect.provide(NodeFileSystem.layer), Effect.provide(logs.layer))
    )
    expect(result).toMatchObject({ delivered: 0, remaining: 1 })
    const failure = Option.getOrUndefined(result.failure)
    expect(failure).toBeInstanceOf(ProducerError)
    expect(failure?.code).toBe("AUTHENTICATION_FAILED")
    expect(failure?.retryable).toBe(false)

    const outboxLines = fs.readFileSync(config.outboxFile, "utf8").split("\n")
    expect(outboxLines.some((l) => l.includes(event.id))).toBe(true)
    const lines = [...logs.lines, ...outboxLines, failure?.message ?? ""]
    expect(lines.length).toBeGreaterThan(3)
    for (const secret of [wrong, password()]) {
      for (const line of lines) expect(line).not.toContain(secret)
    }
  })

  it("a client without TLS and SASL cannot produce on the secured port; nor one with TLS but no login, nor one that does not trust the CA", async () => {
    const config = await secureTopic("intruder")
    const brokers = endpoint().brokers
    const marker = unique("intruder")
    // What a kafkajs producer with these settings got: "produced", or its failure as the reporter names it.
    const attempt = async (
      security: Pick<KafkaConfig, "ssl" | "sasl">
    ): Promise<{ readonly code: string; readonly message: string }> => {
      const producer = new Kafka({
        clientId: "spark-etl-test-intruder",
        brokers: [brokers],
        logLevel: logLevel.NOTHING,
        connectionTimeout: 2000,
        authenticationTimeout: 3000,
        requestTimeout: 3000,
        retry: { retries: 0 },
        ...security
      }).producer({ allowAutoTopicCreation: false, retry: { retries: 0 } })
      try {
        await producer.connect()
        await producer.send({ topic: config.topic, messages: [{ key: marker, value: marker }] })
        return { code: "produced", message: "" }
      } catch (error) {
        const { code, message } = classify("send", error)
        return { code, message }
      } finally {
        await producer.disconnect()
      }
    }
    const { sasl } = KafkaSecurity.kafkajsOptions(endpoint())
    const outcomes = {
      plaintext: await attempt({}),
      tlsWithoutLogin: await attempt({ ssl: { ca: [fs.readFileSync(endpoint().caFile, "utf8")] } }),
      // The right password, but TLS against the system's CAs: the handshake fails before any login.
      untrustedCa: await attempt({ ssl: true, ...(sasl ? { sasl } : {}) })
    }
    // The broker hangs up on them (the reporter's code for a connection that fails or closes).
    for (const [how, outcome] of Object.entries(outcomes))
      expect(outcome.code, how).toBe("BROKER_UNREACHABLE")
    expect(outcomes.untrustedCa.message).toMatch(/certificate/i)

    // An independent client (kcat, librdkafka) in plaintext: the broker hangs up on its first request.
    const kcat = await new Promise<{ code: number; stderr: string }>((resolve) => {
      const child = execFile(
        "kcat",
        ["-P", "-b", brokers, "-t", config.topic, "-k", marker, "-X", "message.timeout.ms=3000"],
        { timeout: 30_000 },
        (error, _stdout, stderr) => resolve({ code: error ? Number(error.code ?? -1) : 0, stderr })
      )
      child.stdin?.end(`${marker}\n`)
    })
    expect(kcat.code).not.toBe(0)
    expect(kcat.stderr).toMatch(/ApiVersion|transport failure|brokers are down/)

    // Nothing of theirs arrived: a sentinel sent after them is all the topic holds.
    const sentinel = batchEvent({ batch: unique("daily_sales") })
    await publish(config, sentinel, Layer.empty)
    const received = await readSecurely(config.topic, (r) => r.some((m) => m.key === sentinel.batch))
    expect(received.map((r) => r.key)).toEqual([sentinel.batch])
  })

  // The broker's mutual-TLS port: the client certificate is the login, no SASL. Delivery with
  // the CA's certificate and refusal of a stranger's show that tls.certFile and tls.keyFile are
  // presented, not just read.
  it("mutual TLS: delivers with tls.certFile and tls.keyFile of the CA's client certificate; a stranger's certificate, or none, is refused at the handshake", async () => {
    const mtls = (
      tls: Partial<typeof ReporterConfig.Tls.Encoded>,
      overrides: Partial<ReporterConfig.ReporterConfigInput> = {}
    ) =>
      Effect.runPromise(
        reporterConfig(endpoint().mtlsBrokers, topic, {
          tls: { caFile: endpoint().caFile, ...tls },
          ...overrides
        })
      )
    const topic = unique("mtls")
    // One batch, so one key and one partition: what is read up to the sentinel is all that came before it.
    const batch = unique("daily_sales")
    const signed = await mtls({ certFile: endpoint().certFile, keyFile: endpoint().keyFile })
    await Effect.runPromise(createTopic(signed).pipe(Effect.provide(NodeFileSystem.layer)))
    const event = batchEvent({ batch })
    await publish(signed, event, Layer.empty)
    expect(await spooledIds(signed)).toEqual([])
    const received = await readSecurely(topic, (r) => r.length >= 1)
    expect(received.map(idOf)).toEqual([event.id])

    const stranger = await Effect.runPromise(
      KafkaSecurity.strangerCertificate(fs.mkdtempSync(path.join(os.tmpdir(), "stranger-"))).pipe(
        Effect.provide(NodeServices.layer)
      )
    )
    for (const [how, tls] of [
      ["a stranger's certificate", stranger],
      ["no certificate", {}]
    ] as const) {
      const config = await mtls(tls, { publishTimeoutMs: 5000 })
      const logs = captureLogs()
      const refused = batchEvent({ batch })
      await publish(config, refused, logs.layer)
      expect(await spooledIds(config), how).toEqual([refused.id])
      // One line that says why: the TLS alert the broker sent (46, certificate unknown, for a stranger).
      expect(
        logs.lines.find((l) => l.includes(`event ${refused.id}`)),
        how
      ).toMatch(/BROKER_UNREACHABLE on connect: Connection error: .*alert.*\); appended to outbox/)
    }
    // Nothing of theirs arrived: a sentinel sent after them follows the first event.
    const sentinel = batchEvent({ batch })
    await publish(signed, sentinel, Layer.empty)
    const all = await readSecurely(topic, (r) => r.some((m) => idOf(m) === sentinel.id))
    expect(all.map(idOf)).toEqual([event.id, sentinel.id])
  })
})
