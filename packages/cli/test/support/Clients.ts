/**
 * Plain helpers for everything that drives the CLI from outside — the e2e tests, the soak and
 * the fault benchmark. No vitest in here, so a benchmark run by plain node can use them too.
 */
import { spawnSync } from "node:child_process"

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))

/** Polls `check` every 50 ms until it holds or `ms` passed; its last answer. */
export const waitFor = async (check: () => boolean, ms: number): Promise<boolean> => {
  const deadline = Date.now() + ms
  while (Date.now() < deadline) {
    if (check()) return true
    await sleep(50)
  }
  return check()
}

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

/** Every record of a topic, key and value as text, in order — read by kcat, an independent client. */
export const readTopic = (
  brokers: string,
  topic: string
): ReadonlyArray<{ readonly key: string; readonly value: string }> => {
  const out = spawnSync(
    "kcat",
    ["-b", brokers, "-t", topic, "-C", "-e", "-q", "-o", "beginning", "-f", "%k\t%s\n"],
    { encoding: "utf8", timeout: 60_000, maxBuffer: 256 * 1024 * 1024 }
  )
  if (out.status !== 0) throw new Error(`kcat failed (${String(out.status)}): ${out.stderr}`)
  return out.stdout
    .split("\n")
    .filter((l) => l.length > 0)
    .map((l) => {
      const tab = l.indexOf("\t")
      return { key: l.slice(0, tab), value: l.slice(tab + 1) }
    })
}

/** Polls an async `check` every 250 ms until it holds or `ms` passed; its last answer. */
export const eventually = async (check: () => Promise<boolean>, ms: number): Promise<boolean> => {
  const deadline = Date.now() + ms
  while (Date.now() < deadline) {
    if (await check()) return true
    await sleep(250)
  }
  return check()
}

/** `promise`, or a rejection naming `what` once `ms` passed (so a `finally` still runs). */
export const within = <A>(promise: Promise<A>, ms: number, what: string): Promise<A> => {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: not within ${ms} ms`)), ms)
  })
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer))
}
