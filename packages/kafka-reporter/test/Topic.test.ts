// How a topic's state is judged as the reporter writes (idempotent, acks=all): each reason a
// send would fail, said with the partitions it concerns.
import { describe, expect, it } from "vitest"
import * as Topic from "../src/Topic.js"

const partition = (partition: number, leader: number, inSync: number) => ({
  partition,
  leader,
  replicas: 3,
  inSync
})

describe("Topic.judge", () => {
  it("a healthy topic: its shape, no problem", () => {
    const found = Topic.judge("events", {
      partitions: [partition(0, 1, 3), partition(1, 2, 2)],
      config: { "min.insync.replicas": "2", "retention.ms": "1209600000" }
    })
    expect(found).toMatchObject({
      exists: true,
      partitions: 2,
      replicationFactor: 3,
      minInsyncReplicas: 2,
      retentionMs: 1209600000
    })
    expect(found.problems).toEqual([])
  })

  it("partitions without a leader, and short of in-sync replicas, are named", () => {
    const found = Topic.judge("events", {
      partitions: [partition(0, -1, 0), partition(1, 2, 1), partition(2, 3, 3)],
      config: { "min.insync.replicas": "2" }
    })
    expect(found.problems).toEqual([
      "partition(s) 0 have no leader",
      "partition(s) 0, 1 have fewer in-sync replicas than min.insync.replicas 2: every send would fail (NOT_ENOUGH_REPLICAS)"
    ])
  })
})
