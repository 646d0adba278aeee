/**
 * The Kafka producer of the reporter, on kafkajs (the only module that knows kafkajs' API):
 * idempotent, acknowledged by all in-sync replicas, a few retries only, and our own deadline
 * around every call (kafkajs' idempotent default retries almost forever). After any failed call
 * the kafkajs producer is retired and the next call starts a fresh one: its sequence numbers may
 * no longer match the broker's, and a fresh producer id cannot collide with a half-sent batch.
 */
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as FileSystem from "effect/FileSystem"
import * as Redacted from "effect/Redacted"
import * as Scope from "effect/Scope"
import * as Semaphore from "effect/Semaphore"
import kafkajs, {
  type Admin,
  type ISocketFactory,
  Kafka,
  logLevel,
  type KafkaConfig,
  type Message,
  type Producer as KafkaProducer,
  type SASLOptions
} from "kafkajs"
import type * as tls from "node:tls"
import type * as CloudEvent from "../CloudEvent.js"
import type { SocketFactory } from "../KafkaReporter.js"
import type { ReporterConfig } from "../ReporterConfig.js"
import { ConfigError, type Operation, ProducerError } from "../ReporterError.js"
import { classify } from "./classify.js"

/**
 * Sends records, each to its own topic (the configured one when it names none), in one produce
 * request; fails with a classified error within `deadline`.
 */
export interface Producer {
  readonly send: (
    records: ReadonlyArray<CloudEvent.KafkaRecord>,
    deadline: Duration.Input
  ) => Effect.Effect<void, ProducerError>
}

const readPem = (fs: FileSystem.FileSystem, field: string, file: string | undefined) =>
  file === undefined
    ? Effect.succeed(undefined)
    : fs.readFileString(file).pipe(
        Effect.mapError(
          (e) =>
            new ConfigError({
              source: file,
              issues: [{ path: `tls.${field}`, message: e.message }],
              message: `cannot read tls.${field} ${file}: ${e.message}`
            })
        )
      )

const tlsOptions = (
  config: ReporterConfig
): Effect.Effect<tls.ConnectionOptions | undefined, ConfigError, FileSystem.FileSystem> =>
  Effect.gen(function* () {
    if (config.tls === undefined) return undefined
    const fs = yield* FileSystem.FileSystem
    const ca = yield* readPem(fs, "caFile", config.tls.caFile)
    const cert = yield* readPem(fs, "certFile", config.tls.certFile)
    const key = yield* readPem(fs, "keyFile", config.tls.keyFile)
    return {
      rejectUnauthorized: config.tls.rejectUnauthorized,
      ...(ca === undefined ? {} : { ca: [ca] }),
      ...(cert === undefined ? {} : { cert }),
      ...(key === undefined ? {} : { key }),
      ...(config.tls.servername === undefined ? {} : { servername: config.tls.servername })
    }
  })

const saslOptions = (config: ReporterConfig): SASLOptions | undefined => {
  const sasl = config.sasl
  if (sasl === undefined) return undefined
  // The secret leaves its Redacted only here, into the client that needs it.
  const password = Redacted.value(sasl.password)
  switch (sasl.mechanism) {
    case "plain":
      return { mechanism: "plain", username: sasl.username, password }
    case "scram-sha-256":
      return { mechanism: "scram-sha-256", username: sasl.username, password }
    case "scram-sha-512":
      return { mechanism: "scram-sha-512", username: sasl.username, password }
  }
}

const retry = (config: ReporterConfig) => ({
  retries: config.retries,
  initialRetryTime: 100,
  maxRetryTime: 1000
})

/**
 * The kafkajs client options of a configuration (TLS files read here).
 *
 * @example
 * const kafka = new Kafka(yield* kafkaConfig(config))
 */
export const kafkaConfig = (
  config: ReporterConfig
): Effect.Effect<KafkaConfig, ConfigError, FileSystem.FileSystem> =>
  Effect.gen(function* () {
    const ssl = yield* tlsOptions(config)
    const sasl = saslOptions(config)
    return {
      clientId: config.clientId,
      brokers: [...config.brokers],
      connectionTimeout: config.connectionTimeoutMs,
      authenticationTimeout: config.requestTimeoutMs,
      requestTimeout: config.requestTimeoutMs,
      enforceRequestTimeout: true,
      retry: retry(config),
      // kafkajs would log to the console on its own; our logs report every failure, classified.
      logLevel: logLevel.NOTHING,
      ...(ssl === undefined ? {} : { ssl }),
      ...(sasl === undefined ? {} : { sasl })
    }
  })

