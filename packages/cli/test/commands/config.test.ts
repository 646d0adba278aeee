// `spark-etl config` and the site config as every command reads it: `--config`, else
// SPARK_ETL_CONFIG, else the default path when it exists; a broken or missing named file exits 3
// with file:line:column.
import { Effect, Option } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { describe, expect, it } from "vitest"
import * as SiteConfig from "../../src/SiteConfig.js"
import * as Config from "../../src/commands/config.js"
import * as Events from "../../src/commands/events.js"
import * as Outbox from "../../src/commands/outbox.js"
import * as Plan from "../../src/commands/plan.js"
import * as Run from "../../src/commands/run.js"
import * as Status from "../../src/commands/status.js"
import * as Validate from "../../src/commands/validate.js"
import { batchDir, handle, twoRules } from "./support.js"

/** A fresh folder holding `config.yaml` with `text`. */
const siteConfig = (text: string): string => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "cli-site-config-"))
  const file = path.join(dir, "config.yaml")
  fs.writeFileSync(file, text)
  return file
}

const flags = {
  siteConfig: Option.none<string>(),
  remote: Option.none<string>(),
  stateDir: Option.none<string>(),
  logDir: Option.none<string>(),
  kafkaBrokers: Option.none<string>(),
  kafkaTopic: Option.none<string>(),
  sparkTimeout: Option.none<number>(),
  localSparkVersion: Option.none<string>()
}

/** The `config` line of a setting, split into its value and origin. */
const lineOf = (stdout: ReadonlyArray<string>, name: string): string => {
  const line = stdout
    .join("\n")
    .split("\n")
    .find((l) => l.startsWith(`${name} `))
  if (line === undefined) throw new Error(`no line for ${name}`)
  return line
    .slice(name.length)
    .trim()
    .replace(/\s{2,}/g, " | ")
}

const secure = `spark:
  remote: sc://spark.example.com:15002/;token=tok3n;use_ssl=true
  timeout_seconds: 90
kafka:
  brokers: [kafka-1:9093]
  tls:
    ca_file: ca.pem
  sasl:
    mechanism: scram-sha-512
    username: etl
    password_env: SITE_KAFKA_PASSWORD
`

