/**
 * Kafka from a test's side: a topic made for it, and what landed on it read back by kcat, a
 * client independent of ours. A subpath of its own, so tests without Kafka never load kafkajs.
 */
import { spawnSync } from "node:child_process"

/** Creates a one-partition topic on the broker (the CLI never auto-creates one). */
export const createTopic = async (brokers: string, topic: string): Promise<void> => {
  const { Kafka, logLevel } = await import("kafkajs")
  const admin = new Kafka({ brokers: brokers.split(","), logLevel: logLevel.NOTHING }).admin()
  await admin.connect()
  try {
    await admin.createTopics({ topics: [{ topic, numPartitions: 1 }], waitForLeaders: true })
  } finally {
    await admin.disconnect()
  }
}

/** Every record of a topic, key and value as text, in order — read by kcat. */
export const readTopic = (
  brokers: string,
  topic: string
): ReadonlyArray<{ readonly key: string; readonly value: string }> => {
  const out = spawnSync(
    "kcat",
    ["-b", brokers, "-t", topic, "-C", "-e", "-q", "-o", "beginning", "-f", "%k\t%s\n"],
    { encoding: "utf8", timeout: 60_000, maxBuffer: 256 * 1024 * 1024 }
  )
  // Not started (not installed) or killed at the timeout: the cause is in `error`, not stderr.
  if (out.error !== undefined) throw new Error(`kcat did not run to its end: ${out.error.message}`)
  if (out.status !== 0)
    throw new Error(
      `kcat exited with ${String(out.status ?? out.signal)}: ${out.stderr.trim() || "(nothing on stderr)"}`
    )
  return out.stdout
    .split("\n")
    .filter((l) => l.length > 0)
    .map((l) => {
      const tab = l.indexOf("\t")
      return { key: l.slice(0, tab), value: l.slice(tab + 1) }
    })
}