const deadlineExceeded = (operation: Operation, deadline: Duration.Input) =>
  new ProducerError({
    code: "DEADLINE_EXCEEDED",
    operation,
    message: `no answer from Kafka within ${Duration.format(Duration.fromInputUnsafe(deadline))}`
  })

/** Options of `make` beyond the configuration. */
export interface Options {
  readonly socketFactory?: SocketFactory
}

// Our socket factory behind kafkajs' own: it hands kafkajs' TLS options on as ours.
const kafkaSocketFactory =
  (factory: SocketFactory): ISocketFactory =>
  ({ host, port, ssl, onConnect }) =>
    // kafkajs passes `null` when TLS is off, whatever its type says.
    factory({ host, port, tls: ssl ?? undefined, onConnect })

interface Client {
  readonly producer: KafkaProducer
  connected: boolean
}

/**
 * A scoped producer: nothing connects until the first send; every kafkajs producer it made is
 * disconnected (within the request timeout) when the scope closes.
 *
 * @example
 * const producer = yield* Producer.make(config)
 * yield* producer.send([record], "5 seconds")
 */
export const make = (
  config: ReporterConfig,
  options: Options = {}
): Effect.Effect<Producer, ConfigError, Scope.Scope | FileSystem.FileSystem> =>
  Effect.gen(function* () {
    const base = yield* kafkaConfig(config)
    const kafka = new Kafka(
      options.socketFactory === undefined
        ? base
        : { ...base, socketFactory: kafkaSocketFactory(options.socketFactory) }
    )
    const lock = yield* Semaphore.make(1)
    const scope = yield* Effect.scope
    const retired = new Set<KafkaProducer>()
    let current: Client | undefined

    const disconnect = (producer: KafkaProducer) =>
      Effect.tryPromise(() => producer.disconnect()).pipe(
        Effect.timeout(config.requestTimeoutMs),
        Effect.ignore,
        Effect.ensuring(Effect.sync(() => retired.delete(producer)))
      )

    yield* Effect.addFinalizer(() =>
      Effect.forEach([...(current === undefined ? [] : [current.producer]), ...retired], disconnect, {
        concurrency: "unbounded",
        discard: true
      })
    )

    const retire = Effect.suspend(() => {
      const client = current
      current = undefined
      if (client === undefined) return Effect.void
      retired.add(client.producer)
      return disconnect(client.producer).pipe(Effect.forkIn(scope), Effect.asVoid)
    })

    const attempt = (operation: Operation, run: () => Promise<unknown>) =>
      Effect.tryPromise({ try: run, catch: (cause) => classify(operation, cause) })

    const sendNow = (records: ReadonlyArray<CloudEvent.KafkaRecord>, stage: { operation: Operation }) =>
      Effect.gen(function* () {
        if (current === undefined) {
          current = {
            producer: kafka.producer({
              idempotent: true,
              maxInFlightRequests: 1,
              allowAutoTopicCreation: false,
              retry: retry(config)
            }),
            connected: false
          }
        }
        const client = current
        if (!client.connected) {
          yield* attempt("connect", () => client.producer.connect())
          client.connected = true
        }
        stage.operation = "send"
        // Per topic, in the records' order: order matters within a batch, and so within a topic.
        const byTopic = new Map<string, Array<Message>>()
        for (const r of records) {
          const topic = r.topic ?? config.topic
          const messages = byTopic.get(topic) ?? []
          messages.push({ key: r.key, value: r.value, headers: { ...r.headers } })
          byTopic.set(topic, messages)
        }
        yield* attempt("send", () =>
          client.producer.sendBatch({
            acks: -1,
            timeout: config.requestTimeoutMs,
            topicMessages: [...byTopic].map(([topic, messages]) => ({ topic, messages }))
          })
        )
      })

    const send: Producer["send"] = (records, deadline) =>
      Effect.suspend(() => {
        const stage: { operation: Operation } = { operation: "connect" }
        return sendNow(records, stage).pipe(
          Effect.timeoutOrElse({
            duration: deadline,
            orElse: () => Effect.fail(deadlineExceeded(stage.operation, deadline))
          }),
          // Failed, timed out or interrupted by the caller's own deadline: the kafkajs producer may
          // still be retrying in the background, so it is never used again.
          Effect.onExit((exit) => (Exit.isSuccess(exit) ? Effect.void : retire))
        )
      }).pipe(lock.withPermit)

    return { send }
  })