describe("spark-etl config", () => {
  it("each setting with its value and origin; secrets as ***", async () => {
    const file = siteConfig(secure)
    const r = await handle(
      Config.handler({ ...flags, siteConfig: Option.some(file), stateDir: Option.some("/flag/state") }),
      {
        SITE_KAFKA_PASSWORD: "pa55word",
        SPARK_ETL_KAFKA_TOPIC: "env.topic"
      }
    )
    expect(r.code).toBe(0)
    expect(r.stderr).toEqual([])
    const out = r.stdout.join("\n")
    expect(out).not.toContain("pa55word")
    expect(out).not.toContain("tok3n")
    const dir = path.dirname(file)
    expect(lineOf(r.stdout, "config")).toBe(`${file} | flag --config`)
    expect(lineOf(r.stdout, "spark.remote")).toBe(
      `sc://spark.example.com:15002/;token=***;use_ssl=true | file ${file}:2`
    )
    expect(lineOf(r.stdout, "spark.timeout_seconds")).toBe(`90 | file ${file}:3`)
    // An sc:// remote runs its own Spark: the embedded server's version is said to be unused.
    expect(lineOf(r.stdout, "spark.local_version")).toBe(
      "4.2.0 (unused: spark.remote is not local) | default"
    )
    expect(lineOf(r.stdout, "state_dir")).toBe("/flag/state | flag --state-dir")
    expect(lineOf(r.stdout, "log_dir")).toBe("/flag/state/logs | default (<state dir>/logs)")
    expect(lineOf(r.stdout, "plugin_path")).toBe("(none) | default")
    expect(lineOf(r.stdout, "kafka.brokers")).toBe(`kafka-1:9093 | file ${file}:5`)
    expect(lineOf(r.stdout, "kafka.topic")).toBe("env.topic | env SPARK_ETL_KAFKA_TOPIC")
    expect(lineOf(r.stdout, "kafka.tls.enabled")).toBe(
      "true | default (on: a TLS file or server name is given)"
    )
    expect(lineOf(r.stdout, "kafka.tls.ca_file")).toBe(`${path.join(dir, "ca.pem")} | file ${file}:7`)
    expect(lineOf(r.stdout, "kafka.tls.cert_file")).toBe("(none) | default")
    expect(lineOf(r.stdout, "kafka.sasl.mechanism")).toBe(`scram-sha-512 | file ${file}:9`)
    expect(lineOf(r.stdout, "kafka.sasl.username")).toBe(`etl | file ${file}:10`)
    expect(lineOf(r.stdout, "kafka.sasl.password")).toBe(`*** | file ${file}:11 via env SITE_KAFKA_PASSWORD`)
  })

  it("without a site config: the defaults, and the password file's path (not its content)", async () => {
    const r = await handle(Config.handler(flags), {
      KAFKA_BROKERS: "k:9092",
      SPARK_ETL_KAFKA_PASSWORD_FILE: "/run/secrets/kafka"
    })
    expect(r.code).toBe(0)
    expect(lineOf(r.stdout, "config")).toBe("(none) | default (none)")
    expect(lineOf(r.stdout, "spark.remote")).toBe("local | default")
    expect(lineOf(r.stdout, "spark.timeout_seconds")).toBe("60 | default")
    expect(lineOf(r.stdout, "spark.local_version")).toBe("4.2.0 | default")
    expect(lineOf(r.stdout, "kafka.sasl.password")).toBe(
      "*** (read from /run/secrets/kafka) | env SPARK_ETL_KAFKA_PASSWORD_FILE"
    )
  })

  it("the embedded server's Spark version: the flag, else the variable, else the site config's line", async () => {
    const file = siteConfig("spark:\n  remote: local[2]\n  local_version: 3.5.7\n")
    const withFile = { ...flags, siteConfig: Option.some(file) }
    const fromFlag = await handle(Config.handler({ ...withFile, localSparkVersion: Option.some("4.1.2") }), {
      SPARK_ETL_LOCAL_SPARK_VERSION: "4.0.1"
    })
    expect(lineOf(fromFlag.stdout, "spark.local_version")).toBe("4.1.2 | flag --local-spark-version")
    const fromEnv = await handle(Config.handler(withFile), { SPARK_ETL_LOCAL_SPARK_VERSION: "4.0.1" })
    expect(lineOf(fromEnv.stdout, "spark.local_version")).toBe("4.0.1 | env SPARK_ETL_LOCAL_SPARK_VERSION")
    const fromFile = await handle(Config.handler(withFile))
    expect(lineOf(fromFile.stdout, "spark.local_version")).toBe(`3.5.7 | file ${file}:3`)
  })

  it("a local Spark version that is not one: exit 64 naming the flag or variable, exit 3 at the file's line", async () => {
    const fromFlag = await handle(Config.handler({ ...flags, localSparkVersion: Option.some("4.2") }))
    expect(fromFlag.code).toBe(64)
    expect(fromFlag.stderr.join("\n")).toContain('flag --local-spark-version: "4.2" is not a Spark version')
    const fromEnv = await handle(Config.handler(flags), { SPARK_ETL_LOCAL_SPARK_VERSION: "v4" })
    expect(fromEnv.code).toBe(64)
    expect(fromEnv.stderr.join("\n")).toContain(
      'env SPARK_ETL_LOCAL_SPARK_VERSION: "v4" is not a Spark version'
    )
    const file = siteConfig("spark:\n  local_version: latest\n")
    const fromFile = await handle(Config.handler({ ...flags, siteConfig: Option.some(file) }))
    expect(fromFile.code).toBe(3)
    expect(fromFile.stderr.join("\n")).toContain(
      `${file}:2:18: spark.local_version: Expected a Spark version, major.minor.patch, e.g. 4.0.1`
    )
  })

  it("SPARK_ETL_CONFIG names the file when --config does not", async () => {
    const file = siteConfig("state_dir: /from/file\n")
    const r = await handle(Config.handler(flags), { SPARK_ETL_CONFIG: file })
    expect(lineOf(r.stdout, "config")).toBe(`${file} | env SPARK_ETL_CONFIG`)
    expect(lineOf(r.stdout, "state_dir")).toBe(`/from/file | file ${file}:1`)
  })

  it("the default path is read when it exists, and only then", async () => {
    const file = siteConfig("log_dir: /from/default/file\n")
    const r = await handle(Config.handler(flags).pipe(Effect.provideService(SiteConfig.DefaultPath, file)))
    expect(lineOf(r.stdout, "config")).toBe(`${file} | default`)
    expect(lineOf(r.stdout, "log_dir")).toBe(`/from/default/file | file ${file}:1`)
    const absent = path.join(path.dirname(file), "absent.yaml")
    const without = await handle(
      Config.handler(flags).pipe(Effect.provideService(SiteConfig.DefaultPath, absent))
    )
    expect(without.code).toBe(0)
    expect(lineOf(without.stdout, "config")).toBe("(none) | default (none)")
  })

  it("a broken site config: exit 3 with file:line:column, the field and what is wrong", async () => {
    const file = siteConfig("spark:\n  timeout_seconds: soon\nkafka:\n  brokres: [k:9092]\n")
    const r = await handle(Config.handler({ ...flags, siteConfig: Option.some(file) }))
    expect(r.code).toBe(3)
    expect(r.stdout).toEqual([])
    expect(r.stderr.join("\n")).toBe(
      [
        "site config rejected (SITE_CONFIG_INVALID):",
        `  ${file}:2:20: spark.timeout_seconds: Expected number`,
        `  ${file}:4:3: kafka.brokres: unknown field`
      ].join("\n")
    )
  })

  it("a site config named but missing: exit 3, naming --config or SPARK_ETL_CONFIG", async () => {
    const missing = path.join(os.tmpdir(), "no-such-dir", "site.yaml")
    const byFlag = await handle(Config.handler({ ...flags, siteConfig: Option.some(missing) }))
    expect(byFlag.code).toBe(3)
    expect(byFlag.stderr.join("\n")).toContain(
      `command line:1:1: --config: cannot read the site config ${missing}: no such file`
    )
    const byEnv = await handle(Config.handler(flags), { SPARK_ETL_CONFIG: missing })
    expect(byEnv.code).toBe(3)
    expect(byEnv.stderr.join("\n")).toContain(
      `environment:1:1: SPARK_ETL_CONFIG: cannot read the site config ${missing}`
    )
  })

  it("a variable that cannot be used: exit 64 naming it", async () => {
    const r = await handle(Config.handler(flags), { SPARK_ETL_SPARK_TIMEOUT: "soon" })
    expect(r.code).toBe(64)
    expect(r.stderr.join("\n")).toContain("SPARK_ETL_SPARK_TIMEOUT")
  })
})

