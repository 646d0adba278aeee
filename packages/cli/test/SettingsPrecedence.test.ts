// Each setting comes from its flag, else its variable, else the site config, else the default;
// and says which. The environment is a test ConfigProvider, the site config a decoded text.
import { ConfigProvider, Duration, Effect, Option, Redacted, Result } from "effect"
import * as os from "node:os"
import * as path from "node:path"
import { describe, expect, it } from "vitest"
import * as Origin from "../src/Origin.js"
import * as Settings from "../src/Settings.js"
import * as SiteConfig from "../src/SiteConfig.js"

const file = "/etc/site/config.yaml"

const none: Settings.Flags = {
  remote: Option.none(),
  stateDir: Option.none(),
  logDir: Option.none(),
  kafkaBrokers: Option.none(),
  kafkaTopic: Option.none(),
  sparkTimeout: Option.none()
}

const siteOf = (text: string) =>
  Result.getOrThrow(SiteConfig.decode(text, file, Origin.env("SPARK_ETL_CONFIG")))

const resolve = (flags: Partial<Settings.Flags>, env: Record<string, string>, text?: string) =>
  Effect.runSync(
    Settings.resolve(
      { ...none, ...flags },
      text === undefined ? Option.none() : Option.some(siteOf(text))
    ).parse(ConfigProvider.fromEnv({ env }))
  )

interface Case {
  readonly setting: Settings.Setting
  /** The flag, when the setting has one. */
  readonly flag?: { readonly given: Partial<Settings.Flags>; readonly value: unknown }
  readonly env: { readonly variable: string; readonly text: string; readonly value: unknown }
  readonly file: { readonly text: string; readonly value: unknown }
  readonly byDefault: unknown
  /** Variables every level needs (Kafka's settings need brokers). */
  readonly base?: Record<string, string>
  readonly read: (s: Settings.Resolved) => unknown
}

const kafka = (s: Settings.Resolved) => Option.getOrThrow(s.kafka)
const withBrokers = { KAFKA_BROKERS: "b:1" }

