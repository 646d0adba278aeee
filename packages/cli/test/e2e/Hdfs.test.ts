// The sample batch with its inputs and targets on HDFS (the harness's, by URI), its targets
// cleaned through Spark (`targets.store: spark-path`): the outputs equal the generator's
// answers, a rerun leaves every output once, and what lies beside the targets and outside
// the root stays. The CLI's host touches HDFS only through the Spark session.
import { describe, expect, it } from "vitest"
import { runSample, sampleBatch, topic } from "./harness.js"
import { hdfsBase, moveSample, sampleOutputs } from "./hdfs.js"

describe("the sample batch on HDFS", () => {
  it("inputs and targets as hdfs:// URIs: answers right, a rerun leaves them once, sentinels stay", async () => {
    const s = sampleBatch()
    const base = hdfsBase()
    await moveSample(s, base)
    const t = await topic("hdfs")
    for (const attempt of [1, 2]) {
      const r = await runSample(s, t)
      expect(r.code, `run ${attempt}: ${r.stderr}\n${r.stdout}`).toBe(0)
    }
    const { expected, actual } = await sampleOutputs(s, base)
    expect(actual).toEqual(expected)
  })
})
