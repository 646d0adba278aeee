// `validate` and `plan` load a batch without touching anything: exit 0 with what they show, 3
// with a rejected batch's issues.
import { Option } from "effect"
import { describe, expect, it } from "vitest"
import type * as ResumePreview from "../../src/ResumePreview.js"
import * as Plan from "../../src/commands/plan.js"
import * as Validate from "../../src/commands/validate.js"
import { batchDir, cyclic, handle, twoRules } from "./support.js"

const common = (batchFile: string) => ({
  batchFile,
  params: Option.none<Record<string, string>>(),
  stateDir: Option.none<string>(),
  kafkaBrokers: Option.none<string>(),
  kafkaTopic: Option.none<string>(),
  siteConfig: Option.none<string>()
})

describe("validate", () => {
  it("a valid batch: its rules and targets counted, exit 0", async () => {
    const b = batchDir(twoRules)
    expect(await handle(Validate.handler(common(b.file)))).toEqual({
      code: 0,
      stdout: [`${b.file}: batch two_rules is valid (2 rules, 1 targets)`],
      stderr: []
    })
  })

  it("a rejected batch: its issues on stderr, exit 3", async () => {
    const r = await handle(Validate.handler(common(batchDir(cyclic).file)))
    expect(r.code).toBe(3)
    expect(r.stdout).toEqual([])
    expect(r.stderr.join("\n")).toMatch(/^batch rejected \([A-Z_]+\):\n {2}.*cycle/is)
  })
})

describe("plan", () => {
  const planFlags = (batchFile: string, format: "text" | "mermaid") => ({
    ...common(batchFile),
    format,
    resume: Option.none<ResumePreview.Request>()
  })

  it("text by default, Mermaid on request", async () => {
    const b = batchDir(twoRules)
    const text = await handle(Plan.handler(planFlags(b.file, "text")))
    expect(text).toEqual({ code: 0, stdout: ["1. load\n2. report (after load)"], stderr: [] })
    const mermaid = await handle(Plan.handler(planFlags(b.file, "mermaid")))
    expect(mermaid.stdout[0]).toMatch(/^flowchart LR\n[\s\S]*0 --> 1/)
  })

  it("a rejected batch: exit 3", async () => {
    expect((await handle(Plan.handler(planFlags(batchDir(cyclic).file, "text")))).code).toBe(3)
  })
})
