// The path store's lexical check: URIs parsed strictly, a corpus of hostile paths refused with
// the reason, targets strictly below a root of the same filesystem and never overlapping.
import { Effect, Result } from "effect"
import { describe, expect, it } from "vitest"
import * as SparkPathStore from "../src/SparkPathStore.js"
import * as Uri from "../src/internal/uri.js"

const check = (roots: ReadonlyArray<string>, targets: ReadonlyArray<string>) =>
  Effect.runSync(
    Effect.result(
      SparkPathStore.check({ roots, targets: targets.map((declared, i) => ({ ruleId: `r${i}`, declared })) })
    )
  )
const rejected = (roots: ReadonlyArray<string>, targets: ReadonlyArray<string>) => {
  const result = check(roots, targets)
  return Result.isFailure(result) ? result.failure.map((r) => r.message) : []
}

const root = "hdfs://nn:8020/data/sales"

describe("SparkPathStore.check", () => {
  it("accepts targets below the roots, each filesystem's way, and gives canonical locations", () => {
    const result = check(
      [root, "s3a://bucket/etl", "/warehouse/out", "file:/tmp/etl", "abfss://c@acct.dfs.core.windows.net/x"],
      [
        "HDFS://NN:8020/data/sales/daily",
        "s3a://bucket/etl/orders/2026",
        "/warehouse/out/totals/",
        "file:///tmp/etl/a",
        "abfss://c@acct.dfs.core.windows.net/x/y"
      ]
    )
    expect(Result.isSuccess(result) && result.success.targets.map((t) => t.location)).toEqual([
      "hdfs://nn:8020/data/sales/daily",
      "s3a://bucket/etl/orders/2026",
      "/warehouse/out/totals",
      "file:///tmp/etl/a",
      "abfss://c@acct.dfs.core.windows.net/x/y"
    ])
  })

  it.each([
    ["hdfs://nn:8020/data/sales/../hr", 'holds a "." or ".." segment'],
    ["hdfs://nn:8020/data/sales/./x/..", 'holds a "." or ".." segment'],
    ["hdfs://nn:8020/data/sales/%2e%2e/hr", "holds percent-encoding"],
    ["hdfs://nn:8020/data/sales/a%2Fb", "holds percent-encoding"],
    ["hdfs://nn:8020/data/sales\\..\\hr", "holds a backslash"],
    ["hdfs://nn:8020/data/sales//x", 'holds an empty segment ("//")'],
    ["hdfs://nn:8020/data/sales/x?y=1", "holds a query or a fragment"],
    ["hdfs://nn:8020/data/sales/x#frag", "holds a query or a fragment"],
    ["hdfs://user@nn:8020/data/sales/x", "holds user information"],
    ["hdfs://nn:8020/data/sales/x\u0000y", "holds a blank or a control character"],
    ["hdfs://nn:8020/data/sales/x y", "holds a blank or a control character"],
    [" hdfs://nn:8020/data/sales/x", "leading or trailing blanks"],
    ["data/sales/x", "is not absolute"],
    ["hdfs:data/sales/x", "is not absolute"],
    ["hdfs://nn:8020/data/salesman/x", "is not below the declared target roots"],
    ["hdfs://nn:9000/data/sales/x", "is not below the declared target roots"],
    ["hdfs://other:8020/data/sales/x", "is not below the declared target roots"],
    ["s3a://nn:8020/data/sales/x", "is not below the declared target roots"],
    ["/data/sales/x", "is not below the declared target roots"],
    ["hdfs://nn:8020/data/sales", "is a target root itself"],
    ["hdfs://nn:8020/data/sales/", "is a target root itself"],
    ["hdfs://nn:8020/data", "is not below the declared target roots"]
  ])("refuses the target %j", (target, reason) => {
    const messages = rejected([root], [target])
    expect(messages).toHaveLength(1)
    expect(messages[0]).toContain(reason)
  })

  it("refuses roots at a filesystem's root or not parseable, each at its index", () => {
    const result = check(["hdfs://nn:8020/", "s3a://bucket", "/", "rel/dir", "hdfs://nn/a/../b"], [])
    expect(Result.isFailure(result) && result.failure.map((r) => [r.at, r.message])).toEqual([
      [
        { _tag: "Root", index: 0 },
        'target root "hdfs://nn:8020/" is the root of its filesystem; give a directory below it'
      ],
      [
        { _tag: "Root", index: 1 },
        'target root "s3a://bucket" is the root of its filesystem; give a directory below it'
      ],
      [
        { _tag: "Root", index: 2 },
        'target root "/" is the root of its filesystem; give a directory below it'
      ],
      [
        { _tag: "Root", index: 3 },
        'target root "rel/dir" is not absolute (a URI with a path from its root, or /a/path)'
      ],
      [{ _tag: "Root", index: 4 }, 'target root "hdfs://nn/a/../b" holds a "." or ".." segment']
    ])
  })

  it("refuses the same target twice, and targets one inside the other", () => {
    expect(rejected([root], [`${root}/a`, "hdfs://NN:8020/data/sales/a/"])).toEqual([
      `target "hdfs://NN:8020/data/sales/a/" is also the target of rule "r0"`
    ])
    expect(rejected([root], [`${root}/a`, `${root}/a/b`])).toEqual([
      `target "${root}/a/b" and the target of rule "r0" lie one inside the other; targets must not overlap`
    ])
    expect(rejected([root], [`${root}/a/b`, `${root}/a`])).toEqual([
      `target "${root}/a" and the target of rule "r0" lie one inside the other; targets must not overlap`
    ])
  })

  it("Uri.parse keeps scheme and authority apart from the path, lower-cased", () => {
    expect(Uri.parse("S3A://Bucket/Key/Part")).toEqual({
      scheme: "s3a",
      authority: "bucket",
      segments: ["Key", "Part"]
    })
    expect(Uri.parse("file:/tmp/x")).toEqual({ scheme: "file", authority: "", segments: ["tmp", "x"] })
    expect(Uri.format({ scheme: "file", authority: "", segments: ["tmp", "x"] })).toBe("file:///tmp/x")
  })
})