/** A topic to create: the admin request of `Topic.create`, in our terms. */
export interface TopicSpec {
  readonly topic: string
  readonly partitions: number
  readonly replicationFactor: number
  readonly configEntries: ReadonlyArray<{ readonly name: string; readonly value: string }>
}

// One admin request within the flush deadline; the admin client is always disconnected.
const withAdmin = <A>(
  config: ReporterConfig,
  operation: Operation,
  request: (admin: Admin) => Promise<A>
): Effect.Effect<A, ProducerError | ConfigError, FileSystem.FileSystem> =>
  Effect.acquireUseRelease(
    Effect.map(kafkaConfig(config), (kafka) => new Kafka(kafka).admin()),
    (admin) =>
      Effect.tryPromise({
        try: async () => {
          await admin.connect()
          return request(admin)
        },
        catch: (cause) => classify(operation, cause)
      }).pipe(
        Effect.timeoutOrElse({
          duration: config.flushTimeoutMs,
          orElse: () => Effect.fail(deadlineExceeded(operation, config.flushTimeoutMs))
        })
      ),
    (admin) =>
      Effect.tryPromise(() => admin.disconnect()).pipe(Effect.timeout(config.requestTimeoutMs), Effect.ignore)
  )

/**
 * Creates a topic with the admin API, within the flush deadline; `false` if it existed.
 *
 * @example
 * yield* createTopic(config, { topic: config.topic, partitions: 6, replicationFactor: 3, configEntries: [] })
 */
export const createTopic = (
  config: ReporterConfig,
  spec: TopicSpec
): Effect.Effect<boolean, ProducerError | ConfigError, FileSystem.FileSystem> =>
  withAdmin(config, "createTopic", (admin) =>
    admin.createTopics({
      waitForLeaders: true,
      topics: [
        {
          topic: spec.topic,
          numPartitions: spec.partitions,
          replicationFactor: spec.replicationFactor,
          configEntries: [...spec.configEntries]
        }
      ]
    })
  )

/** A topic as the brokers describe it. */
export interface TopicState {
  readonly partitions: ReadonlyArray<{
    readonly partition: number
    /** The leader's broker id; -1 when the partition has none (nothing can be written to it). */
    readonly leader: number
    readonly replicas: number
    readonly inSync: number
  }>
  /** The topic's configuration values, by name (those asked for). */
  readonly config: Readonly<Record<string, string>>
}

/** The topic's partitions and the named configuration values; none when it does not exist. */
export const describeTopic = (
  config: ReporterConfig,
  topic: string,
  configNames: ReadonlyArray<string>
): Effect.Effect<TopicState | undefined, ProducerError | ConfigError, FileSystem.FileSystem> =>
  withAdmin(config, "describeTopic", async (admin) => {
    if (!(await admin.listTopics()).includes(topic)) return undefined
    const [metadata, described] = await Promise.all([
      admin.fetchTopicMetadata({ topics: [topic] }),
      admin.describeConfigs({
        includeSynonyms: false,
        // An enum Node's ESM loader does not see as a named export of kafkajs (CommonJS).
        resources: [{ type: kafkajs.ConfigResourceTypes.TOPIC, name: topic, configNames: [...configNames] }]
      })
    ])
    return {
      partitions: (metadata.topics[0]?.partitions ?? [])
        .map((p) => ({
          partition: p.partitionId,
          leader: p.leader,
          replicas: p.replicas.length,
          inSync: p.isr.length
        }))
        .sort((a, b) => a.partition - b.partition),
      config: Object.fromEntries(
        (described.resources[0]?.configEntries ?? []).map((e) => [e.configName, e.configValue])
      )
    }
  })