describe("every command with settings reads the site config", () => {
  const broken = () => siteConfig("state_dir: [not, a, folder]\n")
  const kafkaFlags = {
    stateDir: Option.none<string>(),
    kafkaBrokers: Option.none<string>(),
    kafkaTopic: Option.none<string>()
  }

  it("a broken one refuses each: exit 3 with its line", async () => {
    const file = broken()
    const siteConfigFlag = { siteConfig: Option.some(file) }
    const b = batchDir(twoRules)
    const batch = { batchFile: b.file, params: Option.none<Record<string, string>>() }
    const handlers = [
      Validate.handler({ ...batch, ...kafkaFlags, ...siteConfigFlag }),
      Plan.handler({ ...batch, ...kafkaFlags, ...siteConfigFlag, format: "text", resume: Option.none() }),
      Run.handler({
        ...batch,
        ...kafkaFlags,
        ...siteConfigFlag,
        remote: Option.none(),
        parallelism: Option.none(),
        dryRun: false,
        resume: Option.none(),
        logDir: Option.none(),
        logFile: Option.none(),
        sparkTimeout: Option.none(),
        localSparkVersion: Option.none()
      }),
      Status.handler({
        ...kafkaFlags,
        ...siteConfigFlag,
        batchName: "two_rules",
        rules: false,
        remote: Option.none(),
        sparkTimeout: Option.none()
      }),
      Outbox.handler({ ...kafkaFlags, ...siteConfigFlag }),
      Events.checkHandler({ ...kafkaFlags, ...siteConfigFlag }),
      Events.createHandler({
        ...kafkaFlags,
        ...siteConfigFlag,
        partitions: 1,
        replicationFactor: 1,
        minInsyncReplicas: 1,
        retentionDays: 1
      })
    ]
    for (const handler of handlers) {
      const r = await handle(handler)
      expect(r.code).toBe(3)
      expect(r.stderr.join("\n")).toContain(`${file}:1:12: state_dir: Expected string`)
    }
  })

  it("run --dry-run: the Spark remote of the site config, unless the variable or the flag says otherwise", async () => {
    const file = siteConfig("spark:\n  remote: sc://site-spark:15002\n")
    const b = batchDir(twoRules)
    const dry = (remote: Option.Option<string>) =>
      Run.handler({
        batchFile: b.file,
        params: Option.none(),
        siteConfig: Option.some(file),
        remote,
        parallelism: Option.none(),
        dryRun: true,
        resume: Option.none(),
        stateDir: Option.some(path.join(b.dir, "state")),
        logDir: Option.none(),
        logFile: Option.none(),
        kafkaBrokers: Option.none(),
        kafkaTopic: Option.none(),
        sparkTimeout: Option.none(),
        localSparkVersion: Option.none()
      })
    expect((await handle(dry(Option.none()))).stdout.at(-1)).toBe(
      "spark: sc://site-spark:15002 (not contacted)"
    )
    expect((await handle(dry(Option.none()), { SPARK_REMOTE: "sc://env-spark:15002" })).stdout.at(-1)).toBe(
      "spark: sc://env-spark:15002 (not contacted)"
    )
    expect((await handle(dry(Option.some("local")))).stdout.at(-1)).toBe("spark: local (not contacted)")
  })

  it("a malformed remote from the site config: exit 3 at its line, without the token", async () => {
    const file = siteConfig("spark:\n  remote: sc://spark:15002/;token=s3cr3t;use_ssl=false\n")
    const r = await handle(
      Status.handler({
        siteConfig: Option.some(file),
        batchName: "b",
        rules: false,
        stateDir: Option.some(path.join(path.dirname(file), "state")),
        remote: Option.none(),
        kafkaBrokers: Option.none(),
        kafkaTopic: Option.none(),
        sparkTimeout: Option.none()
      })
    )
    expect(r.code).toBe(3)
    expect(r.stderr.join("\n")).toContain(`${file}:2:11: spark.remote (token)`)
    expect(r.stderr.join("\n")).not.toContain("s3cr3t")
  })

  it("run: the site config's Spark timeout is the deadline of connecting (Spark unreachable: exit 2 within it)", async () => {
    // Nothing listens on port 1: every connection is refused, and retried until the deadline
    // (60 s by default) is spent.
    const file = siteConfig("spark:\n  remote: sc://127.0.0.1:1\n  timeout_seconds: 2\n")
    const b = batchDir(twoRules)
    const started = Date.now()
    const r = await handle(
      Run.handler({
        batchFile: b.file,
        params: Option.none(),
        siteConfig: Option.some(file),
        remote: Option.none(),
        parallelism: Option.none(),
        dryRun: false,
        resume: Option.none(),
        stateDir: Option.some(path.join(b.dir, "state")),
        logDir: Option.none(),
        logFile: Option.none(),
        kafkaBrokers: Option.none(),
        kafkaTopic: Option.none(),
        sparkTimeout: Option.none(),
        localSparkVersion: Option.none()
      })
    )
    expect(r.code, r.stderr.join("\n")).toBe(2)
    expect(r.stdout.at(-1)).toMatch(/spark-etl FAILED batch=two_rules .*exit=2 category=system/)
    expect(Date.now() - started).toBeLessThan(20_000)
  })

  it("validate: the plugin path of the site config is where plugins are looked for", async () => {
    const b = batchDir(`batch: with_plugin
plugins: [spark-etl-plugin-nowhere]
rules:
  - id: a
    kind: sql
    options: { sql: SELECT 1 }
`)
    const file = siteConfig("plugin_path: [plugins-here]\n")
    const r = await handle(
      Validate.handler({
        batchFile: b.file,
        params: Option.none(),
        siteConfig: Option.some(file),
        stateDir: Option.none(),
        kafkaBrokers: Option.none(),
        kafkaTopic: Option.none()
      })
    )
    expect(r.code).toBe(3)
    expect(r.stderr.join("\n")).toContain(path.join(path.dirname(file), "plugins-here"))
  })
})
