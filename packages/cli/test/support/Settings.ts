/** The parts of resolved settings that tests building them by hand do not care about. */
import { Duration, Option } from "effect"
import * as Origin from "../../src/Origin.js"
import type * as Settings from "../../src/Settings.js"

const settings: ReadonlyArray<Settings.Setting> = [
  "siteConfig",
  "remote",
  "sparkTimeout",
  "localSparkVersion",
  "stateDir",
  "logDir",
  "pluginPath",
  "kafkaBrokers",
  "kafkaTopic",
  "kafkaTls",
  "kafkaCaFile",
  "kafkaCertFile",
  "kafkaKeyFile",
  "kafkaServername",
  "kafkaSaslMechanism",
  "kafkaUsername",
  "kafkaPassword"
]

/**
 * Every setting from its default (as Settings.resolve says it): a 60 s Spark timeout, Spark 4.2.0
 * for an embedded server, no site config.
 */
export const byDefault: Pick<
  Settings.Resolved,
  "sparkTimeout" | "localSparkVersion" | "siteConfig" | "origins"
> = {
  sparkTimeout: Duration.seconds(60),
  localSparkVersion: "4.2.0",
  siteConfig: Option.none(),
  origins: {
    ...(Object.fromEntries(settings.map((s) => [s, Origin.byDefault()])) as Settings.Resolved["origins"]),
    siteConfig: Origin.byDefault("none"),
    logDir: Origin.byDefault("<state dir>/logs")
  }
}
