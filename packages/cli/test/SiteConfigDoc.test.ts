// docs/site-config.md is what an operator copies: its example must decode, every variable the
// CLI reads must be in its table, and its `spark-etl config` output must be what the command
// prints for that example.
import { Effect, Option } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { describe, expect, it } from "vitest"
import * as Settings from "../src/Settings.js"
import * as SiteConfig from "../src/SiteConfig.js"
import * as Config from "../src/commands/config.js"
import { handle } from "./commands/support.js"

const doc = fs.readFileSync(
  path.resolve(import.meta.dirname, "..", "..", "..", "docs", "site-config.md"),
  "utf8"
)

/** The doc's first YAML block: the full example. */
const example = /```yaml\n([\s\S]*?)```/.exec(doc)![1]!
const shownPath = "/etc/spark-etl/config.yaml"

/** A `config` line with its columns told apart, whatever their widths. */
const columns = (line: string) => line.trim().split(/\s{2,}/)

describe("docs/site-config.md", () => {
  it("its example decodes", () => {
    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "site-config-doc-")), "config.yaml")
    fs.writeFileSync(file, example)
    expect(SiteConfig.decode(example, file, { _tag: "Default" })._tag).toBe("Success")
  })

  it("names every variable spark-etl reads for its settings", () => {
    for (const variable of [...Object.values(Settings.variables), SiteConfig.variable])
      expect(doc, variable).toContain(`\`${variable}\``)
  })

  it("shows what `spark-etl config` prints for the example", async () => {
    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "site-config-doc-")), "config.yaml")
    fs.writeFileSync(file, example)
    const command = "$ SPARK_ETL_KAFKA_TOPIC=etl.test spark-etl config --state-dir /tmp/etl\n"
    const from = doc.indexOf(command) + command.length
    const shown = doc.slice(from, doc.indexOf("```", from))
    const r = await handle(
      Config.handler({
        siteConfig: Option.none(),
        remote: Option.none(),
        stateDir: Option.some("/tmp/etl"),
        logDir: Option.none(),
        kafkaBrokers: Option.none(),
        kafkaTopic: Option.none(),
        sparkTimeout: Option.none(),
        localSparkVersion: Option.none()
      }).pipe(Effect.provideService(SiteConfig.DefaultPath, file)),
      { SPARK_ETL_KAFKA_TOPIC: "etl.test" }
    )
    expect(r.code).toBe(0)
    const printed = r.stdout.join("\n").replaceAll(file, shownPath).split("\n").map(columns)
    expect(printed).toEqual(shown.trim().split("\n").map(columns))
  })
})