const cases: ReadonlyArray<Case> = [
  {
    setting: "remote",
    flag: { given: { remote: Option.some("sc://flag:15002") }, value: "sc://flag:15002" },
    env: { variable: "SPARK_REMOTE", text: "sc://env:15002", value: "sc://env:15002" },
    file: { text: "spark:\n  remote: sc://file:15002\n", value: "sc://file:15002" },
    byDefault: "local",
    read: (s) => s.remote
  },
  {
    setting: "sparkTimeout",
    flag: { given: { sparkTimeout: Option.some(5) }, value: 5 },
    env: { variable: "SPARK_ETL_SPARK_TIMEOUT", text: "6", value: 6 },
    file: { text: "spark:\n  timeout_seconds: 7\n", value: 7 },
    byDefault: 60,
    read: (s) => Duration.toSeconds(s.sparkTimeout)
  },
  {
    setting: "localSparkVersion",
    flag: { given: { localSparkVersion: Option.some("4.1.2") }, value: "4.1.2" },
    env: { variable: "SPARK_ETL_LOCAL_SPARK_VERSION", text: "4.0.1", value: "4.0.1" },
    file: { text: "spark:\n  local_version: 3.5.7\n", value: "3.5.7" },
    byDefault: "4.2.0",
    read: (s) => s.localSparkVersion
  },
  {
    setting: "stateDir",
    flag: { given: { stateDir: Option.some("/flag") }, value: "/flag" },
    env: { variable: "SPARK_ETL_STATE_DIR", text: "/env", value: "/env" },
    // A relative path in the site config is relative to the file's folder.
    file: { text: "state_dir: state\n", value: "/etc/site/state" },
    byDefault: path.join(os.homedir(), ".spark-etl"),
    read: (s) => s.stateDir
  },
  {
    setting: "logDir",
    flag: { given: { logDir: Option.some("/flag/logs") }, value: "/flag/logs" },
    env: { variable: "SPARK_ETL_LOG_DIR", text: "/env/logs", value: "/env/logs" },
    file: { text: "log_dir: /file/logs\n", value: "/file/logs" },
    byDefault: path.join(os.homedir(), ".spark-etl", "logs"),
    read: (s) => s.logDir
  },
  {
    setting: "pluginPath",
    env: { variable: "SPARK_ETL_PLUGIN_PATH", text: "/e1:/e2", value: ["/e1", "/e2"] },
    file: { text: "plugin_path: [/f1, plugins]\n", value: ["/f1", "/etc/site/plugins"] },
    byDefault: [],
    read: (s) => s.pluginPath
  },
  {
    setting: "kafkaBrokers",
    flag: { given: { kafkaBrokers: Option.some("flag:9092") }, value: ["flag:9092"] },
    env: { variable: "KAFKA_BROKERS", text: "env-1:9092,env-2:9092", value: ["env-1:9092", "env-2:9092"] },
    file: { text: "kafka:\n  brokers: [file:9092]\n", value: ["file:9092"] },
    byDefault: "none",
    read: (s) => Option.match(s.kafka, { onNone: () => "none", onSome: (k) => k.brokers })
  },
  {
    setting: "kafkaTopic",
    flag: { given: { kafkaTopic: Option.some("flag.topic") }, value: "flag.topic" },
    env: { variable: "SPARK_ETL_KAFKA_TOPIC", text: "env.topic", value: "env.topic" },
    file: { text: "kafka:\n  topic: file.topic\n", value: "file.topic" },
    byDefault: "spark-etl.events",
    base: withBrokers,
    read: (s) => kafka(s).topic
  },
  {
    setting: "kafkaTls",
    env: { variable: "SPARK_ETL_KAFKA_TLS", text: "true", value: {} },
    file: { text: "kafka:\n  tls:\n    enabled: true\n", value: {} },
    byDefault: undefined,
    base: withBrokers,
    read: (s) => kafka(s).tls
  },
  {
    setting: "kafkaCaFile",
    env: { variable: "SPARK_ETL_KAFKA_CA_FILE", text: "/env/ca.pem", value: { caFile: "/env/ca.pem" } },
    file: { text: "kafka:\n  tls:\n    ca_file: ca.pem\n", value: { caFile: "/etc/site/ca.pem" } },
    byDefault: undefined,
    base: withBrokers,
    read: (s) => kafka(s).tls
  },
  {
    setting: "kafkaCertFile",
    env: { variable: "SPARK_ETL_KAFKA_CERT_FILE", text: "/env/c.pem", value: "/env/c.pem" },
    file: { text: "kafka:\n  tls:\n    cert_file: /file/c.pem\n", value: "/file/c.pem" },
    byDefault: undefined,
    base: withBrokers,
    read: (s) => kafka(s).tls?.certFile
  },
  {
    setting: "kafkaKeyFile",
    env: { variable: "SPARK_ETL_KAFKA_KEY_FILE", text: "/env/c.key", value: "/env/c.key" },
    file: { text: "kafka:\n  tls:\n    key_file: /file/c.key\n", value: "/file/c.key" },
    byDefault: undefined,
    base: withBrokers,
    read: (s) => kafka(s).tls?.keyFile
  },
  {
    setting: "kafkaServername",
    env: { variable: "SPARK_ETL_KAFKA_SERVERNAME", text: "env.example", value: "env.example" },
    file: { text: "kafka:\n  tls:\n    servername: file.example\n", value: "file.example" },
    byDefault: undefined,
    base: withBrokers,
    read: (s) => kafka(s).tls?.servername
  },
  {
    setting: "kafkaSaslMechanism",
    env: { variable: "SPARK_ETL_KAFKA_SASL_MECHANISM", text: "plain", value: "plain" },
    file: { text: "kafka:\n  sasl:\n    mechanism: scram-sha-256\n", value: "scram-sha-256" },
    byDefault: undefined,
    base: withBrokers,
    read: (s) => kafka(s).sasl?.mechanism
  },
  {
    setting: "kafkaUsername",
    env: { variable: "SPARK_ETL_KAFKA_USERNAME", text: "env-user", value: "env-user" },
    file: { text: "kafka:\n  sasl:\n    username: file-user\n", value: "file-user" },
    byDefault: undefined,
    base: withBrokers,
    read: (s) => kafka(s).sasl?.username
  },
  {
    setting: "kafkaPassword",
    env: {
      variable: "SPARK_ETL_KAFKA_PASSWORD_FILE",
      text: "/env/pw",
      value: { _tag: "File", path: "/env/pw" }
    },
    file: {
      text: "kafka:\n  sasl:\n    password_file: pw\n",
      value: { _tag: "File", path: "/etc/site/pw" }
    },
    byDefault: undefined,
    base: withBrokers,
    read: (s) => kafka(s).sasl?.password
  }
]

describe("each setting: flag > env > site config > default, with its origin", () => {
  for (const c of cases) {
    it(c.setting, () => {
      const base = c.base ?? {}
      const env = { ...base, [c.env.variable]: c.env.text }
      const origin = (s: Settings.Resolved) => Origin.describe(s.origins[c.setting])
      if (c.flag !== undefined) {
        const s = resolve(c.flag.given, env, c.file.text)
        expect(c.read(s)).toEqual(c.flag.value)
        expect(origin(s)).toMatch(/^flag --/)
      }
      const fromEnv = resolve({}, env, c.file.text)
      expect(c.read(fromEnv)).toEqual(c.env.value)
      expect(origin(fromEnv)).toBe(`env ${c.env.variable}`)
      const fromFile = resolve({}, base, c.file.text)
      expect(c.read(fromFile)).toEqual(c.file.value)
      expect(origin(fromFile)).toMatch(new RegExp(`^file ${file}:\\d+$`))
      const byDefault = resolve({}, base)
      expect(c.read(byDefault)).toEqual(c.byDefault)
      expect(origin(byDefault)).toMatch(/^default/)
    })
  }

  it("every setting has a case (a new setting needs one)", () => {
    const covered = new Set(cases.map((c) => c.setting))
    const all = Object.keys(resolve({}, {}).origins).filter((s) => s !== "siteConfig")
    expect(all.filter((s) => !covered.has(s as Settings.Setting))).toEqual([])
  })
})

