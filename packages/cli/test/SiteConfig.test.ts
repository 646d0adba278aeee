// The site config is decoded with a Schema; what it cannot take is refused with file:line:column
// and the field, an unknown key at its own position, and the password never in it.
import { Failure } from "@spark-etl/core"
import { Result } from "effect"
import { describe, expect, it } from "vitest"
import * as Origin from "../src/Origin.js"
import * as SiteConfig from "../src/SiteConfig.js"

const file = "/etc/spark-etl/config.yaml"

const decode = (text: string) => SiteConfig.decode(text, file, Origin.flag("--config"))

/** The issues of a refused file, as spark-etl prints them. */
const refusal = (text: string): ReadonlyArray<string> => {
  const decoded = decode(text)
  if (Result.isSuccess(decoded)) throw new Error("expected a refusal")
  expect(decoded.failure.code).toBe("SITE_CONFIG_INVALID")
  return decoded.failure.issues.map(Failure.formatIssue)
}

const fullExample = `# The site config of a host: what every job here shares.
spark:
  remote: sc://spark.example.com:15002/;use_ssl=true
  timeout_seconds: 120
state_dir: /srv/spark-etl/state
log_dir: /var/log/spark-etl
plugin_path: [/opt/spark-etl/plugins, /opt/spark-etl/more-plugins]
kafka:
  brokers:
    - kafka-1.example.com:9093
    - kafka-2.example.com:9093
  topic: etl.events
  tls:
    ca_file: /etc/pki/kafka/ca.pem
    cert_file: /etc/pki/kafka/client.pem
    key_file: /etc/pki/kafka/client.key
    servername: kafka.example.com
  sasl:
    mechanism: scram-sha-512
    username: spark-etl
    password_file: /etc/spark-etl/kafka.password # readable by the job's user only
`

describe("SiteConfig.decode", () => {
  it("takes the full example, each value with its line", () => {
    const loaded = Result.getOrThrow(decode(fullExample))
    expect(loaded.values).toEqual({
      spark: { remote: "sc://spark.example.com:15002/;use_ssl=true", timeout_seconds: 120 },
      state_dir: "/srv/spark-etl/state",
      log_dir: "/var/log/spark-etl",
      plugin_path: ["/opt/spark-etl/plugins", "/opt/spark-etl/more-plugins"],
      kafka: {
        brokers: ["kafka-1.example.com:9093", "kafka-2.example.com:9093"],
        topic: "etl.events",
        tls: {
          ca_file: "/etc/pki/kafka/ca.pem",
          cert_file: "/etc/pki/kafka/client.pem",
          key_file: "/etc/pki/kafka/client.key",
          servername: "kafka.example.com"
        },
        sasl: {
          mechanism: "scram-sha-512",
          username: "spark-etl",
          password_file: "/etc/spark-etl/kafka.password"
        }
      }
    })
    expect(loaded.origins(["spark", "timeout_seconds"])).toEqual({
      _tag: "File",
      file,
      line: 4,
      column: 20,
      field: "spark.timeout_seconds"
    })
    expect(loaded.origins(["kafka", "sasl", "password_file"])).toMatchObject({ line: 21, column: 20 })
  })

  it("the local Spark version, in the spark section next to the remote", () => {
    const loaded = Result.getOrThrow(decode("spark:\n  remote: local[2]\n  local_version: 4.0.1\n"))
    expect(loaded.values).toEqual({ spark: { remote: "local[2]", local_version: "4.0.1" } })
    expect(loaded.origins(["spark", "local_version"])).toMatchObject({
      line: 3,
      field: "spark.local_version"
    })
  })

  it("an empty file, or one of comments only, is an empty site config", () => {
    expect(Result.getOrThrow(decode("")).values).toEqual({})
    expect(Result.getOrThrow(decode("# nothing here yet\n\n")).values).toEqual({})
  })

  it("quoted values, flow lists, a list at its key's indentation, comments after values", () => {
    const loaded = Result.getOrThrow(
      decode(`---
state_dir: "/srv/with # hash"   # a comment
log_dir: '/var/log/it''s'
kafka:
  brokers: ["k1:9092", 'k2:9092', k3:9092]
plugin_path:
- /a
- /b
`)
    )
    expect(loaded.values).toEqual({
      state_dir: "/srv/with # hash",
      log_dir: "/var/log/it's",
      kafka: { brokers: ["k1:9092", "k2:9092", "k3:9092"] },
      plugin_path: ["/a", "/b"]
    })
  })
})