describe("the Kafka password", () => {
  const sasl = "kafka:\n  sasl:\n    password_env: SITE_KAFKA_PW\n"

  it("SPARK_ETL_KAFKA_PASSWORD wins over SPARK_ETL_KAFKA_PASSWORD_FILE and the site config; it stays Redacted", () => {
    const s = resolve(
      {},
      {
        ...withBrokers,
        SPARK_ETL_KAFKA_PASSWORD: "from-env",
        SPARK_ETL_KAFKA_PASSWORD_FILE: "/pw",
        SITE_KAFKA_PW: "x"
      },
      sasl
    )
    const password = kafka(s).sasl?.password
    expect(password?._tag).toBe("Given")
    if (password?._tag !== "Given") return
    expect(Redacted.isRedacted(password.value)).toBe(true)
    expect(Redacted.value(password.value)).toBe("from-env")
    expect(String(password.value)).not.toContain("from-env")
    expect(JSON.stringify(s.kafka)).not.toContain("from-env")
    expect(Origin.describe(s.origins.kafkaPassword)).toBe("env SPARK_ETL_KAFKA_PASSWORD")
  })

  it("password_env: the variable the site config names, read through the ConfigProvider", () => {
    const s = resolve({}, { ...withBrokers, SITE_KAFKA_PW: "from-named" }, sasl)
    const password = kafka(s).sasl?.password
    expect(password?._tag === "Given" && Redacted.value(password.value)).toBe("from-named")
    expect(Origin.describe(s.origins.kafkaPassword)).toBe(`file ${file}:3 via env SITE_KAFKA_PW`)
  })

  it("password_env naming a variable that is not set: refused, saying which", () => {
    const error = Effect.runSync(
      Effect.flip(
        Settings.resolve(none, Option.some(siteOf(sasl))).parse(ConfigProvider.fromEnv({ env: {} }))
      )
    )
    expect(error.message).toContain("kafka.sasl.password_env names SITE_KAFKA_PW, which is not set")
  })
})

describe("values that cannot be used", () => {
  it("a Spark timeout below 1 s, from the flag or the variable", () => {
    const flagged = Effect.runSync(
      Effect.flip(
        Settings.resolve({ ...none, sparkTimeout: Option.some(0) }).parse(ConfigProvider.fromEnv({ env: {} }))
      )
    )
    expect(flagged.message).toContain(
      "flag --spark-timeout: the Spark timeout must be a whole number of seconds"
    )
    const fromEnv = Effect.runSync(
      Effect.flip(
        Settings.resolve(none).parse(ConfigProvider.fromEnv({ env: { SPARK_ETL_SPARK_TIMEOUT: "soon" } }))
      )
    )
    expect(fromEnv.message).toContain("SPARK_ETL_SPARK_TIMEOUT")
  })

  it("a local Spark version that is not major.minor.patch, naming the flag or the variable", () => {
    const refused = (flags: Partial<Settings.Flags>, env: Record<string, string>) =>
      Effect.runSync(
        Effect.flip(Settings.resolve({ ...none, ...flags }).parse(ConfigProvider.fromEnv({ env })))
      ).message
    expect(refused({ localSparkVersion: Option.some("4.0") }, {})).toContain(
      'flag --local-spark-version: "4.0" is not a Spark version: major.minor.patch, e.g. 4.0.1'
    )
    expect(refused({}, { SPARK_ETL_LOCAL_SPARK_VERSION: "latest" })).toContain(
      'env SPARK_ETL_LOCAL_SPARK_VERSION: "latest" is not a Spark version'
    )
    // The flag makes a bad variable moot: it is never read.
    expect(
      resolve({ localSparkVersion: Option.some("4.0.1") }, { SPARK_ETL_LOCAL_SPARK_VERSION: "latest" })
        .localSparkVersion
    ).toBe("4.0.1")
  })

  it("an unknown SASL mechanism in the variable", () => {
    const error = Effect.runSync(
      Effect.flip(
        Settings.resolve(none).parse(
          ConfigProvider.fromEnv({ env: { SPARK_ETL_KAFKA_SASL_MECHANISM: "md5" } })
        )
      )
    )
    expect(error.message).toContain("SPARK_ETL_KAFKA_SASL_MECHANISM")
  })

  it("TLS switched off explicitly, though a CA file is given", () => {
    const s = resolve(
      {},
      { ...withBrokers, SPARK_ETL_KAFKA_TLS: "false" },
      "kafka:\n  tls:\n    ca_file: /ca.pem\n"
    )
    expect(kafka(s).tls).toBeUndefined()
  })
})