describe("a site config that cannot be used: file:line:column, the field, what is wrong", () => {
  it("a value of the wrong type", () => {
    expect(refusal("spark:\n  timeout_seconds: soon\n")).toEqual([
      `${file}:2:20: spark.timeout_seconds: Expected number`
    ])
    expect(refusal("spark:\n  timeout_seconds: 0\n")[0]).toMatch(
      /^\/etc\/spark-etl\/config\.yaml:2:20: spark\.timeout_seconds: Expected a value greater than 0/
    )
  })

  it("a local Spark version that is not major.minor.patch", () => {
    expect(refusal("spark:\n  local_version: 4.0.x\n")).toEqual([
      `${file}:2:18: spark.local_version: Expected a Spark version, major.minor.patch, e.g. 4.0.1`
    ])
    // Unquoted, 4.0 is a YAML number.
    expect(refusal("spark:\n  local_version: 4.0\n")).toEqual([
      `${file}:2:18: spark.local_version: Expected string`
    ])
  })

  it("an unknown key, at the key", () => {
    expect(refusal("state_dir: /s\nkafka:\n  brokers: [k:9092]\n  tpoic: x\n")).toEqual([
      `${file}:4:3: kafka.tpoic: unknown field`
    ])
  })

  it("every problem at once, in the file's order", () => {
    expect(refusal("kafka:\n  brokers: [kafka-1]\n  sasl:\n    mechanism: md5\nsparkk: {}\n")).toEqual([
      `${file}:2:13: kafka.brokers[0]: Expected a broker as host:port, e.g. kafka-1:9092`,
      `${file}:4:16: kafka.sasl.mechanism: Expected "plain" | "scram-sha-256" | "scram-sha-512"`,
      `${file}:5:1: sparkk: unknown field`
    ])
  })

  it("YAML it cannot read: the syntax problem at its place (as a batch file's, through core's reader)", () => {
    expect(refusal("kafka:\n  topic: [a, b\n")).toEqual([
      `${file}:3:1: (syntax): Flow sequence in block collection must be sufficiently indented and end with a ]`
    ])
    expect(refusal("state_dir: /a\n\tlog_dir: /b\n")).toEqual([
      `${file}:2:1: (syntax): Tabs are not allowed as indentation`
    ])
    expect(refusal("state_dir: /a\nstate_dir: /b\n")).toEqual([
      `${file}:2:1: (syntax): Map keys must be unique`
    ])
  })

  it("a document that is no mapping", () => {
    expect(refusal("just text\n")).toEqual([`${file}:1:1: (document): Expected object`])
  })

  it("the password itself: refused, pointing to password_env and password_file, never echoed", () => {
    const issues = refusal("kafka:\n  sasl:\n    username: u\n    password: hunter2\n")
    expect(issues).toEqual([
      `${file}:4:5: kafka.sasl.password: the password never goes in the site config: give password_env (a variable's name) or password_file`
    ])
    expect(issues.join("\n")).not.toContain("hunter2")
  })

  it("password_env and password_file together", () => {
    expect(refusal("kafka:\n  sasl:\n    password_env: KAFKA_PW\n    password_file: /etc/pw\n")).toEqual([
      `${file}:4:5: kafka.sasl.password_file: give password_env or password_file, not both`
    ])
  })
})
